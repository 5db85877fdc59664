"""Integrations with the tools objstore's users already run, each an optional extra:

* :mod:`objstore.contrib.django`: a Django storage backend (``objstore[django]``);
* :mod:`objstore.contrib.chris`: ChRIS's ``StorageManager`` on any store;
* :mod:`objstore.contrib.fsspec`: an fsspec filesystem for pandas, pyarrow and Dask (``objstore[fsspec]``).
"""
