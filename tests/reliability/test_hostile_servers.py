"""Servers that hang, loop or lie: every call ends within the retry deadline plus one timeout, with a typed error.

Issue 14: a server that accepts and never answers hung ``ls``, ``cat`` and ``pull`` for 10+ minutes; a listing
that repeats its continuation token looped forever; ``RetryingAdapter.iter_objects`` ignored the deadline; a key
outside the requested prefix was cut to a wrong name (``short.bin`` printed as ``ort.bin``). All on a real
loopback server (tests/harness/misbehaving.py), through the real S3 and GCS adapters and the real command.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from objstore import ObjectStorageFactory
from objstore.adapters.layers.retry import RetryingAdapter, RetryPolicy
from objstore.adapters.memory import MemoryAdapter
from objstore.domain.errors import ObjectStorageError, ProtocolError, TransientError
from objstore.domain.listing import MAX_EMPTY_PAGES, ListingGuard
from objstore.domain.models import DeleteResult, ListOptions, ObjectInfo, ReadOptions, WriteOptions
from objstore.ports.storage import IObjectStorageAdapter, Readable
from tests.harness.misbehaving import OUTSIDE_KEY, REPEATED_TOKEN, MisbehavingServer, misbehaving_server

OBJSTORE = [str(Path(sys.executable).parent / "objstore")]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test-key-id", "AWS_SECRET_ACCESS_KEY": "test-secret-key"}
DEADLINE = 1.0  # the retry deadline of these tests (seconds)
READ_TIMEOUT = 2.0  # longer than the deadline: each extra try past the deadline would show as two seconds more
SLACK = 1.0  # scheduling, backoff jitter, connection set-up
CLI_SLACK = 4.0  # plus the command's start-up (imports boto3) and exit


@pytest.fixture
def hanging() -> Iterator[MisbehavingServer]:
    with misbehaving_server("hang") as server:
        yield server


def s3_url(server: MisbehavingServer, *, direct: bool = True, base: str = "p") -> str:
    return (
        f"s3://bucket/{base}?endpoint_url={server.url}&read_timeout={READ_TIMEOUT}&connect_timeout=1"
        f"&direct_requests={str(direct).lower()}"
    )


def s3_store(server: MisbehavingServer, *, direct: bool = True, **layers: Any) -> IObjectStorageAdapter:
    layers.setdefault("retry_deadline", DEADLINE)
    return ObjectStorageFactory.build_adapter(
        s3_url(server, direct=direct), access_key_id="k", secret_access_key="s", **layers
    )


def timed(call: Callable[[], Any]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(ObjectStorageError) as caught:
        call()
    return caught.value, time.monotonic() - started


OPERATIONS: dict[str, Callable[[IObjectStorageAdapter], Any]] = {
    "iter_objects": lambda store: list(store.iter_objects("")),
    "list_objects": lambda store: store.list_objects(""),
    "head_object": lambda store: store.head_object("", "a.txt"),
    "get_object": lambda store: store.get_object("", "a.txt"),
    "put_object": lambda store: store.put_object("", "a.txt", b"abc"),
}


# --- a server that accepts and never answers -------------------------------------------------------------------


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "botocore"])
@pytest.mark.parametrize("operation", ["iter_objects", "list_objects", "head_object", "get_object", "put_object"])
def test_a_silent_server_fails_every_operation_within_the_deadline_plus_one_timeout(
    hanging: MisbehavingServer, direct: bool, operation: str
) -> None:
    store = s3_store(hanging, direct=direct)
    error, elapsed = timed(lambda: OPERATIONS[operation](store))
    assert isinstance(error, TransientError), error
    assert elapsed <= DEADLINE + READ_TIMEOUT + SLACK, f"{operation} took {elapsed:.1f}s"
    # One try per read timeout within the deadline, at most: neither the SDK nor the adapter tries again itself.
    assert len(hanging.requests) <= math.floor(DEADLINE / READ_TIMEOUT) + 1, hanging.requests


def test_the_retry_layer_gives_a_listing_up_at_its_deadline(hanging: MisbehavingServer) -> None:
    """The reported case: attempts=10 and a 60 s deadline with read_timeout=5 ran 175 s; scaled down here."""
    store = s3_store(hanging, retry_attempts=10, retry_deadline=3.0)
    error, elapsed = timed(lambda: next(iter(store.iter_objects(""))))
    assert isinstance(error, TransientError)
    assert elapsed <= 3.0 + READ_TIMEOUT + SLACK, f"{elapsed:.1f}s"


# --- listings that loop or lie ---------------------------------------------------------------------------------


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "botocore"])
@pytest.mark.parametrize("recursive", [True, False], ids=["flat", "one-level"])
def test_an_s3_listing_that_repeats_its_continuation_token_fails_naming_the_store(
    direct: bool, recursive: bool
) -> None:
    with misbehaving_server("s3-repeat-token") as server:
        store = s3_store(server, direct=direct)
        with pytest.raises(ProtocolError) as caught:
            for _ in store.iter_objects("", recursive=recursive):
                pass
        listings = [path for method, path in server.requests if "list-type=2" in path]
    error = caught.value
    assert not error.retryable
    assert error.adapter == "s3"
    assert "s3://bucket/p" in str(error)
    assert server.url in str(error)
    assert REPEATED_TOKEN in str(error)
    assert len(listings) == 2, listings  # the first page, and the one that gave the loop away: never retried


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "botocore"])
@pytest.mark.parametrize("recursive", [True, False], ids=["flat", "one-level"])
def test_an_s3_listing_with_a_key_outside_the_prefix_fails_and_never_yields_a_wrong_name(
    direct: bool, recursive: bool
) -> None:
    with misbehaving_server("s3-outside-prefix") as server:
        store = s3_store(server, direct=direct)
        seen: list[str] = []
        with pytest.raises(ProtocolError) as caught:
            seen.extend(info.key for info in store.iter_objects("", recursive=recursive))
        with pytest.raises(ProtocolError):
            store.list_objects("")
    assert seen == []
    assert OUTSIDE_KEY in str(caught.value)
    assert "s3://bucket/p" in str(caught.value)
    assert not caught.value.retryable


def gcs_store(server: MisbehavingServer) -> IObjectStorageAdapter:
    pytest.importorskip("google.cloud.storage")
    return ObjectStorageFactory.build_adapter(
        "gs://bucket/p", endpoint=server.url, read_timeout=READ_TIMEOUT, retry_deadline=DEADLINE
    )


def test_a_gcs_listing_that_repeats_its_page_token_fails_naming_the_store() -> None:
    with misbehaving_server("gcs-repeat-token") as server:
        store = gcs_store(server)
        with pytest.raises(ProtocolError) as caught:
            for _ in store.iter_objects(""):
                pass
        listings = [path for method, path in server.requests if "/o?" in path or path.endswith("/o")]
    assert "gs://bucket/p" in str(caught.value)
    assert REPEATED_TOKEN in str(caught.value)
    assert caught.value.adapter == "gcs"
    assert len(listings) == 2, listings


def test_a_gcs_listing_with_a_key_outside_the_prefix_fails() -> None:
    with misbehaving_server("gcs-outside-prefix") as server:
        store = gcs_store(server)
        with pytest.raises(ProtocolError) as caught:
            list(store.iter_objects(""))
    assert OUTSIDE_KEY in str(caught.value)


def test_a_silent_gcs_server_fails_within_the_deadline_plus_one_timeout(hanging: MisbehavingServer) -> None:
    store = gcs_store(hanging)
    for operation in ("iter_objects", "head_object", "get_object", "put_object"):
        error, elapsed = timed(lambda: OPERATIONS[operation](store))  # noqa: B023 - called at once
        assert isinstance(error, TransientError), (operation, error)
        assert elapsed <= DEADLINE + READ_TIMEOUT + SLACK, f"{operation} took {elapsed:.1f}s"


# --- the shared guard (what Azure's marker loop goes through; Azurite cannot be made to repeat one) -------------


def test_the_listing_guard_refuses_a_repeated_token_a_cycle_and_a_truncation_without_token() -> None:
    guard = ListingGuard("az://c/p", "azure", "p/", "")
    assert guard.next_token("m1", entries=1) == "m1"
    assert guard.next_token("m2", entries=1) == "m2"
    with pytest.raises(ProtocolError, match=r"az://c/p.*repeated the continuation token 'm1'"):
        guard.next_token("m1", entries=1)  # a cycle of two pages loops as surely as one
    assert ListingGuard("s", "s3", "p/").next_token(None, entries=0) is None
    assert ListingGuard("s", "s3", "p/").next_token("t", entries=0, truncated=False) is None
    with pytest.raises(ProtocolError, match="truncated"):
        ListingGuard("s", "s3", "p/").next_token(None, entries=0, truncated=True)


def test_the_listing_guard_refuses_keys_outside_the_prefix_and_endless_empty_pages() -> None:
    guard = ListingGuard("az://c/p", "azure", "p/")
    assert guard.key("p/a") == "p/a"
    with pytest.raises(ProtocolError, match="outside the requested prefix") as caught:
        guard.key("short.bin")
    assert caught.value.adapter == "azure"
    assert caught.value.operation == "iter_objects"
    for n in range(MAX_EMPTY_PAGES - 1):
        guard.next_token(f"t{n}", entries=0)
    with pytest.raises(ProtocolError, match="empty pages"):
        guard.next_token("one-too-many", entries=0)


# --- the retry layer's deadline, on a fake clock ---------------------------------------------------------------


class _SlowFailing(MemoryAdapter):
    """Every primitive costs ``cost`` seconds of the fake clock and fails with a retryable error."""

    def __init__(self, clock: list[float], cost: float) -> None:
        super().__init__()
        self.clock, self.cost = clock, cost
        self.starts: list[float] = []

    def _fail(self) -> Any:
        self.starts.append(self.clock[0])
        self.clock[0] += self.cost
        raise TransientError("timed out", retry_after=0)

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        return self._fail()  # type: ignore[no-any-return]

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        self._fail()
        yield from ()  # pragma: no cover

    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Any:
        return self._fail()

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        return self._fail()  # type: ignore[no-any-return]

    def delete_object(self, prefix: str, key: str) -> None:
        self._fail()

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        self._fail()

    def presign_url(self, prefix: str, key: str, *, expires_in: int = 3600, method: str = "GET") -> str:
        return self._fail()  # type: ignore[no-any-return]

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        """Each key fails on its own (the batch answers), as a store's batch delete reports them."""
        try:
            self._fail()
        except TransientError as exc:
            return DeleteResult((), dict.fromkeys(keys, exc))
        raise AssertionError("unreachable")  # pragma: no cover


