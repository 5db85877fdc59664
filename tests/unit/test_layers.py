"""The layers: what is retried and what is not, resumed reads, injected faults, log lines, concurrency."""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import threading
import time
from typing import Any

import pytest

from objstore import (
    CredentialsExpired,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectStorageError,
    ObjectStorageService,
    PreconditionFailed,
    Throttled,
    TransientError,
)
from objstore.adapters.layers import (
    ConcurrencyLimitedAdapter,
    FaultInjectingAdapter,
    FaultSpec,
    LoggingAdapter,
    RetryingAdapter,
    RetryPolicy,
    redact,
)
from objstore.adapters.memory import MemoryAdapter
from objstore.domain.models import DeleteResult, ListOptions, ObjectInfo, WriteOptions
from objstore.ports.storage import ForwardingAdapter, Readable


class Scripted(ForwardingAdapter):
    """Fails the next calls of one operation with the given errors, then lets them through."""

    def __init__(self, failures: dict[str, list[ObjectStorageError]]) -> None:
        super().__init__(MemoryAdapter())
        self.failures = failures
        self.calls: dict[str, int] = {}

    def _step(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        queue = self.failures.get(operation, [])
        if queue:
            raise queue.pop(0)

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        self._step("put")
        info = self.inner.write_object(prefix, key, stream, options)
        self._step("put_applied")  # a failure here is a lost answer: the put did land
        return info

    def head_object(self, prefix: str, key: str) -> Any:
        self._step("head")
        return self.inner.head_object(prefix, key)

    def delete_object(self, prefix: str, key: str) -> None:
        self._step("delete_before")
        self.inner.delete_object(prefix, key)
        self._step("delete_after")


def retrying(inner: Any, attempts: int = 5, waits: list[float] | None = None) -> ObjectStorageService:
    record = waits if waits is not None else []
    return ObjectStorageService(RetryingAdapter(inner, RetryPolicy(attempts=attempts), sleep=record.append, seed=3))


def test_retryable_errors_are_retried_and_counted() -> None:
    inner = Scripted({"head": [TransientError("500"), Throttled("slow down"), CredentialsExpired("renew")]})
    inner.inner.put_object("", "k", b"x")
    store = retrying(inner)
    assert store.head_object("", "k").size == 1
    assert inner.calls["head"] == 4
    assert store.adapter.stats.retries == 3  # type: ignore[attr-defined]


def test_non_retryable_errors_are_not() -> None:
    inner = Scripted({"head": [PreconditionFailed("no")]})
    with pytest.raises(PreconditionFailed):
        retrying(inner).head_object("", "k")
    assert inner.calls["head"] == 1


def test_attempts_run_out() -> None:
    inner = Scripted({"head": [TransientError("500")] * 10})
    with pytest.raises(TransientError):
        retrying(inner, attempts=3).head_object("", "k")
    assert inner.calls["head"] == 3


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    inner = Scripted({"head": [Throttled("slow", retry_after=4.0)]})
    inner.inner.put_object("", "k", b"x")
    retrying(inner, waits=waits).head_object("", "k")
    assert waits == [4.0]


def test_a_conditional_put_is_retried_and_never_overwrites_another_change() -> None:
    # Refused before it ran: simply sent again.
    inner = Scripted({"put": [Throttled("slow"), TransientError("reset")]})
    retrying(inner).put_object("", "k", b"x", if_none_match="*")
    assert inner.calls["put"] == 3
    # Applied, but the answer was lost: the retry fails on our own object, which is recognised as success.
    for stream in (False, True):
        inner = Scripted({"put_applied": [TransientError("reset after the write")]})
        store = retrying(inner)
        if stream:
            info = store.put_object_stream("", "s", io.BytesIO(b"ours"), if_none_match="*")
            assert info.checksum_sha256 is not None
        else:
            store.put_object("", "s", b"ours", if_none_match="*")
        assert store.get_object("", "s") == b"ours"
        assert inner.calls["put"] == 2
        etag = store.head_object("", "s").etag
        inner.failures["put_applied"] = [TransientError("reset after the write")]
        store.put_object("", "s", b"ours, edited", if_match=etag)  # if-match: the etag moved on by our own write
        assert store.get_object("", "s") == b"ours, edited"
    # Someone else's object meets the retry: a real conflict, raised, and theirs is kept.
    inner = Scripted({"put": [TransientError("reset")]})
    inner.inner.put_object("", "k", b"theirs")
    store = retrying(inner)
    with pytest.raises(ObjectAlreadyExists):
        store.put_object("", "k", b"ours", if_none_match="*")
    assert store.get_object("", "k") == b"theirs"


class _LostAnswer(Scripted):
    """Applies the put, then raises as if the answer was lost, and meanwhile someone else writes."""

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        self._step("put")
        info = self.inner.write_object(prefix, key, stream, options)
        if self.calls["put"] == 1:
            self.inner.put_object(prefix, key, b"someone else's, written just after ours")
            raise TransientError("reset after the write")
        return info


def test_a_lost_answer_then_another_writer_is_a_conflict_not_a_success() -> None:
    inner = _LostAnswer({})
    with pytest.raises(ObjectAlreadyExists):
        retrying(inner).put_object("", "k", b"ours", if_none_match="*")
    assert inner.inner.get_object("", "k") == b"someone else's, written just after ours"


def test_a_pipe_is_not_sent_twice_but_a_seekable_stream_is() -> None:
    class Pipe:
        def __init__(self) -> None:
            self.data = io.BytesIO(b"payload")

        def read(self, n: int = -1) -> bytes:
            return self.data.read(n)

    inner = Scripted({"put": [TransientError("reset")]})
    with pytest.raises(TransientError):
        retrying(inner).put_object_stream("", "pipe", Pipe())
    inner = Scripted({"put": [TransientError("reset")]})
    source = io.BytesIO(b"payload")
    source.read(3)  # the put starts where the caller left the stream
    retrying(inner).put_object_stream("", "file", source)
    assert inner.inner.get_object("", "file") == b"load"


def test_a_delete_that_took_effect_before_failing_is_not_reported_missing() -> None:
    inner = Scripted({"delete_after": [TransientError("the answer was lost")]})
    inner.inner.put_object("", "k", b"x")
    retrying(inner).delete_object("", "k")
    assert not inner.inner.exists("", "k")
    with pytest.raises(ObjectNotFound):
        retrying(Scripted({})).delete_object("", "never-there")


def test_a_cut_read_resumes_where_it_stopped() -> None:
    memory = MemoryAdapter()
    content = bytes(range(256)) * 4000
    memory.put_object("", "big", content)
    faulty = FaultInjectingAdapter(memory, FaultSpec(cut=1.0, cut_after=10_000, seed=1))
    store = ObjectStorageService(RetryingAdapter(faulty, RetryPolicy(attempts=200), sleep=lambda _: None))
    assert store.get_object("", "big") == content
    with store.get_object_stream("", "big", 5, 50_005) as stream:
        assert stream.read() == content[5:50_005]


def test_a_read_is_not_resumed_on_a_new_version() -> None:
    memory = MemoryAdapter()
    memory.put_object("", "k", b"a" * 50_000)

    class ReplacedMidway(FaultInjectingAdapter):
        def _cut_now(self) -> bool:
            memory.put_object("", "k", b"b" * 50_000)
            return True

    faulty = ReplacedMidway(memory, FaultSpec(cut_after=1000))
    store = ObjectStorageService(RetryingAdapter(faulty, sleep=lambda _: None))
    with pytest.raises(TransientError, match="replaced"):
        store.get_object("", "k")


def test_a_listing_that_breaks_restarts_without_repeating() -> None:
    memory = MemoryAdapter()
    for index in range(30):
        memory.put_object("", f"k{index:02d}", b"x")

    class BreaksOnce(ForwardingAdapter):
        broken = False

        def scan_objects(self, prefix: str, options: ListOptions) -> Any:
            for count, info in enumerate(self.inner.scan_objects(prefix, options)):
                if count == 12 and not self.broken:
                    self.broken = True
                    raise TransientError("connection reset mid-listing")
                yield info

    store = retrying(BreaksOnce(memory))
    assert [info.key for info in store.iter_objects("")] == [f"k{index:02d}" for index in range(30)]


def test_faults_are_seeded_and_counted() -> None:
    def run(seed: int) -> list[str]:
        faulty = FaultInjectingAdapter(MemoryAdapter(), FaultSpec(transient=0.3, throttle=0.2, seed=seed))
        outcomes = []
        for index in range(50):
            try:
                faulty.put_object("", f"k{index}", b"x")
                outcomes.append("ok")
            except ObjectStorageError as exc:
                outcomes.append(type(exc).__name__)
        assert faulty.stats.injected == 50 - outcomes.count("ok")
        return outcomes

    assert run(5) == run(5)
    assert run(5) != run(6)
    assert {"TransientError", "Throttled", "ok"} <= set(run(5))


def test_a_cut_upload_fails_part_way() -> None:
    faulty = FaultInjectingAdapter(MemoryAdapter(), FaultSpec(cut=1.0, cut_after=3))
    source = io.BytesIO(b"abcdef")
    with pytest.raises(TransientError):
        faulty.put_object_stream("", "k", source)
    assert source.tell() == 3
    assert not faulty.inner.exists("", "k")


def test_one_log_line_per_operation_with_secrets_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="objstore.operations")
    store = ObjectStorageService(LoggingAdapter(MemoryAdapter()))
    store.put_object("", "k", b"12345")
    store.get_object("", "k")
    with pytest.raises(ObjectNotFound):
        store.get_object("", "missing")
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("op=write_object adapter=memory key=k")
    assert "op=open_object adapter=memory key=k bytes=5" in lines[1]
    assert "outcome=ObjectNotFound" in lines[2]
    assert caplog.records[1].objstore["bytes"] == 5  # type: ignore[attr-defined]
    assert (
        redact("url?X-Amz-Signature=abc123&sig=zz&password=hunter2") == "url?X-Amz-Signature=***&sig=***&password=***"
    )
    assert "s3cr3t" not in redact("AccountKey=s3cr3t;BlobEndpoint=http://x")


