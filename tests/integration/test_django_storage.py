"""objstore.contrib.django.ObjectStorage in a real Django project (tests/integration/django_project), on every store.

Django's settings are process-wide: the project is set up once for this module (DJANGO_SETTINGS_MODULE), and each
test points STORAGES at its own store and random prefix with ``override_settings``; Django's own
``setting_changed`` receiver then drops the cached storages (``storages``, ``default_storage``,
``staticfiles_storage``), as in Django's own test suite.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import threading
import time
import tracemalloc
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from objstore.contrib.django import ObjectStorage
from objstore.testing.conformance import require
from tests.conftest import ALTASTATA_PASSWORD, NAAS_API_KEY

MiB = 1024 * 1024
PROJECT = Path(__file__).parent / "django_project"
BACKEND = "objstore.contrib.django.ObjectStorage"
STORES = ["filesystem", "s3", "gcs", "azure", "altastata"]


@pytest.fixture(scope="module", autouse=True)
def django_project() -> None:
    """Set the test project up once: its settings, its app, and its migrations applied to an in-memory database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.django_project.settings")
    import django
    from django.apps import apps
    from django.core.management import call_command

    django.setup()
    if not apps.is_installed("tests.integration.django_project.documents"):
        pytest.fail("Django was configured before this module, without the test project (DJANGO_SETTINGS_MODULE)")
    call_command("migrate", verbosity=0)


@dataclass
class Site:
    """How one store is reached: the OPTIONS of the media and static storages, and any Django settings."""

    name: str
    media: dict[str, Any]
    static: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def configured(self, media: dict[str, Any] | None = None, static: dict[str, Any] | None = None) -> Iterator[Any]:
        """Point STORAGES at this store (with extra OPTIONS) and yield the default storage, freshly built."""
        from django.core.files.storage import storages
        from django.test import override_settings

        entries = {
            "default": {"BACKEND": BACKEND, "OPTIONS": {**self.media, **(media or {})}},
            "staticfiles": {"BACKEND": BACKEND, "OPTIONS": {"file_overwrite": True, **self.static, **(static or {})}},
        }
        with override_settings(STORAGES=entries, **self.settings):
            try:
                yield storages["default"]
            finally:
                for alias in ("default", "staticfiles"):
                    storages[alias].close()

    def clean(self) -> None:
        from django.test import override_settings

        with override_settings(**self.settings):
            for options in (self.media, self.static):
                storage = ObjectStorage(**options)
                try:
                    keys = [info.key for info in storage.service.iter_objects("")]
                    if keys:
                        storage.service.delete_objects("", keys)
                finally:
                    storage.close()


def remote_site(request: pytest.FixtureRequest, name: str, prefix: str) -> Site:
    if name == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        # Part size and concurrency bound an upload's memory (5 MiB x (2 + 1)): a memory-constrained site's OPTIONS.
        options = {
            "endpoint_url": server.endpoint_url,
            "access_key_id": server.access_key_id,
            "secret_access_key": server.secret_access_key,
            "multipart_threshold": 5 * MiB,
            "multipart_chunksize": 5 * MiB,
            "max_concurrency": 2,
            "hierarchical": True,
            "backslash_in_keys": False,
        }
        root = f"s3://{bucket}/{prefix}"
    elif name == "gcs":
        endpoint = request.getfixturevalue("gcs_server")
        options = {"endpoint": endpoint, "resumable_threshold": 4 * MiB, "chunk_size": 4 * MiB}
        root = f"gs://{request.getfixturevalue('gcs_bucket')}/{prefix}"
    else:
        options = {
            "connection_string": request.getfixturevalue("azurite"),
            "block_threshold": 4 * MiB,
            "block_size": 4 * MiB,
            "max_concurrency": 2,
        }
        root = f"az://{request.getfixturevalue('azure_container')}/{prefix}"
    return Site(name, {"url": f"{root}/media", **options}, {"url": f"{root}/static", **options})


def altastata_site(request: pytest.FixtureRequest, prefix: str) -> Site:
    """Configured as ChRIS configures Altastata: ALTAS_CONTAINER_NAME and ALTAS_CONNECTION_PARAMS, no URL at all."""
    params = {
        "account_dir_path": request.getfixturevalue("altastata_account"),
        "password": ALTASTATA_PASSWORD,
        "port": request.getfixturevalue("altastata_gateway"),
    }
    options = {"mode": "py4j", "chunk_size": 1 * MiB}
    settings = {"ALTAS_CONTAINER_NAME": prefix, "ALTAS_CONNECTION_PARAMS": params}
    return Site("altastata", dict(options), {"url": "altastata:///static", **options}, settings)