def _first_error(result: DeleteResult) -> None:
    raise next(iter(result.errors.values()))


DEADLINE_OPERATIONS: dict[str, Callable[[IObjectStorageAdapter], object]] = {
    "head_object": lambda layer: layer.head_object("", "k"),
    "iter_objects": lambda layer: list(layer.iter_objects("")),
    "get_object": lambda layer: layer.get_object("", "k"),
    "put_object_stream": lambda layer: layer.put_object_stream("", "k", io.BytesIO(b"seekable")),
    "delete_object": lambda layer: layer.delete_object("", "k"),
    "copy_object": lambda layer: layer.copy_object("", "k", "", "k2"),
    "presign_url": lambda layer: layer.presign_url("", "k"),
    "delete_objects": lambda layer: _first_error(layer.delete_objects("", ["k", "k2"])),
}


@pytest.mark.parametrize("operation", sorted(DEADLINE_OPERATIONS))
def test_no_try_starts_at_or_after_the_deadline(operation: str) -> None:
    clock = [0.0]
    inner = _SlowFailing(clock, cost=5.0)
    layer = RetryingAdapter(
        inner,
        RetryPolicy(attempts=100, deadline=60.0, base=1.0, max_wait=4.0),
        sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds),
        seed=3,
        clock=lambda: clock[0],
    )
    with pytest.raises(TransientError) as caught:
        DEADLINE_OPERATIONS[operation](layer)
    assert caught.value.retries_exhausted  # marked as given up on, with the tries made
    assert caught.value.attempts == len(inner.starts)
    assert inner.starts
    assert max(inner.starts) < 60.0
    assert clock[0] <= 60.0 + 5.0  # the deadline plus the one try that was under way
    assert len(inner.starts) >= 5  # and it did retry inside the deadline