def test_failures_are_logged_at_warning_or_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="objstore.operations")
    inner = Scripted({"head": [TransientError("reset"), PreconditionFailed("no")]})
    store = ObjectStorageService(LoggingAdapter(inner))
    for _ in range(2):
        with pytest.raises(ObjectStorageError):
            store.head_object("", "k")
    assert [record.levelno for record in caplog.records] == [logging.WARNING, logging.ERROR]


def test_the_concurrency_limit_is_shared() -> None:
    in_flight = 0
    most = 0
    lock = threading.Lock()

    class Slow(ForwardingAdapter):
        def head_object(self, prefix: str, key: str) -> ObjectInfo:
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            time.sleep(0.01)
            with lock:
                in_flight -= 1
            raise ObjectNotFound("no such object", key=key)

    limited = ConcurrencyLimitedAdapter(Slow(MemoryAdapter()), 3)
    store = ObjectStorageService(limited)

    def work() -> None:
        for _ in range(5):
            store.exists("", "k")

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 3
    with pytest.raises(ValueError):
        ConcurrencyLimitedAdapter(MemoryAdapter(), 0)


def test_layers_keep_the_store_name_for_errors() -> None:
    store = ObjectStorageService(LoggingAdapter(RetryingAdapter(MemoryAdapter())))
    with pytest.raises(ObjectNotFound) as caught:
        store.get_object("", "missing")
    assert caught.value.adapter == "memory"
    assert isinstance(caught.value, FileNotFoundError)
    _ = ObjectAlreadyExists


