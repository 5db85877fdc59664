"""Altastata over the JVM py4j test gateway: versions, exact deletes, chunked puts, set-up errors."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from objstore import (
    AuthenticationError,
    ConfigurationError,
    InvalidKey,
    NotSupported,
    ObjectNotFound,
    ObjectStorageError,
    ObjectStorageFactory,
    ObjectStorageService,
)
from objstore.adapters.altastata import UPLOADS, AltastataAdapter, AltastataConfig
from objstore.ports.storage import unwrap
from objstore.testing.conformance import PatternStream
from tests.conformance.test_altastata import altastata_adapter
from tests.conftest import ALTASTATA_PASSWORD
from tests.harness.servers import free_port

MiB = 1024 * 1024


@pytest.fixture
def store(altastata_gateway: int, altastata_account: str) -> ObjectStorageService:
    return ObjectStorageService(altastata_adapter(altastata_gateway, altastata_account, chunk_size=1 * MiB))


def test_deleting_a_path_leaves_its_siblings(store: ObjectStorageService) -> None:
    for key in ("a/b", "a/bc", "a/b.txt", "a/b/c"):
        store.put_object("", key, key.encode())
    store.delete_object("", "a/b")
    assert [info.key for info in store.iter_objects("")] == ["a/b.txt", "a/b/c", "a/bc"]
    result = store.delete_objects("", ["a/bc"])
    assert result.ok
    assert store.get_object("", "a/b.txt") == b"a/b.txt"


def test_versions_are_listed_once_and_etags_follow_the_newest(store: ObjectStorageService) -> None:
    store.put_object("", "doc", b"one")
    first = store.head_object("", "doc").etag
    store.put_object("", "doc", b"two")
    infos = list(store.iter_objects(""))
    assert [(info.key, info.size) for info in infos] == [("doc", 3)]
    assert infos[0].etag == store.head_object("", "doc").etag != first
    assert infos[0].last_modified is not None


def test_a_failed_chunked_put_keeps_the_previous_version_and_hides_its_staging(store: ObjectStorageService) -> None:
    store.put_object("", "big", b"previous")

    class DiesAfter3MiB(PatternStream):
        def read(self, n: int = -1) -> bytes:
            if self._left < 8 * MiB - 3 * MiB:
                raise OSError("source gone")
            return super().read(n)

    with pytest.raises(ObjectStorageError):
        store.put_object_stream("", "big", DiesAfter3MiB(8 * MiB))
    assert store.get_object("", "big") == b"previous"
    assert [info.key for info in store.iter_objects("")] == ["big"]
    with pytest.raises(InvalidKey):
        store.get_object(UPLOADS, "anything")


def test_large_content_goes_in_chunks(store: ObjectStorageService) -> None:
    source = PatternStream(5 * MiB + 3, seed=5)
    info = store.put_object_stream("", "chunked", source)
    assert info.size == 5 * MiB + 3
    import hashlib

    assert hashlib.sha256(store.get_object("", "chunked")).hexdigest() == source.sha256.hexdigest()


def test_what_altastata_cannot_do_is_refused(store: ObjectStorageService) -> None:
    with pytest.raises(NotSupported):
        store.put_object("", "k", b"x", if_none_match="*")
    with pytest.raises(NotSupported):
        store.put_object("", "k", b"x", metadata={"a": "b"})
    with pytest.raises(NotSupported):
        store.presign_url("", "k")
    assert not store.exists("", "k")


def test_a_closed_gateway_port_is_a_clear_configuration_error(altastata_account: str) -> None:
    with pytest.raises(ConfigurationError, match="no Altastata gateway listens"):
        altastata_adapter(free_port(), altastata_account)


def test_a_port_taken_by_something_else_is_named(altastata_account: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(4):
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(ConfigurationError, match="taken by something that is not an Altastata gateway"):
            altastata_adapter(port, altastata_account)
    finally:
        listener.close()


def test_a_wrong_password_is_an_authentication_error(altastata_gateway: int, altastata_account: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        altastata_adapter(altastata_gateway, altastata_account, password="wrong-password-123")
    assert "wrong-password-123" not in str(caught.value)
    cause: BaseException | None = caught.value
    while cause is not None:
        assert "wrong-password-123" not in str(cause)
        cause = cause.__cause__


def test_a_missing_account_directory_is_a_configuration_error(altastata_gateway: int, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        altastata_adapter(altastata_gateway, str(tmp_path / "no-such-account"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match="not a valid account"):
        altastata_adapter(altastata_gateway, str(tmp_path / "empty"))


def test_the_environment_users_already_set(
    altastata_gateway: int, altastata_account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALTAS_ACCOUNT_DIR_PATH", altastata_account)
    monkeypatch.setenv("ALTAS_PASSWORD", ALTASTATA_PASSWORD)
    monkeypatch.setenv("ALTAS_PORT", str(altastata_gateway))
    monkeypatch.setenv("ALTAS_CONTAINER_NAME", f"chris-{uuid.uuid4().hex[:6]}")
    store = ObjectStorageFactory.from_url("altastata://")
    store.put_object("", "k", b"from ALTAS_*")
    adapter = unwrap(store.adapter)
    assert isinstance(adapter, AltastataAdapter)
    assert adapter.config.container.startswith("chris-")
    again = ObjectStorageFactory.ObjectStorageServiceAltastata(container=adapter.config.container)
    assert again.get_object("", "k") == b"from ALTAS_*"
    assert ALTASTATA_PASSWORD not in repr(store) + repr(adapter.config)


def test_the_url_and_the_constructor(altastata_gateway: int, altastata_account: str) -> None:
    store = ObjectStorageFactory.from_url(
        f"altastata://urls/{uuid.uuid4().hex}?mode=py4j&port={altastata_gateway}",
        account_dir_path=altastata_account,
        password=ALTASTATA_PASSWORD,
    )
    store.put_object("", "k", b"x")
    with pytest.raises(ConfigurationError, match="secret"):
        ObjectStorageFactory.from_url(f"altastata://c?password={ALTASTATA_PASSWORD}")


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALTAS_ACCOUNT_DIR_PATH", "ALTAS_PASSWORD", "ALTAS_PORT", "ALTAS_CONTAINER_NAME"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="ALTAS_ACCOUNT_DIR_PATH"):
        AltastataConfig().resolved()
    with pytest.raises(ConfigurationError, match="ALTAS_PORT"):
        AltastataConfig(account_dir_path="/").resolved({"ALTAS_PORT": "many"})
    with pytest.raises(ConfigurationError, match="mode"):
        AltastataConfig(account_dir_path="/", password="p", mode="carrier-pigeon").resolved({})


def test_missing_object_errors(store: ObjectStorageService) -> None:
    with pytest.raises(ObjectNotFound):
        store.get_object("", "nothing")
    with pytest.raises(ObjectNotFound):
        store.delete_object("", "nothing")
    with pytest.raises(ObjectNotFound):
        store.copy_object("", "nothing", "", "else")


def test_auto_mode_uses_a_listening_gateway(altastata_gateway: int, altastata_account: str) -> None:
    adapter: Any = altastata_adapter(altastata_gateway, altastata_account, mode="auto")
    assert type(adapter._client).__name__ == "Py4jAltastataClient"


def test_an_operation_state_of_error_is_a_typed_error_and_nothing_is_stored(store: ObjectStorageService) -> None:
    """The gateway answers the create without raising, but its returned state says ERROR: that is a failure."""
    with pytest.raises(ObjectStorageError, match="Altastata reported the operation failed: the storage refused"):
        store.put_object("d", "refused-by-gateway", b"x")
    assert not store.exists("d", "refused-by-gateway")
    store.put_object("d", "kept", b"y")  # the states of a create, a copy and a delete that worked are read too
    store.copy_object("d", "kept", "d", "copied")
    store.delete_objects("d", ["kept", "copied", "never-there"])
    assert store.list_objects("d") == []