# --- every network store has finite default timeouts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "config", "fields"),
    [
        ("objstore.adapters.s3", "S3Config", ("connect_timeout", "read_timeout")),
        ("objstore.adapters.naas", "NaasConfig", ("connect_timeout", "read_timeout", "api_timeout")),
        ("objstore.adapters.gcs", "GCSConfig", ("connect_timeout", "read_timeout")),
        ("objstore.adapters.azure_blob", "AzureBlobConfig", ("connection_timeout", "read_timeout")),
        ("objstore.adapters.altastata", "AltastataConfig", ("read_timeout",)),  # py4j: one timeout for both
    ],
)
def test_every_network_store_has_finite_default_timeouts(module: str, config: str, fields: tuple[str, ...]) -> None:
    cls = getattr(pytest.importorskip(module), config)
    defaults = {field.name: field.default for field in dataclasses.fields(cls)}
    for name in fields:
        assert name in defaults, f"{config} has no {name}"
        assert isinstance(defaults[name], int | float), name
        assert 0 < defaults[name] < math.inf, (name, defaults[name])
    assert 0 < RetryPolicy().deadline < math.inf
    # The promise of docs/reliability.md: no default configuration hangs longer than the deadline plus a timeout.
    assert RetryPolicy().deadline + max(defaults[name] for name in fields) <= 5 * 60