def test_the_factory_stacks_layers_in_the_documented_order(tmp_path: Any) -> None:
    from objstore import ConfigurationError, ObjectStorageFactory

    store = ObjectStorageFactory.from_url(
        f"file://{tmp_path}?retry=true&retry_attempts=7&concurrency=4",
        log_operations=True,
        faults=FaultSpec(throttle=0.0),
    )
    chain = []
    adapter: Any = store.adapter
    while isinstance(adapter, ForwardingAdapter):
        chain.append(type(adapter).__name__)
        adapter = adapter.inner
    chain.append(type(adapter).__name__)
    assert chain == [
        "LoggingAdapter",
        "RetryingAdapter",
        "FaultInjectingAdapter",
        "ConcurrencyLimitedAdapter",
        "FilesystemAdapter",
    ]
    assert store.adapter.inner.policy.attempts == 7  # type: ignore[attr-defined]
    store.put_object("", "k", b"through every layer")
    assert store.get_object("", "k") == b"through every layer"
    with pytest.raises(ConfigurationError):
        ObjectStorageFactory.from_url(f"file://{tmp_path}", faults={"throttle": 0.5})


def test_fault_specs_parse_from_text_and_bad_ones_say_what_is_wrong() -> None:
    from objstore import ConfigurationError

    spec = FaultSpec.parse("transient=0.1, throttle=0.02,cut=0.01,cut_after=512,latency=0.001-0.002,seed=7")
    assert spec == FaultSpec(transient=0.1, throttle=0.02, cut=0.01, cut_after=512, latency=(0.001, 0.002), seed=7)
    assert FaultSpec.parse("") == FaultSpec()
    for bad, says in [
        ("transient", "name=value"),
        ("explode=0.5", "name=value"),
        ("transient=lots", "takes a number"),
        ("transient=1.5", "between 0 and 1"),
        ("transient=0.6,throttle=0.6", "between 0 and 1"),
        ("cut_after=-1", "negative"),
    ]:
        with pytest.raises(ConfigurationError, match=says):
            FaultSpec.parse(bad)


