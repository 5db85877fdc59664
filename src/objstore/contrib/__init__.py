"""Integrations with the tools objstore's users already run, each an optional extra:

* :mod:`objstore.contrib.django`: a Django storage backend (``objstore[django]``);
* :mod:`objstore.contrib.chris`: ChRIS's ``StorageManager`` on any store.
"""
