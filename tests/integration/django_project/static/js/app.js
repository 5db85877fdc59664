console.log("objstore");
