"""Compatibility layers: the APIs of the systems objstore replaces, built on objstore's adapters.

Each is an optional extra; an application switches by changing its imports only.

- :mod:`objstore.compat.abi`: ``naas_abi_core.services.object_storage`` (extra ``abi``).
"""