def test_network_stores_retry_by_default_and_local_ones_do_not(tmp_path: Any) -> None:
    from objstore import ConfigurationError, ObjectStorageFactory
    from objstore.factory import _PROVIDERS
    from objstore.ports.storage import unwrap

    assert {name for name, spec in _PROVIDERS.items() if spec.remote} == {"s3", "gs", "az", "naas", "altastata"}
    local = ObjectStorageFactory.from_url(f"file://{tmp_path}")
    assert not isinstance(local.adapter, RetryingAdapter)
    faulty = ObjectStorageFactory.from_url(f"file://{tmp_path}", faults="transient=0.2,seed=1", retry_attempts=12)
    assert isinstance(faulty.adapter, RetryingAdapter)
    assert type(unwrap(faulty.adapter)).__name__ == "FilesystemAdapter"
    for key in range(20):
        faulty.put_object("", f"k{key}", b"x")
    assert faulty.adapter.counters()["retries"] > 0
    for bad in ({"retry_attempts": 0}, {"retry_deadline": -1}, {"concurrency": 0}):
        with pytest.raises(ConfigurationError):
            ObjectStorageFactory.from_url(f"file://{tmp_path}", **bad)


def test_sync_state_is_keyed_on_the_store_not_on_its_layers(tmp_path: Any) -> None:
    from objstore import ObjectStorageFactory

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"a")
    plain = ObjectStorageFactory.from_url(f"file://{tmp_path / 'store'}")
    assert plain.push(folder).counts == {"upload": 1}
    layered = ObjectStorageFactory.from_url(f"file://{tmp_path / 'store'}", retry=True, log_operations=True)
    assert layered.store_identity == plain.store_identity
    assert layered.push(folder).counts == {"skip": 1}  # the same state: nothing sent again


def test_a_sync_report_counts_the_retries_of_its_store(tmp_path: Any) -> None:
    from objstore import ObjectStorageFactory

    folder = tmp_path / "folder"
    folder.mkdir()
    for n in range(40):
        (folder / f"f{n}.txt").write_bytes(b"%d" % n)
    store = ObjectStorageFactory.from_url(
        f"file://{tmp_path / 'store'}", faults="transient=0.2,cut=0.1,cut_after=1,seed=5", retry_attempts=12
    )
    report = store.push(folder)
    retries = store.adapter.counters()["retries"]  # type: ignore[attr-defined]
    assert report.ok, report.failures
    assert report.counts == {"upload": 40}
    assert report.retries == retries > 0
    assert f"{retries} retries" in report.summary()
    assert report.bytes_transferred == sum(len(b"%d" % n) for n in range(40))  # a resent file counted once
    plain = ObjectStorageFactory.from_url(f"file://{tmp_path / 'store'}")
    for n in range(40):
        assert plain.head_object("", f"f{n}.txt").checksum_sha256 == hashlib.sha256(b"%d" % n).hexdigest()
    assert plain.push(folder, checksum=True).counts == {"skip": 40}


