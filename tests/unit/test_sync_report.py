"""What a sync leaves and what its report says: keep-both on both sides in one run, actions named in the user's
terms (plan lines, counts and JSON alike), plurals, and stores shown by their location rather than a repr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import objstore
from objstore import ObjectStorageFactory, ObjectStorageService
from objstore.adapters.filesystem import FilesystemAdapter
from objstore.adapters.layers import LoggingAdapter, RetryingAdapter
from objstore.adapters.memory import MemoryAdapter
from objstore.adapters.s3 import S3Adapter, S3Config
from objstore.ports.storage import ForwardingAdapter, SeedAdapter
from objstore.syncing.local import Filters
from objstore.syncing.report import SyncReport, plural
from objstore.syncing.sides import StoreSide


def pair(kind: str, tmp_path: Path) -> tuple[ObjectStorageService, ObjectStorageService]:
    if kind == "memory":
        return ObjectStorageService(MemoryAdapter()), ObjectStorageService(MemoryAdapter())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ObjectStorageService(FilesystemAdapter(tmp_path / "a"))
    return a, ObjectStorageService(FilesystemAdapter(tmp_path / "b"))


def everything(store: ObjectStorageService) -> dict[str, bytes]:
    return {info.key: store.get_object("", info.key) for info in store.iter_objects("")}


# --- keep-both: both versions on both sides after one run -----------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "file"])
@pytest.mark.parametrize("key", ["doc.txt", "notes", "dir/sub/notes", "dir/z.md"])
def test_keep_both_leaves_both_versions_on_both_sides_in_one_run(kind: str, key: str, tmp_path: Path) -> None:
    a, b = pair(kind, tmp_path)
    state = tmp_path / "state.sqlite"
    a.put_object("", key, b"v1")
    a.put_object("", "other.txt", b"untouched")
    first = objstore.sync(a, b, two_way=True, state_path=state)
    assert first.ok, first.summary()
    a.put_object("", key, b"edited on a")
    b.put_object("", key, b"edited on b, longer")
    report = objstore.sync(a, b, two_way=True, conflict="keep-both", state_path=state)
    assert report.ok, report.summary()
    assert not report.conflicts
    on_a, on_b = everything(a), everything(b)
    assert on_a == on_b, report.summary()
    assert on_a[key] == b"edited on a"
    aside = [name for name in on_a if name not in (key, "other.txt")]
    assert len(aside) == 1, on_a
    assert ".conflict-" in aside[0]
    assert on_a[aside[0]] == b"edited on b, longer"
    again = objstore.sync(a, b, two_way=True, conflict="keep-both", state_path=state)
    assert again.ok, again.summary()
    assert set(again.counts) == {"skip"}, again.summary()
    assert again.bytes_transferred == 0
    assert everything(a) == everything(b) == on_a


def test_keep_both_dry_run_names_the_conflict_copy_and_changes_nothing(tmp_path: Path) -> None:
    a, b = pair("memory", tmp_path)
    state = tmp_path / "state.sqlite"
    a.put_object("", "doc.txt", b"v1")
    objstore.sync(a, b, two_way=True, state_path=state)
    a.put_object("", "doc.txt", b"edited on a")
    b.put_object("", "doc.txt", b"edited on b")
    plan = objstore.sync(a, b, two_way=True, conflict="keep-both", state_path=state, dry_run=True)
    lines = list(plan.plan_lines())
    assert [label for label, _, _ in lines] == ["copy B->A", "copy A->B"]
    assert "doc.conflict-" in lines[0][2]
    assert everything(a) == {"doc.txt": b"edited on a"}
    assert everything(b) == {"doc.txt": b"edited on b"}


# --- labels: what the user sees names what happens ------------------------------------------------------------


def folder_with(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in names:
        (folder / name).write_text(name)
    return folder


def labels_of(report: SyncReport) -> list[str]:
    return [label for label, _, _ in report.plan_lines()]


def test_a_pull_plan_says_download_in_its_lines_counts_and_json(tmp_path: Path) -> None:
    store = ObjectStorageService(MemoryAdapter())
    store.push(folder_with(tmp_path, "one.txt", "two.txt"), state_dir=tmp_path / "states")
    (tmp_path / "restored").mkdir()
    plan = store.pull("", tmp_path / "restored", dry_run=True, state_dir=tmp_path / "states")
    assert labels_of(plan) == ["download", "download"]
    assert plan.counts == {"download": 2}
    assert [entry["action"] for entry in plan.to_dict()["plan"]] == ["download", "download"]
    assert "2 downloads (would be)" in plan.summary()
    done = store.pull("", tmp_path / "restored", state_dir=tmp_path / "states")
    assert done.counts == {"download": 2}


def test_a_push_plan_says_upload(tmp_path: Path) -> None:
    store = ObjectStorageService(MemoryAdapter())
    plan = store.push(folder_with(tmp_path, "one.txt"), dry_run=True, state_dir=tmp_path / "states")
    assert labels_of(plan) == ["upload"]
    assert plan.counts == {"upload": 1}
    assert [entry["action"] for entry in plan.to_dict()["plan"]] == ["upload"]
    assert "1 upload (would be)" in plan.summary()


def test_a_store_to_store_plan_says_copy(tmp_path: Path) -> None:
    a, b = pair("memory", tmp_path)
    a.put_object("", "one.txt", b"1")
    a.put_object("", "two.txt", b"2")
    plan = objstore.sync(a, b, state_path=tmp_path / "state.sqlite", dry_run=True)
    assert labels_of(plan) == ["copy", "copy"]
    assert plan.counts == {"copy": 2}
    assert "2 copies (would be)" in plan.summary()


def test_a_two_way_plan_names_each_direction_as_its_counts_do(tmp_path: Path) -> None:
    a, b = pair("memory", tmp_path)
    state = tmp_path / "state.sqlite"
    for key in ("gone-on-a.txt", "gone-on-b.txt"):
        a.put_object("", key, b"synced")
    objstore.sync(a, b, two_way=True, state_path=state)
    a.put_object("", "from-a.txt", b"a")
    b.put_object("", "from-b.txt", b"b")
    a.delete_object("", "gone-on-a.txt")
    b.delete_object("", "gone-on-b.txt")
    plan = objstore.sync(a, b, two_way=True, state_path=state, dry_run=True, max_delete="100%")
    expected = {"copy A->B": 1, "copy B->A": 1, "delete on B": 1, "delete on A": 1}
    assert sorted(labels_of(plan)) == sorted(expected)
    assert plan.counts == expected
    assert sorted(entry["action"] for entry in plan.to_dict()["plan"]) == sorted(expected)
    assert "upload" not in plan.summary()
    assert "delete-source" not in plan.summary()
    done = objstore.sync(a, b, two_way=True, state_path=state, max_delete="100%")
    assert done.ok, done.summary()
    assert done.counts == expected
    assert "1 copy A->B, 1 copy B->A, 1 delete on B, 1 delete on A" in done.summary()


# --- plurals --------------------------------------------------------------------------------------------------


def test_plural() -> None:
    assert plural(1, "file") == "1 file"
    assert plural(2, "file") == "2 files"
    assert plural(0, "file") == "0 files"
    assert plural(2, "copy") == "2 copies"
    assert plural(1, "copy") == "1 copy"
    assert plural(3, "copy A->B") == "3 copies A->B"
    assert plural(2, "delete on A") == "2 deletes on A"
    assert plural(2, "retry") == "2 retries"
    assert plural(2, "key") == "2 keys"
    assert plural(1_234, "byte") == "1,234 bytes"


def test_a_summary_counts_in_plain_english() -> None:
    report = SyncReport("here", "there", copy_label="copy")
    report.counts = {"copy": 2, "delete": 1, "skip": 3, "conflict": 2}
    report.bytes_transferred, report.retries = 1, 1
    summary = report.summary()
    assert "here -> there: 2 copies, 1 delete, 3 skips, 2 conflicts" in summary
    assert "1 byte in" in summary
    assert "1 retry" in summary
    assert "copys" not in summary
    single = SyncReport("here", "there", counts={"upload": 1, "download": 2, "conflict": 1})
    assert "1 upload, 2 downloads, 1 conflict" in single.summary()


# --- stores by location -------------------------------------------------------------------------------------


def test_every_local_adapter_has_a_url_like_location(tmp_path: Path) -> None:
    assert FilesystemAdapter(tmp_path).location == Path(os.path.realpath(tmp_path)).as_uri()
    assert FilesystemAdapter(tmp_path).location.startswith("file:///")
    assert MemoryAdapter().location == "memory://"


def s3(bucket: str, base_prefix: str, endpoint_url: str | None = None) -> S3Adapter:
    """An S3 adapter, never connected (made with keys, so no credential chain is asked)."""
    config = S3Config(
        bucket=bucket,
        base_prefix=base_prefix,
        endpoint_url=endpoint_url,
        access_key_id="AKIDEXAMPLE",
        secret_access_key="very-secret",
        region_name="us-east-1",
    )
    return S3Adapter(config)


def test_an_s3_location_names_a_custom_endpoint_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    assert s3("b", "p/q").location == "s3://b/p/q"
    assert s3("b", "").location == "s3://b"
    custom = s3("b", "p", "http://u:pw@127.0.0.1:8333/?sig=x")
    assert custom.location == "s3://b/p at http://127.0.0.1:8333"
    assert "very-secret" not in custom.location
    assert "pw" not in custom.location


def test_the_port_defaults_to_the_repr_and_wrappers_to_what_they_wrap(tmp_path: Path) -> None:
    class Seeded(SeedAdapter):
        def get_object(self, prefix: str, key: str) -> bytes:
            raise NotImplementedError

        def put_object(self, prefix: str, key: str, content: bytes) -> None:  # type: ignore[override]
            raise NotImplementedError

        def delete_object(self, prefix: str, key: str) -> None:
            raise NotImplementedError

        def list_objects(self, prefix: str) -> list[str]:
            return []

    assert Seeded().location == repr(Seeded())
    assert ForwardingAdapter(MemoryAdapter()).location == "memory://"


def test_the_service_shows_the_innermost_location_and_keeps_its_identity(tmp_path: Path) -> None:
    inner = FilesystemAdapter(tmp_path)
    layered = ObjectStorageService(LoggingAdapter(RetryingAdapter(inner)))
    assert layered.location == inner.location
    assert layered.store_identity == repr(inner)  # sync state is keyed on it: unchanged
    from_url = ObjectStorageFactory.from_url(f"file://{tmp_path}", retry_attempts=3)
    assert from_url.location == inner.location


def test_a_report_names_its_sides_by_location(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "one.txt", "two.txt")
    (tmp_path / "store").mkdir()
    store = ObjectStorageService(FilesystemAdapter(tmp_path / "store"))
    report = store.push(folder, "sub/dir", state_dir=tmp_path / "states")
    where = store.location + "/sub/dir"
    assert (report.source, report.destination) == (str(folder.resolve()), where)
    summary = report.summary()
    assert summary.startswith(f"{folder.resolve()} -> {where}: 2 uploads")
    assert "Adapter(" not in summary
    assert "Adapter(" not in report.to_json()


def test_a_store_folder_is_shown_inside_the_store_url() -> None:
    memory = ObjectStorageService(MemoryAdapter())
    assert StoreSide(memory, "x/y", Filters()).label == "memory://x/y"
    assert StoreSide(memory, "", Filters()).label == "memory://"
    bucket = ObjectStorageService(s3("b", "p", "http://h:1"))
    assert StoreSide(bucket, "sub", Filters()).label == "s3://b/p/sub at http://h:1"
