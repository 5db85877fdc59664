package objstore.testgateway;

import py4j.GatewayServer;

/** Starts a py4j gateway on 127.0.0.1:<port> storing Altastata files under <data dir>. */
public class Main {
    public static void main(String[] args) {
        int port = Integer.parseInt(args[0]);
        System.setProperty("altastata.data", args[1]);
        GatewayServer server = new GatewayServer(null, port);
        server.start();
        System.out.println("gateway ready on " + port);
    }
}