def test_a_read_needs_no_head_and_still_resumes_through_cuts() -> None:
    """The version a read pins is the etag open_object returned: no HEAD before a read, none before a resume."""

    class Counting(MemoryAdapter):
        heads = 0

        def head_object(self, prefix: str, key: str) -> Any:
            Counting.heads += 1
            return super().head_object(prefix, key)

    inner = Counting()
    content = bytes(range(256)) * 400
    inner.put_object("", "k", content)
    layer = RetryingAdapter(
        FaultInjectingAdapter(inner, FaultSpec(cut=0.5, cut_after=5000, seed=2)), sleep=lambda _: None
    )
    store = ObjectStorageService(layer)
    Counting.heads, before = 0, layer.stats.retries
    for _ in range(10):
        assert store.get_object("", "k") == content
    with store.get_object_stream("", "k", -30_000, -5) as stream:  # a suffix range resumes too
        assert stream.read() == content[-30_000:-5]
    resumed = layer.stats.retries - before
    assert resumed > 0
    assert Counting.heads == 0


# --- errors that ran out of tries -------------------------------------------------------------------------------


def test_an_error_that_ran_out_of_tries_is_marked_and_says_so() -> None:
    inner = Scripted({"head": [TransientError("500") for _ in range(10)]})
    store = retrying(inner, attempts=3)
    with pytest.raises(TransientError) as caught:
        store.head_object("", "k")
    assert caught.value.retries_exhausted
    assert caught.value.attempts == 3
    assert "(gave up after 3 tries)" in str(caught.value)
    assert store.adapter.stats.gave_up == 1  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(caught.value))  # the mark travels (multiprocessing, logging handlers)
    assert copy.retries_exhausted
    assert copy.attempts == 3
    # A final answer after some retries is not one the layer gave up on, but its tries are counted.
    inner = Scripted({"head": [TransientError("500"), PreconditionFailed("no")]})
    with pytest.raises(PreconditionFailed) as final:
        retrying(inner).head_object("", "k")
    assert not final.value.retries_exhausted
    assert final.value.attempts == 2
    assert "gave up" not in str(final.value)
    # An error the layer gave up on is not retried again by a second retry layer above it.
    inner = Scripted({"head": [TransientError("500") for _ in range(10)]})
    twice = RetryingAdapter(RetryingAdapter(inner, RetryPolicy(attempts=2), sleep=lambda _: None), sleep=lambda _: None)
    with pytest.raises(TransientError):
        twice.head_object("", "k")
    assert inner.calls["head"] == 2


def test_a_listing_that_keeps_failing_gives_up_marked() -> None:
    class Broken(ForwardingAdapter):
        def scan_objects(self, prefix: str, options: ListOptions) -> Any:
            raise TransientError("reset")

    with pytest.raises(TransientError) as caught:
        retrying(Broken(MemoryAdapter()), attempts=4).list_objects("")
    assert caught.value.retries_exhausted
    assert caught.value.attempts == 4


def test_a_cut_read_resumes_under_a_concurrency_limit_of_one() -> None:
    """The broken read is closed before the next opens: with one slot below, the resume must not wait for it."""
    memory = MemoryAdapter()
    content = bytes(range(256)) * 200
    memory.put_object("", "k", content)
    faulty = FaultInjectingAdapter(ConcurrencyLimitedAdapter(memory, 1), FaultSpec(cut=1.0, cut_after=5000))
    store = ObjectStorageService(RetryingAdapter(faulty, RetryPolicy(attempts=50), sleep=lambda _: None))
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(store.get_object("", "k")), daemon=True)
    reader.start()
    reader.join(10)
    assert got == [content]


# --- batch deletes ------------------------------------------------------------------------------------------------


