"""The objstore command line: push, pull, sync, cp, mv, rm, ls, tree, du, cat, stat, put, check, mb, rb, share,
purge, remote, doctor.

The store comes from the command's location (a URL like ``s3://bucket/dir``, a named remote like ``backup:dir``,
see :mod:`objstore.cli.locations`) or ``--store``, else ``OBJSTORE_URL``, else the Naas settings
(``NAAS_API_KEY`` ...), else the embedded default: a local folder store in ``$OBJSTORE_HOME/store``
(``~/.local/share/objstore/store``). Credentials come only from the environment, files and the SDKs' chains:
never from the command line (a URL with a secret in it is refused).

Exit codes: see :mod:`objstore.cli.errors` (0 done; 1 failures or differences; 2 usage or configuration;
3 authentication; 130/143 interrupted; 141 output closed).
"""

from __future__ import annotations

from objstore.cli.app import main  # the commands' modules are imported as they are used

__all__ = ["main"]
