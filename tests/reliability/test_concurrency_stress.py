"""Sixteen threads sharing one service for 30 s of mixed operations, on every adapter: no error, no corruption.

Each thread owns a few keys and always knows what they must hold; all threads also write and read shared keys
whose content carries its own SHA-256, so a torn or mixed write would be seen by any reader. Every store runs at
the same time (16 threads each), so the suite spends 30 s here rather than 30 s per store. The duration can be
changed with OBJSTORE_STRESS_SECONDS (figures in docs/reliability.md are from 30 s).
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from objstore import ObjectNotFound, ObjectStorageFactory, ObjectStorageService
from objstore.adapters.layers import RetryingAdapter
from objstore.ports.storage import layer_counters
from tests.reliability.test_fault_campaign import record

THREADS = 16
SECONDS = float(os.environ.get("OBJSTORE_STRESS_SECONDS", "30"))
KiB = 1024


def sealed(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode() + b":" + body


def unseal(content: bytes, key: str) -> bytes:
    digest, _, body = content.partition(b":")
    assert hashlib.sha256(body).hexdigest().encode() == digest, f"{key}: torn or corrupted content"
    return body


STORES = ("file", "memory", "s3", "gcs", "azure", "naas", "altastata")


def build_service(kind: str, request: pytest.FixtureRequest, tmp_path: Any) -> ObjectStorageService:
    """One service per store, built as an application would (network stores get the default retry layer)."""
    if kind == "file":
        return ObjectStorageFactory.from_url(f"file://{tmp_path / 'store'}?fsync=false")
    if kind == "memory":
        return ObjectStorageFactory.from_url("memory://")
    if kind == "naas":
        from tests.conformance.test_naas import naas_store

        service: ObjectStorageService = naas_store(request.getfixturevalue("naas_service"))
        return service
    if kind == "s3":
        from tests.conformance.test_s3 import s3_adapter

        adapter: Any = s3_adapter(request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket"))
    elif kind == "gcs":
        from tests.conformance.test_gcs import gcs_adapter

        adapter = gcs_adapter(request.getfixturevalue("gcs_server"), request.getfixturevalue("gcs_bucket"))
    elif kind == "azure":
        from tests.conformance.test_azure import azure_adapter

        adapter = azure_adapter(request.getfixturevalue("azurite"), request.getfixturevalue("azure_container"))
    else:
        from tests.conformance.test_altastata import altastata_adapter

        adapter = altastata_adapter(
            request.getfixturevalue("altastata_gateway"), request.getfixturevalue("altastata_account")
        )
    return ObjectStorageService(RetryingAdapter(adapter))


class Worker:
    """One thread's share of the work: its own keys (whose content it always knows) and the shared ones."""

    def __init__(self, service: ObjectStorageService, number: int, seed: int) -> None:
        self.service = service
        self.prefix = f"t{number:02d}"
        self.rng = random.Random(seed)
        self.mine: dict[str, bytes] = {}
        self.done: Counter[str] = Counter()
        self.operations: list[tuple[Callable[[], None], int]] = [
            (self.put, 25),
            (self.put_stream, 10),
            (self.get, 20),
            (self.get_range, 5),
            (self.head, 10),
            (self.listing, 8),
            (self.delete, 5),
            (self.shared_write, 6),
            (self.shared_read, 8),
            (self.copy, 3),
        ]

    def body(self) -> bytes:
        size = self.rng.choice((0, 1, 700, 4 * KiB, 64 * KiB, 300 * KiB))
        return self.rng.randbytes(size)

    def own_key(self) -> str:
        return f"k{self.rng.randrange(8)}"

    def put(self) -> None:
        key, body = self.own_key(), self.body()
        self.service.put_object(self.prefix, key, body)
        self.mine[key] = body

    def put_stream(self) -> None:
        key, body = self.own_key(), self.body()
        info = self.service.put_object_stream(self.prefix, key, io.BytesIO(body))
        assert info.size == len(body)
        self.mine[key] = body

    def get(self) -> None:
        key = self.own_key()
        if key in self.mine:
            assert self.service.get_object(self.prefix, key) == self.mine[key], key
        else:
            with pytest.raises(ObjectNotFound):
                self.service.get_object(self.prefix, key)

    def get_range(self) -> None:
        if not self.mine:
            return
        key = self.rng.choice(sorted(self.mine))
        body = self.mine[key]
        start = self.rng.randrange(len(body) + 1)
        end = self.rng.randrange(start, len(body) + 1)
        with self.service.get_object_stream(self.prefix, key, start, end) as stream:
            assert stream.read() == body[start:end], key

    def head(self) -> None:
        if self.mine:
            key = self.rng.choice(sorted(self.mine))
            assert self.service.head_object(self.prefix, key).size == len(self.mine[key]), key

    def listing(self) -> None:
        listed = {info.key.split("/", 1)[1] for info in self.service.iter_objects(self.prefix)}
        assert listed == set(self.mine), (sorted(listed), sorted(self.mine))

    def delete(self) -> None:
        key = self.own_key()
        if key in self.mine:
            self.service.delete_object(self.prefix, key)
            del self.mine[key]

    def copy(self) -> None:
        if self.mine:
            source, target = self.rng.choice(sorted(self.mine)), self.own_key()
            self.service.copy_object(self.prefix, source, self.prefix, target)
            self.mine[target] = self.mine[source]

    def shared_write(self) -> None:
        self.service.put_object("shared", f"s{self.rng.randrange(4)}", sealed(self.body()))

    def shared_read(self) -> None:
        key = f"s{self.rng.randrange(4)}"
        try:
            content = self.service.get_object("shared", key)
        except ObjectNotFound:
            return  # not written yet
        unseal(content, key)

    def run(self, deadline: float, errors: list[str]) -> None:
        functions, weights = zip(*self.operations, strict=True)
        while time.monotonic() < deadline and not errors:
            operation = self.rng.choices(functions, weights)[0]
            try:
                operation()
            except BaseException:
                errors.append(f"{self.prefix} {operation.__name__}: {traceback.format_exc(limit=3)}")
                return
            self.done[operation.__name__] += 1

    def verify(self) -> None:
        for key, body in self.mine.items():
            assert self.service.get_object(self.prefix, key) == body, key


def test_sixteen_threads_share_one_service_without_error_or_corruption(
    request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    services = {kind: build_service(kind, request, tmp_path) for kind in STORES}
    seed = uuid.uuid4().int % 10_000
    workers = {
        kind: [Worker(service, number, seed + number) for number in range(THREADS)]
        for kind, service in services.items()
    }
    errors: dict[str, list[str]] = {kind: [] for kind in STORES}
    deadline = time.monotonic() + SECONDS
    threads = [
        threading.Thread(target=worker.run, args=(deadline, errors[kind]), name=f"{kind}-{worker.prefix}")
        for kind, group in workers.items()
        for worker in group
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = {kind: found[:2] for kind, found in errors.items() if found}
    assert failed == {}, f"seed {seed}: " + "\n".join(f"{kind}: {found}" for kind, found in failed.items())
    for kind, group in workers.items():
        for worker in group:
            worker.verify()
        done: Counter[str] = sum((worker.done for worker in group), Counter())
        total = sum(done.values())
        assert total >= THREADS * 5, (kind, done)  # every thread of every store did real work
        record(
            f"stress_{kind}",
            {
                "store": kind,
                "threads": THREADS,
                "seconds": SECONDS,
                "stores_at_once": len(STORES),
                "operations": total,
                "by_operation": dict(done),
                "retries": layer_counters(services[kind].adapter).get("retries", 0),
                "errors": 0,
                "corrupted": 0,
            },
        )
