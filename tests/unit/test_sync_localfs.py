"""What the folder store and a sync's local folder share: the confined walk, the atomic write, the scan, and which
temporary files a killed writer left."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from objstore.adapters.localfs import (
    RESERVED,
    TEMPORARY,
    ConfinedRoot,
    FileInTheWay,
    FolderScan,
    LinkInTheWay,
    abandoned,
    process_alive,
    remove_if_abandoned,
)

GONE = 2**22 + 7  # above the kernel's pid limit: certainly not running


def test_a_temporary_file_is_abandoned_only_when_its_writer_is_gone() -> None:
    assert abandoned(f"{GONE}-0123abcd")
    assert not abandoned(f"{os.getpid()}-0123abcd")  # this process is writing it
    assert process_alive(1)  # another user's process (init) counts as running: its files are left alone
    assert not abandoned("1-0123abcd")


def test_a_name_that_names_no_process_is_never_taken_for_a_leftover() -> None:
    for name in ("lock", "abc-123", "-123", "\u00b2-123", "\u0663-123", ""):
        assert not abandoned(name), name


def test_the_confined_walk_refuses_links_and_files_on_the_way(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "real").mkdir(parents=True)
    outside.mkdir()
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "in").symlink_to(root / "real", target_is_directory=True)
    (root / "file").write_bytes(b"f")
    confined = ConfinedRoot(root)

    def write(key: str) -> None:
        with confined.stage(key) as stage:
            stage.write(io.BytesIO(b"pwned"))
            stage.replace()

    for key in ("out/x", "out/sub/x", "in/x", "real/../out/x"):
        with pytest.raises(LinkInTheWay):
            write(key)
    with pytest.raises(FileInTheWay) as caught, confined.stage("file/x"):
        pass
    assert caught.value.blocking == "file"
    with pytest.raises(LinkInTheWay):
        confined.remove("in/anything")
    assert list(outside.iterdir()) == []
    assert list((root / "real").iterdir()) == []


def test_a_stage_writes_beside_the_target_or_in_a_given_folder_and_leaves_no_temporary(tmp_path: Path) -> None:
    confined = ConfinedRoot(tmp_path)
    with confined.stage("a/b/c.txt") as stage:
        st = stage.write(io.BytesIO(b"x" * 300_000), mtime_ns=10**18)
        assert (tmp_path / "a" / "b" / stage.temp).exists()
        stage.replace()
    assert (tmp_path / "a" / "b" / "c.txt").read_bytes() == b"x" * 300_000
    assert st.st_mtime_ns == 10**18
    temporaries = tmp_path / "tmp"
    temporaries.mkdir()
    with confined.stage("a/d.txt", str(temporaries)) as stage:
        stage.write(io.BytesIO(b"y"))
        assert [p.name for p in temporaries.iterdir()] == [stage.temp]
        stage.link()
        with pytest.raises(FileExistsError):
            stage.link()  # create-only: the name is taken now
    assert list(temporaries.iterdir()) == []  # linked, then the temporary name is removed
    with confined.stage("a/never.txt") as stage:
        stage.write(io.BytesIO(b"z"))  # not committed: removed on leaving
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b", "d.txt"]
    confined.remove("a/b/c.txt")
    confined.prune("a/b/c.txt")
    assert not (tmp_path / "a" / "b").exists()
    assert (tmp_path / "a").exists()


def test_abandoned_temporaries_are_removed_whatever_their_folder(tmp_path: Path) -> None:
    names = [f"{TEMPORARY}{GONE}-x", f"{GONE}-legacy", f"{TEMPORARY}{os.getpid()}-mine", "notes-1"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    for name in names:
        remove_if_abandoned(str(tmp_path / name))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])


def test_the_shared_scan_is_in_key_order_and_leaves_out_objstores_own_names(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"")
    (tmp_path / "a-c").write_bytes(b"")
    (tmp_path / RESERVED).mkdir()
    (tmp_path / f"{TEMPORARY}{GONE}-left").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "a-c")
    (tmp_path / "bad\nname").write_bytes(b"")
    keys = [key for key, _path, _st, _is_dir in FolderScan()(str(tmp_path), "")]
    assert keys == ["a-c", "a/"]  # links skipped by default, temporaries hidden and the abandoned one removed
    assert not (tmp_path / f"{TEMPORARY}{GONE}-left").exists()