# --- the command, end to end -----------------------------------------------------------------------------------


def run_cli(*args: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "OBJSTORE_"))},
        **CREDENTIALS,
        "OBJSTORE_RETRY_DEADLINE": str(DEADLINE),
    }
    started = time.monotonic()
    result = subprocess.run([*OBJSTORE, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)
    return result, time.monotonic() - started


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "botocore"])
@pytest.mark.parametrize("command", ["ls", "cat", "pull"])
def test_the_command_ends_with_an_error_when_the_server_never_answers(
    hanging: MisbehavingServer, direct: bool, command: str, tmp_path: Path
) -> None:
    url = s3_url(hanging, direct=direct)
    args = {
        "ls": ["ls", "-s", url],
        "cat": ["cat", "-s", url, "a.txt"],
        "pull": ["pull", url, str(tmp_path / "dest")],
    }[command]
    bound = DEADLINE + READ_TIMEOUT + CLI_SLACK
    try:
        result, elapsed = run_cli(*args, timeout=60)
    except subprocess.TimeoutExpired:  # pragma: no cover - the defect itself
        pytest.fail(f"objstore {command} was still running after 60 s")
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "objstore: error:" in result.stderr, result.stderr
    assert "network error" in result.stderr, result.stderr
    assert elapsed <= bound, f"objstore {command} took {elapsed:.1f}s (bound {bound:.1f}s)"
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in result.stderr + result.stdout


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "botocore"])
def test_the_command_stops_a_looping_listing(direct: bool) -> None:
    with misbehaving_server("s3-repeat-token") as server:
        result, _ = run_cli("ls", "-r", "-s", s3_url(server, direct=direct), timeout=60)
        requests = len(server.requests)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "continuation token" in result.stderr
    assert server.url in result.stderr
    assert requests == 2


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "botocore"])
def test_the_command_never_prints_a_wrong_name(direct: bool) -> None:
    with misbehaving_server("s3-outside-prefix") as server:
        result, _ = run_cli("ls", "-s", s3_url(server, direct=direct, base="long"), timeout=60)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "bin" not in result.stdout  # neither "short.bin" nor a cut "rt.bin"
    assert "outside the requested prefix" in result.stderr
