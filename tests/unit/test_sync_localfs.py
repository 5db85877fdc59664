"""What the folder store and a sync's local folder share: which temporary files a killed writer left."""

from __future__ import annotations

import os

from objstore.adapters.localfs import abandoned, process_alive

GONE = 2**22 + 7  # above the kernel's pid limit: certainly not running


def test_a_temporary_file_is_abandoned_only_when_its_writer_is_gone() -> None:
    assert abandoned(f"{GONE}-0123abcd")
    assert not abandoned(f"{os.getpid()}-0123abcd")  # this process is writing it
    assert process_alive(1)  # another user's process (init) counts as running: its files are left alone
    assert not abandoned("1-0123abcd")


def test_a_name_that_names_no_process_is_never_taken_for_a_leftover() -> None:
    for name in ("lock", "abc-123", "-123", "\u00b2-123", "\u0663-123", ""):
        assert not abandoned(name), name
