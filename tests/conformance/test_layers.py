"""The conformance suite through every layer at once, over a store that throttles one call in seven."""

from __future__ import annotations

import pytest

from objstore.adapters.layers import (
    ConcurrencyLimitedAdapter,
    FaultInjectingAdapter,
    FaultSpec,
    LoggingAdapter,
    RetryingAdapter,
    RetryPolicy,
)
from objstore.adapters.memory import MemoryAdapter
from objstore.ports.storage import IObjectStorageAdapter
from objstore.testing.conformance import ObjectStoreConformance


class TestLayeredConformance(ObjectStoreConformance):
    @pytest.fixture
    def adapter(self) -> IObjectStorageAdapter:
        store = ConcurrencyLimitedAdapter(MemoryAdapter(), 16)
        faulty = FaultInjectingAdapter(store, FaultSpec(throttle=0.15, seed=7))
        retrying = RetryingAdapter(faulty, RetryPolicy(attempts=12, deadline=30), sleep=lambda _: None, seed=1)
        return LoggingAdapter(retrying)