@pytest.fixture(params=STORES)
def site(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for variable in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "OBJSTORE_URL"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("ALTAS_ACCOUNT_DIR_PATH", "ALTAS_PASSWORD", "ALTAS_PORT", "ALTAS_CONTAINER_NAME"):
        monkeypatch.delenv(variable, raising=False)  # the Django settings alone must reach the store
    prefix = f"django-{uuid.uuid4().hex[:12]}"
    if request.param == "filesystem":
        made = Site("filesystem", {"url": (tmp_path / "media").as_uri()}, {"url": (tmp_path / "static").as_uri()})
    elif request.param == "altastata":
        made = altastata_site(request, prefix)
    else:
        made = remote_site(request, request.param, prefix)
    yield made
    made.clean()


def operations(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The primitives the store was sent, as its logging layer (OPTIONS log_operations=True) saw them."""
    return [record.objstore["op"] for record in caplog.records if hasattr(record, "objstore")]


def content_file(data: bytes | str, name: str | None = None) -> Any:
    from django.core.files.base import ContentFile

    return ContentFile(data, name=name)


# --- configuration ------------------------------------------------------------------------------------------------


def test_deconstruct_returns_exactly_the_options_given_and_builds_nothing() -> None:
    from django.core.exceptions import ImproperlyConfigured

    options = {"url": "s3://bucket/media", "querystring_expire": 60, "endpoint_url": "http://127.0.0.1:9"}
    assert ObjectStorage(**options).deconstruct() == (BACKEND, (), options)
    assert ObjectStorage().deconstruct() == (BACKEND, (), {})
    lazy = ObjectStorage(url="s3://bucket/media", no_such_option=1)  # nothing is built, so nothing fails yet
    with pytest.raises(ImproperlyConfigured, match="no_such_option"):
        lazy.exists("a.txt")


def test_the_migrations_match_the_models() -> None:
    """The model names a storage in its migration: a deconstruct() that added anything would show as a change."""
    from django.core.management import call_command

    call_command("makemigrations", "documents", check=True, dry_run=True, verbosity=0)


def test_the_store_comes_from_options_then_settings_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    monkeypatch.delenv("OBJSTORE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match="OBJSTORE_URL"):
        ObjectStorage().exists("a.txt")
    monkeypatch.setenv("OBJSTORE_URL", (tmp_path / "from-env").as_uri())
    assert ObjectStorage().save("a.txt", content_file(b"env")) == "a.txt"
    with override_settings(OBJSTORE_URL=(tmp_path / "from-settings").as_uri()):
        ObjectStorage().save("a.txt", content_file(b"settings"))
        ObjectStorage(url=(tmp_path / "from-options").as_uri()).save("a.txt", content_file(b"options"))
    for where, expected in (("from-env", b"env"), ("from-settings", b"settings"), ("from-options", b"options")):
        assert (tmp_path / where / "a.txt").read_bytes() == expected


# --- the storage API, on every store --------------------------------------------------------------------------------


def test_the_file_api(site: Site) -> None:
    from django.core.exceptions import SuspiciousFileOperation
    from django.test import override_settings

    with site.configured() as storage:
        assert storage.save("docs/notes.txt", content_file("caf\u00e9\n")) == "docs/notes.txt"
        storage.save("docs/deep/data.bin", content_file(b"\x00\x01" * 1000))
        assert storage.exists("docs/notes.txt")
        assert not storage.exists("docs/missing.txt")
        assert storage.size("docs/notes.txt") == len("caf\u00e9\n".encode())
        with storage.open("docs/notes.txt", "r") as text:
            assert text.read() == "caf\u00e9\n"
        with storage.open("docs/deep/data.bin") as binary:
            assert binary.read(3) == b"\x00\x01\x00"
            binary.seek(1998)
            assert binary.read() == b"\x00\x01"
            assert binary.size == 2000
        assert storage.listdir("docs") == (["deep"], ["notes.txt"])
        assert storage.listdir("") == (["docs"], [])
        modified = storage.get_modified_time("docs/notes.txt")
        assert modified.tzinfo is not None
        assert abs(datetime.now(timezone.utc) - modified) < timedelta(minutes=2)
        with override_settings(USE_TZ=False):
            naive = storage.get_modified_time("docs/notes.txt")
        assert naive.tzinfo is None
        assert naive == modified.astimezone().replace(tzinfo=None)
        with pytest.raises(FileNotFoundError):
            storage.open("docs/missing.txt")
        reopened = storage.open("docs/notes.txt")
        reopened.close()
        with reopened.open() as again:
            assert again.read() == "caf\u00e9\n".encode()
        with pytest.raises(ValueError, match="reading"):
            storage.open("docs/notes.txt", "wb")
        with pytest.raises(SuspiciousFileOperation):
            storage.exists("docs/bad\x01name.txt")
        storage.delete("docs/notes.txt")
        storage.delete("docs/notes.txt")  # a missing file is no error
        assert not storage.exists("docs/notes.txt")


def test_path_is_local_only_on_a_folder_store(site: Site) -> None:
    from django.core.exceptions import SuspiciousFileOperation

    with site.configured() as storage:
        storage.save("a/b.txt", content_file(b"here"))
        if site.name != "filesystem":
            with pytest.raises(NotImplementedError):
                storage.path("a/b.txt")
            return
        assert Path(storage.path("a/b.txt")).read_bytes() == b"here"
        with pytest.raises(SuspiciousFileOperation):
            storage.path("../outside.txt")


def test_reading_a_file_costs_one_get_and_no_head(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """django-storages #1407: ``open(name).read()`` there costs two HEADs and a GET."""
    with site.configured(media={"log_operations": True}) as storage:
        storage.save("one/read.txt", content_file(b"just one request"))
        with caplog.at_level(logging.DEBUG, logger="objstore.operations"):
            caplog.clear()
            with storage.open("one/read.txt") as opened:
                assert opened.read() == b"just one request"
            assert operations(caplog) == ["open_object"]
            caplog.clear()
            with storage.open("one/read.txt") as opened:
                assert b"".join(opened.chunks()) == b"just one request"
            assert operations(caplog) == ["open_object"]


def test_a_save_that_must_not_overwrite_is_one_create_only_write(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    with site.configured(media={"log_operations": True}) as storage:
        first = storage.save("same/name.txt", content_file(b"first"))
        with caplog.at_level(logging.DEBUG, logger="objstore.operations"):
            caplog.clear()
            second = storage.save("same/name.txt", content_file(b"second"))
        assert first == "same/name.txt"
        assert re.fullmatch(r"same/name_[A-Za-z0-9]{7}\.txt", second)
        if storage.service.capabilities.conditional_put:
            # No exists() first: the store refused the taken name, and the next name was written at once.
            assert operations(caplog) == ["write_object", "write_object"]
        assert storage.open(first).read() == b"first"
        assert storage.open(second).read() == b"second"
        too_long = "same/" + "n" * 80 + ".txt"
        short = {storage.save(too_long, content_file(text), max_length=40) for text in (b"one", b"two")}
        assert len(short) == 2
        assert all(len(name) <= 40 and name.startswith("same/nnn") and name.endswith(".txt") for name in short)


def test_concurrent_saves_never_overwrite_each_other(site: Site) -> None:
    """django-storages' ``file_overwrite=False`` checks ``exists()`` and then puts: two saves can both win."""
    with site.configured() as storage:
        require(storage.service, "conditional_put")  # without it, saves check exists() first (racy, documented)
        storage.exists("warm-up")
        threads_count = 8
        barrier = threading.Barrier(threads_count)
        names: dict[int, str] = {}

        def save(index: int) -> None:
            barrier.wait()
            names[index] = storage.save("race/report.csv", content_file(f"writer {index}".encode()))

        threads = [threading.Thread(target=save, args=(index,)) for index in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(names.values())) == threads_count
        assert "race/report.csv" in names.values()
        for index, name in names.items():
            assert storage.open(name).read() == f"writer {index}".encode()


def test_file_overwrite_replaces_in_place(site: Site) -> None:
    with site.configured(media={"file_overwrite": True}) as storage:
        assert storage.save("over/write.txt", content_file(b"old")) == "over/write.txt"
        assert storage.save("over/write.txt", content_file(b"new")) == "over/write.txt"
        assert storage.open("over/write.txt").read() == b"new"
        assert storage.listdir("over") == ([], ["write.txt"])


def test_urls_are_presigned_where_the_store_can_else_base_url(site: Site) -> None:
    with site.configured(media={"querystring_expire": 120}) as storage:
        name = storage.save("shared/a report \u00e9.txt", content_file(b"shared content"))
        if storage.service.capabilities.presigned_urls:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(storage.url(name), timeout=30) as response:
                assert response.read() == b"shared content"
        else:
            with pytest.raises(NotImplementedError, match="base_url"):
                storage.url(name)
    with site.configured(media={"base_url": "https://cdn.example/media"}) as storage:
        assert storage.url("shared/a report \u00e9.txt") == "https://cdn.example/media/shared/a%20report%20%C3%A9.txt"


def test_a_64_mib_file_is_saved_and_read_back_within_32_mib_of_heap(site: Site, tmp_path: Path) -> None:
    """django-storages reads a whole object before the first byte (in memory with AWS_S3_MAX_MEMORY_SIZE=0)."""
    from django.core.files.base import File

    source = tmp_path / "big.bin"
    expected = hashlib.sha256()
    with source.open("wb") as out:
        for index in range(64):
            block = hashlib.sha256(bytes([index])).digest() * (MiB // 32)
            expected.update(block)
            out.write(block)
    with site.configured() as storage:
        storage.exists("warm-up")  # the store's clients are built before measuring
        tracemalloc.start()
        try:
            with source.open("rb") as handle:
                name = storage.save("big/blob.bin", File(handle))
            digest = hashlib.sha256()
            with storage.open(name) as stored:
                for chunk in stored.chunks(MiB):
                    assert len(chunk) <= MiB
                    digest.update(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert digest.hexdigest() == expected.hexdigest()
        assert storage.size(name) == 64 * MiB
    assert peak < 32 * MiB, f"peak heap {peak / MiB:.1f} MiB"


# --- the project: collectstatic and a model's FileField ---------------------------------------------------------------


def collectstatic() -> tuple[int, int]:
    """Run collectstatic; return (copied, unmodified) from its report."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
    report = out.getvalue()
    copied = re.search(r"(\d+) static files? copied", report)
    unmodified = re.search(r"(\d+) unmodified", report)
    assert copied is not None, report
    return int(copied.group(1)), int(unmodified.group(1)) if unmodified else 0


def snapshot(storage: Any) -> dict[str, tuple[str | None, datetime | None]]:
    return {info.key: (info.etag, info.last_modified) for info in storage.service.iter_objects("")}


def test_collectstatic_copies_only_what_changed(site: Site, tmp_path: Path) -> None:
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.test import override_settings

    sources = tmp_path / "static-src"
    shutil.copytree(PROJECT / "static", sources)
    an_hour_ago = time.time() - 3600  # files from a checkout, older than any upload
    for path in sources.rglob("*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    with site.configured(), override_settings(STATICFILES_DIRS=[str(sources)]):
        assert collectstatic() == (3, 0)
        before = snapshot(staticfiles_storage)
        assert sorted(before) == ["css/site.css", "js/app.js", "robots.txt"]
        assert collectstatic() == (0, 3)
        assert snapshot(staticfiles_storage) == before  # untouched: not rewritten, not deleted
        changed = sources / "css" / "site.css"
        changed.write_text("body { color: #000; }\n")
        later = time.time() + 5  # edited after the upload (without waiting for the clock)
        os.utime(changed, (later, later))
        assert collectstatic() == (1, 2)
        after = snapshot(staticfiles_storage)
        assert {key: after[key] for key in ("js/app.js", "robots.txt")} == {
            key: before[key] for key in ("js/app.js", "robots.txt")
        }
        assert after["css/site.css"] != before["css/site.css"]
        assert staticfiles_storage.open("css/site.css").read() == b"body { color: #000; }\n"


def test_a_filefield_uploads_and_downloads_through_the_model(site: Site) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.integration.django_project.documents.models import Document

    with site.configured(media={"base_url": "/media/"}) as storage:
        first = Document(title="first")
        first.file.save("report.txt", content_file(b"first upload"), save=True)
        second = Document.objects.create(title="second", file=SimpleUploadedFile("report.txt", b"second upload"))
        assert first.file.name == "documents/report.txt"
        assert second.file.name != first.file.name
        assert second.file.name.startswith("documents/report_")
        fetched = Document.objects.get(pk=first.pk)
        with fetched.file.open("rb") as handle:
            assert handle.read() == b"first upload"
        assert fetched.file.size == len(b"first upload")
        assert fetched.file.url == "/media/documents/report.txt"
        assert Document.objects.get(pk=second.pk).file.read() == b"second upload"
        fetched.file.delete(save=True)
        assert not storage.exists("documents/report.txt")
        assert Document.objects.get(pk=first.pk).file.name == ""


# --- credentials ----------------------------------------------------------------------------------------------------


def test_credentials_are_renewed_while_the_storage_lives(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """django-storages #1493: temporary credentials are fixed at start-up and never renewed. Naas keys live 8 s."""
    from tests.harness.naas_service import NaasService

    for variable in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NAAS_API_KEY", NAAS_API_KEY)
    naas = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=8.0).start()
    options = {
        "url": f"naas://workspace-1/django-{uuid.uuid4().hex[:8]}",
        "api_url": naas.url,
        "endpoint_url": naas.s3.endpoint_url,
        "hierarchical": True,
        "refresh_margin_seconds": 3.0,
    }
    site = Site("naas", {**options, "url": options["url"] + "/media"}, {**options, "url": options["url"] + "/static"})
    try:
        with site.configured() as storage:
            storage.save("before.txt", content_file(b"written with the first keys"))
            time.sleep(9)  # the first keys have expired and are revoked by the S3 server
            assert storage.open("before.txt").read() == b"written with the first keys"
            storage.save("after.txt", content_file(b"written with renewed keys"))
            assert storage.listdir("") == ([], ["after.txt", "before.txt"])
        site.clean()
    finally:
        naas.stop()
