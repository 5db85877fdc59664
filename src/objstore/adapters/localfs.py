"""What the folder store (``filesystem.py``) and a sync's local folder (``objstore.syncing.local``) do alike.

Both write a new file under a temporary name with the same flags (created here, never through a link), name it
``<pid>-...`` after the writing process, and remove such a file once that process no longer runs (it was killed
mid-write). The rest differs on purpose: the store follows links that stay inside its root and commits under a
lock with a metadata sidecar; a sync's local folder never goes through a link and writes beside the target.
"""

from __future__ import annotations

import os

__all__ = ["NEW_FILE", "abandoned", "process_alive"]

# A new file: created here or not at all (never an existing one, never through a link).
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (this one does; another user's process counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned(stem: str) -> bool:
    """Whether a temporary file named ``<pid>-...`` (``stem``, after any prefix) was left by a process now gone."""
    pid_text = stem.split("-", 1)[0]
    return pid_text.isascii() and pid_text.isdigit() and not process_alive(int(pid_text))