class FlakyBatch(MemoryAdapter):
    """A batch delete where some keys fail (throttled) the first ``flaky[key]`` times they are sent."""

    def __init__(self, flaky: dict[str, int]) -> None:
        super().__init__()
        self.flaky = flaky
        self.batches: list[list[str]] = []

    def delete_objects(self, prefix: str, keys: Any) -> DeleteResult:
        keys = list(keys)
        self.batches.append(keys)
        failing: dict[str, ObjectStorageError] = {}
        for key in keys:
            if self.flaky.get(key, 0) > 0:
                self.flaky[key] -= 1
                failing[key] = Throttled("slow down", key=key)
        done = super().delete_objects(prefix, [key for key in keys if key not in failing])
        return DeleteResult(done.deleted, failing)


def test_a_batch_delete_sends_again_only_the_keys_that_failed_retryably() -> None:
    inner = FlakyBatch({"b": 2})
    for key in "abc":
        inner.put_object("", key, b"x")
    result = retrying(inner).delete_objects("", (key for key in "abc"))
    assert result.ok
    assert sorted(result.deleted) == ["a", "b", "c"]
    assert inner.batches == [["a", "b", "c"], ["b"], ["b"]]
    inner = FlakyBatch({"b": 100})
    result = retrying(inner, attempts=3).delete_objects("", ["a", "b"])
    assert result.deleted == ("a",)
    assert result.errors["b"].retries_exhausted
    assert result.errors["b"].attempts == 3
    assert len(inner.batches) == 3


# --- parts of a large upload: retried by the layer alone --------------------------------------------------------


class Parted(MemoryAdapter):
    """Writes through upload_in_parts (1 KiB parts), as S3 and Azure do; part ``n`` fails ``failures[n]`` times."""

    def __init__(self, failures: dict[int, int]) -> None:
        super().__init__()
        self.failures = failures
        self.sends: dict[int, int] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        from objstore.adapters.transfer import upload_in_parts

        self.writes += 1

        def send(number: int, data: memoryview | bytes) -> bytes:
            with self._lock:
                self.sends[number] = self.sends.get(number, 0) + 1
                failing = self.sends[number] <= self.failures.get(number, 0)
            if failing:
                raise TransientError(f"part {number}: the connection dropped", key=key)
            return bytes(data)

        sent = upload_in_parts(stream, b"", part_size=1024, concurrency=2, send=send, key=key)
        return super().write_object(prefix, key, io.BytesIO(b"".join(sent.results)), options)


class _Pipe:
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._data.read(n)


def test_without_a_retry_layer_a_failed_part_fails_the_upload() -> None:
    inner = Parted({3: 1})
    with pytest.raises(TransientError, match="part 3"):
        ObjectStorageService(inner).put_object_stream("", "k", io.BytesIO(b"x" * 5000))
    assert inner.sends[3] == 1  # the legacy attempts=4 is ignored: the adapter does not loop


def test_under_a_retry_layer_a_failed_part_is_sent_again_alone() -> None:
    content = random_bytes(5000)
    inner = Parted({3: 2})
    layer = RetryingAdapter(inner, RetryPolicy(attempts=5), sleep=lambda _: None)
    ObjectStorageService(layer).put_object_stream("", "k", _Pipe(content))  # a pipe: its parts are in memory
    assert inner.get_object("", "k") == content
    assert inner.sends == {1: 1, 2: 1, 3: 3, 4: 1, 5: 1}
    assert inner.writes == 1
    assert layer.stats.retries == 2


def test_a_part_that_runs_out_of_tries_is_not_tried_again_by_a_retry_of_the_whole_upload() -> None:
    inner = Parted({3: 100})
    layer = RetryingAdapter(inner, RetryPolicy(attempts=3), sleep=lambda _: None)
    with pytest.raises(TransientError) as caught:
        ObjectStorageService(layer).put_object_stream("", "k", io.BytesIO(b"x" * 5000))  # seekable
    assert inner.sends[3] == 3  # the layer's attempts, not attempts x attempts
    assert inner.writes == 1
    assert caught.value.retries_exhausted
    assert caught.value.attempts == 3
    assert "gave up after 3 tries" in str(caught.value)
    assert layer.stats.gave_up == 1


def random_bytes(size: int) -> bytes:
    import random

    return random.Random(size).randbytes(size)
