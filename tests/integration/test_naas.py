"""Naas: temporary credentials that refresh themselves, against a credentials service that really expires them."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from objstore import (
    AuthenticationError,
    ConfigurationError,
    ObjectNotFound,
    ObjectStorageFactory,
    ObjectStorageService,
    PermissionDenied,
    TransientError,
)
from objstore.adapters.naas import NaasAdapter
from objstore.ports.storage import unwrap
from objstore.testing.conformance import PatternStream
from tests.conformance.test_naas import naas_store
from tests.conftest import NAAS_API_KEY
from tests.harness.naas_service import NaasService
from tests.harness.servers import free_port

MiB = 1024 * 1024


@pytest.fixture
def short_lived(s3_server: Any) -> Iterator[NaasService]:
    """A Naas API whose keys live 8 seconds and are then rejected by the S3 server."""
    service = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=8.0).start()
    try:
        yield service
    finally:
        service.stop()


def test_the_storage_lives_under_its_workspace_and_name(naas_service: NaasService) -> None:
    store = naas_store(naas_service)
    store.put_object("docs", "a.txt", b"hello")
    adapter = unwrap(store.adapter)
    assert isinstance(adapter, NaasAdapter)
    storage = adapter.provider.config.storage_name
    raw = naas_service.s3.client().get_object(Bucket="naas-tests", Key=f"workspace-1/{storage}/docs/a.txt")
    assert raw["Body"].read() == b"hello"


def test_a_bad_api_key_is_an_authentication_error_naming_workspace_and_storage(naas_service: NaasService) -> None:
    with pytest.raises(AuthenticationError) as caught:
        naas_store(naas_service, naas_api_key="not-the-key")
    message = str(caught.value)
    assert "workspace-1" in message
    assert "storage-" in message
    assert "not-the-key" not in message


def test_an_unreachable_api_is_retried_then_a_transient_error(naas_service: NaasService) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError, match="unreachable"):
        naas_store(naas_service, api_url=f"http://127.0.0.1:{free_port()}", api_attempts=3)
    assert time.monotonic() - started < 30


def test_an_api_that_fails_for_a_while_is_retried(s3_server: Any) -> None:
    service = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=600).start()
    try:
        service.mode = "status:503"
        threading.Timer(0.5, lambda: setattr(service, "mode", "ok")).start()
        store = naas_store(service, api_attempts=8)
        store.put_object("", "k", b"after the API came back")
        assert service.requests >= 2
    finally:
        service.stop()


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ({}, "credentials"),
        ({"credentials": {}}, "credentials.s3"),
        ({"credentials": {"s3": {"access_key_id": "A", "secret_key": "S"}}}, "credentials.s3.endpoint_url"),
        ({"credentials": {"s3": {"endpoint_url": "s3://b/p", "secret_key": "S"}}}, "credentials.s3.access_key_id"),
        ({"credentials": {"s3": {"endpoint_url": "s3://b/p", "access_key_id": "A"}}}, "credentials.s3.secret_key"),
        (
            {"credentials": {"s3": {"endpoint_url": "https://b", "access_key_id": "A", "secret_key": "S"}}},
            "credentials.s3.endpoint_url",
        ),
        (
            {
                "credentials": {
                    "s3": {"endpoint_url": "s3://b/p", "access_key_id": "A", "secret_key": "S", "expiration": "soon"}
                }
            },
            "credentials.s3.expiration",
        ),
        (
            {
                "credentials": {
                    "s3": {"endpoint_url": "s3://b/p", "access_key_id": "A", "secret_key": "S", "session_token": 7}
                }
            },
            "credentials.s3.session_token",
        ),
    ],
)
def test_a_malformed_answer_is_a_configuration_error_naming_the_field(
    s3_server: Any, answer: dict[str, Any], field: str
) -> None:
    service = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=600).start()
    try:
        service.mode = "malformed:" + json.dumps(answer)
        with pytest.raises(ConfigurationError) as caught:
            naas_store(service)
        assert field in str(caught.value)
    finally:
        service.stop()


def test_credentials_without_expiration_use_the_ttl(s3_server: Any) -> None:
    service = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=600).start()
    try:
        service.mode = "no-expiration"
        store = naas_store(service, ttl_seconds=1.0)
        store.put_object("", "k", b"1")
        time.sleep(1.2)
        store.get_object("", "k")
        adapter = unwrap(store.adapter)
        assert isinstance(adapter, NaasAdapter)
        assert adapter.provider.fetch_count == 2
    finally:
        service.stop()


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NAAS_API_KEY", "NAAS_WORKSPACE_ID", "NAAS_STORAGE_NAME"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=r"naas_api_key \(NAAS_API_KEY\)"):
        ObjectStorageFactory.from_url("naas://ws/storage")
    with pytest.raises(ConfigurationError, match="NAAS_WORKSPACE_ID"):
        ObjectStorageFactory.from_url("naas://", naas_api_key="k")
    with pytest.raises(ConfigurationError, match="secret"):
        ObjectStorageFactory.from_url("naas://ws/storage?naas_api_key=k")


def test_from_env_reads_the_naas_settings_and_config_yaml(
    naas_service: NaasService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config.yaml").write_text("config:\n  workspace_id: workspace-1\n  storage_name: from-yaml\n")
    env = {"NAAS_API_KEY": NAAS_API_KEY, "NAAS_API_URL": naas_service.url}
    store = ObjectStorageFactory.from_env(
        env,
        config_file=tmp_path / "config.yaml",
        endpoint_url=naas_service.s3.endpoint_url,
        hierarchical=True,
    )
    store.put_object("", "k", b"configured by config.yaml")
    raw = naas_service.s3.client().get_object(Bucket="naas-tests", Key="workspace-1/from-yaml/k")
    assert raw["Body"].read() == b"configured by config.yaml"
    env_only = {**env, "NAAS_WORKSPACE_ID": "workspace-1", "NAAS_STORAGE_NAME": "from-env"}
    store = ObjectStorageFactory.from_env(env_only, endpoint_url=naas_service.s3.endpoint_url)
    assert isinstance(unwrap(store.adapter), NaasAdapter)
    with pytest.raises(ConfigurationError, match="no store configured"):
        ObjectStorageFactory.from_env({}, config_file=tmp_path / "none.yaml")


def test_from_env_reads_the_api_key_from_dot_env_as_the_original_scripts(
    naas_service: NaasService, tmp_path: Path
) -> None:
    """The original scripts kept NAAS_API_KEY in .env and the workspace and storage in config.yaml."""
    (tmp_path / "config.yaml").write_text("config:\n  workspace_id: workspace-1\n  storage_name: from-dotenv\n")
    (tmp_path / ".env").write_text(f"# the project's secrets\nexport NAAS_API_KEY='{NAAS_API_KEY}'\n")
    store = ObjectStorageFactory.from_env(
        {"NAAS_API_URL": naas_service.url},
        config_file=tmp_path / "config.yaml",
        dotenv_file=tmp_path / ".env",
        endpoint_url=naas_service.s3.endpoint_url,
    )
    store.put_object("", "k", b"configured by .env and config.yaml")
    raw = naas_service.s3.client().get_object(Bucket="naas-tests", Key="workspace-1/from-dotenv/k")
    assert raw["Body"].read() == b"configured by .env and config.yaml"
    # the process environment wins over .env (as python-dotenv's load_dotenv has it)
    with pytest.raises(AuthenticationError):
        ObjectStorageFactory.from_env(
            {"NAAS_API_URL": naas_service.url, "NAAS_API_KEY": "not-the-key"},
            config_file=tmp_path / "config.yaml",
            dotenv_file=tmp_path / ".env",
            endpoint_url=naas_service.s3.endpoint_url,
        ).put_object("", "k2", b"x")


def test_an_incomplete_naas_configuration_is_an_error_not_a_local_push(tmp_path: Path) -> None:
    """.env or config.yaml present but incomplete: say what is missing (before, the CLI pushed to the local store)."""
    (tmp_path / ".env").write_text(f"NAAS_API_KEY={NAAS_API_KEY}\n")
    with pytest.raises(ConfigurationError, match=r"NAAS_WORKSPACE_ID.*config\.yaml") as caught:
        ObjectStorageFactory.from_env({}, config_file=tmp_path / "config.yaml", dotenv_file=tmp_path / ".env")
    assert NAAS_API_KEY not in str(caught.value)
    (tmp_path / ".env").unlink()
    (tmp_path / "config.yaml").write_text("config:\n  workspace_id: workspace-1\n  storage_name: s\n")
    with pytest.raises(ConfigurationError, match=r"NAAS_API_KEY"):
        ObjectStorageFactory.from_env({}, config_file=tmp_path / "config.yaml", dotenv_file=tmp_path / ".env")
    (tmp_path / "config.yaml").write_text("config:\n  other_setting: 1\n")  # a config.yaml not about Naas
    (tmp_path / ".env").write_text("DJANGO_DEBUG=1\n")  # a .env not about Naas
    with pytest.raises(ConfigurationError, match="no store configured"):
        ObjectStorageFactory.from_env({}, config_file=tmp_path / "config.yaml", dotenv_file=tmp_path / ".env")


def test_the_cli_refuses_an_incomplete_naas_project_rather_than_pushing_locally(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"NAAS_API_KEY={NAAS_API_KEY}\n")
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "a.txt").write_text("a")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAAS_", "OBJSTORE_"))}
    env["OBJSTORE_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-m", "objstore", "push", "storage"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "NAAS_WORKSPACE_ID" in result.stderr
    assert NAAS_API_KEY not in result.stderr + result.stdout
    assert not home.exists()


def test_no_secret_in_logs_repr_or_errors(naas_service: NaasService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # everything at INFO (the SDKs), and objstore's own lines at DEBUG
    caplog.set_level(logging.DEBUG, logger="objstore")
    store = naas_store(naas_service)
    store.put_object("", "k", b"x")
    with pytest.raises(ObjectNotFound) as caught:
        store.get_object("", "missing")
    adapter = unwrap(store.adapter)
    assert isinstance(adapter, NaasAdapter)
    key = naas_service.issued[-1]
    texts = [
        caplog.text,
        repr(store),
        repr(adapter),
        repr(adapter.config),
        repr(adapter.provider),
        repr(adapter.provider.config),
        str(caught.value),
    ]
    assert any("fetched Naas credentials" in record.getMessage() for record in caplog.records)
    for text in texts:
        for secret in (NAAS_API_KEY, key.secret_key, key.access_key):
            assert secret not in text, f"a secret leaked into: {text[:200]}"


def test_sixteen_threads_ride_through_three_expiries_with_one_refresh_each(short_lived: NaasService) -> None:
    """60 s of puts, gets, lists and a multipart upload while keys expire every 8 s and are revoked."""
    store = naas_store(short_lived, refresh_margin_seconds=3.0)
    adapter = unwrap(store.adapter)
    assert isinstance(adapter, NaasAdapter)
    deadline = time.monotonic() + 60
    failures: list[str] = []
    operations = [0]
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(index)
        written: list[tuple[str, bytes]] = []
        while time.monotonic() < deadline:
            try:
                choice = rng.random()
                if choice < 0.45 or not written:
                    key, content = f"w{index}/{rng.randrange(50)}", rng.randbytes(rng.randrange(1, 20_000))
                    store.put_object("soak", key, content)
                    written = [item for item in written if item[0] != key] + [(key, content)]
                elif choice < 0.85:
                    key, content = rng.choice(written)
                    if store.get_object("soak", key) != content:
                        failures.append(f"wrong content for {key}")
                else:
                    store.list_objects(f"soak/w{index}")
            except Exception as exc:  # every failure is counted: the test expects none
                failures.append(f"{type(exc).__name__}: {exc}")
            with lock:
                operations[0] += 1

    class SlowSource(PatternStream):
        """Six 5 MiB parts at 2 s each: the upload spans at least one expiry."""

        def read(self, n: int = -1) -> bytes:
            time.sleep(0.4)
            return super().read(n)

    def multipart() -> None:
        try:
            source = SlowSource(30 * MiB, seed=7)
            store.put_object_stream("soak", "multipart.bin", source)
            digest = hashlib.sha256(store.get_object("soak", "multipart.bin")).hexdigest()
            if digest != source.sha256.hexdigest():
                failures.append("the multipart object is corrupt")
        except Exception as exc:
            failures.append(f"multipart: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(15)]
    threads.append(threading.Thread(target=multipart))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    issued = short_lived.issued
    expired_during_run = [key for key in issued if key.revoked]
    assert failures == [], failures[:10]
    assert operations[0] > 500
    assert len(expired_during_run) >= 3, f"only {len(expired_during_run)} keys expired during the run"
    # Exactly one refresh per expiry: every key the API issued was fetched once, none twice, none in a storm.
    assert adapter.provider.fetch_count == len(issued)
    gaps = [later.issued_at - earlier.issued_at for earlier, later in itertools.pairwise(issued)]
    assert min(gaps) > 8.0 - 3.0 - 1.5, gaps
    assert len(issued) <= 60 / (8.0 - 3.0) + 2


@pytest.mark.parametrize("taken", ["revoked", "withdrawn"])
def test_keys_rejected_early_are_renewed_once(short_lived: NaasService, taken: str) -> None:
    """A key revoked before its expiry (a rotated secret: InvalidAccessKeyId) or withdrawn (S3 answers 403
    AccessDenied, as a real store often does to a revoked temporary key) costs one renewal and no failed call."""
    store = naas_store(short_lived, refresh_margin_seconds=1.0)
    store.put_object("", "before", b"1")
    current = short_lived.issued[-1]
    if taken == "revoked":
        short_lived.revoke(current)
        time.sleep(1.0)
    else:
        short_lived.withdraw(current)
    store.put_object("", "after", b"2")
    assert store.get_object("", "after") == b"2"
    adapter = unwrap(store.adapter)
    assert isinstance(adapter, NaasAdapter)
    assert adapter.provider.fetch_count == 2


def test_a_key_that_is_still_denied_after_renewal_is_permission_denied(short_lived: NaasService) -> None:
    """A renewed key that is denied too: PermissionDenied after exactly one renewal (no loop)."""
    store = naas_store(short_lived, refresh_margin_seconds=1.0)
    store.put_object("", "before", b"1")
    adapter = unwrap(store.adapter)
    assert isinstance(adapter, NaasAdapter)
    real = short_lived._current_or_new

    def denied_key() -> Any:
        key = real()
        short_lived.withdraw(key)
        return key

    short_lived._current_or_new = denied_key  # type: ignore[method-assign]
    short_lived.withdraw(short_lived.issued[-1])
    with pytest.raises(PermissionDenied):
        store.put_object("", "after", b"2")
    assert adapter.provider.fetch_count == 2


def test_the_original_constructor(naas_service: NaasService) -> None:
    store = ObjectStorageFactory.ObjectStorageServiceNaas(
        NAAS_API_KEY,
        "workspace-1",
        f"orig-{uuid.uuid4().hex[:6]}",
        "base",
        api_url=naas_service.url,
        endpoint_url=naas_service.s3.endpoint_url,
    )
    store.put_object_stream("x", "y", io.BytesIO(b"z"))
    assert isinstance(store, ObjectStorageService)
    assert store.get_object("x", "y") == b"z"
