"""Naas pieces that need no server: reading its settings, and where the credentials API is (not) retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from objstore import ConfigurationError, Throttled, TransientError
from objstore.adapters import naas
from objstore.adapters.naas import NaasConfig, NaasCredentialsProvider

ANSWER = {
    "credentials": {
        "s3": {
            "endpoint_url": "s3://bucket/ws/storage",
            "region_name": "eu-west-3",
            "access_key_id": "AKIAEXAMPLE0001",
            "secret_key": "secret",
            "session_token": "token",
            "expiration": "2099-01-31 12:00:00+0000",
        }
    }
}


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("naas://", {}),
        ("naas://ws/storage", {"workspace_id": "ws", "storage_name": "storage"}),
        ("naas://ws/storage/base/pre", {"workspace_id": "ws", "storage_name": "storage", "base_prefix": "base/pre"}),
        ("naas://w%20s/st%2Ao", {"workspace_id": "w s", "storage_name": "st*o"}),
    ],
)
def test_url_fields(url: str, fields: dict[str, str]) -> None:
    assert NaasConfig.url_fields(urlsplit(url)) == fields


@pytest.mark.parametrize("url", ["naas://ws", "naas:///storage"])
def test_a_url_without_workspace_or_storage_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="WORKSPACE_ID/STORAGE_NAME"):
        NaasConfig.url_fields(urlsplit(url))


def test_environment_settings(tmp_path: Path) -> None:
    none = tmp_path / "none.yaml"
    assert NaasConfig.environment_settings({}, none) is None
    # incomplete settings are an error, never None (None sent the CLI to the local default store)
    with pytest.raises(ConfigurationError, match="NAAS_API_KEY is not set"):
        NaasConfig.environment_settings({"NAAS_WORKSPACE_ID": "w", "NAAS_STORAGE_NAME": "s"}, none)
    with pytest.raises(ConfigurationError, match="needs NAAS_WORKSPACE_ID and NAAS_STORAGE_NAME"):
        NaasConfig.environment_settings({"NAAS_API_KEY": "k"}, none)  # no workspace, no storage
    env = {"NAAS_API_KEY": "k", "NAAS_WORKSPACE_ID": "w", "NAAS_STORAGE_NAME": "s", "NAAS_API_URL": "http://api"}
    assert NaasConfig.environment_settings(env, none) == {
        "naas_api_key": "k",
        "workspace_id": "w",
        "storage_name": "s",
        "api_url": "http://api",
    }
    project = tmp_path / "config.yaml"
    project.write_text("config:\n  workspace_id: from-yaml\n  storage_name: yaml-storage\n")
    assert NaasConfig.environment_settings({"NAAS_API_KEY": "k", "NAAS_STORAGE_NAME": "env"}, project) == {
        "naas_api_key": "k",
        "workspace_id": "from-yaml",
        "storage_name": "env",  # the environment wins over the file
    }
    project.write_text("config: [not, a, mapping]\n")
    with pytest.raises(ConfigurationError, match="not a mapping"):
        NaasConfig.environment_settings({"NAAS_API_KEY": "k"}, project)
    project.write_text("config: {unclosed\n")
    with pytest.raises(ConfigurationError, match="cannot read the Naas settings"):
        NaasConfig.environment_settings({"NAAS_API_KEY": "k"}, project)


class FakeResponse:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        return self._body


class FakeSession:
    """Answers the credentials API from a script: a status (or an exception to raise) per call, then 200."""

    def __init__(self, script: list[int | Exception]) -> None:
        self.script = list(script)
        self.calls = 0

    def post(self, url: str, **kwargs: Any) -> FakeResponse:
        self.calls += 1
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        return FakeResponse(step, ANSWER if step == 200 else None)


def provider(session: FakeSession, **options: Any) -> NaasCredentialsProvider:
    config = NaasConfig(workspace_id="ws", storage_name="storage", naas_api_key="key", api_url="http://api", **options)
    return NaasCredentialsProvider(config, session=session)  # type: ignore[arg-type]


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(naas.time, "sleep", slept.append)
    return slept


def test_the_first_call_tries_an_api_that_is_down_again_itself(waits: list[float]) -> None:
    """Made while the store is built, outside any operation: no retry layer is around it."""
    session = FakeSession([503, 429, requests.ConnectionError("refused")])
    where = provider(session, api_attempts=4).location()
    assert (where.bucket, where.prefix, where.region_name) == ("bucket", "ws/storage", "eu-west-3")
    assert session.calls == 4
    assert len(waits) == 3


def test_the_first_call_gives_up_after_its_attempts(waits: list[float]) -> None:
    session = FakeSession([503, 503, 503, 503])
    with pytest.raises(TransientError, match="failed with 503"):
        provider(session, api_attempts=3).location()
    assert session.calls == 3


def test_the_first_call_does_not_wait_out_a_timeout_again(waits: list[float]) -> None:
    session = FakeSession([requests.Timeout("slow")])
    with pytest.raises(TransientError, match="did not answer"):
        provider(session, api_attempts=5).location()
    assert session.calls == 1


@pytest.mark.parametrize(
    ("failure", "expected"),
    [(503, TransientError), (429, Throttled), (requests.ConnectionError("refused"), TransientError)],
)
def test_a_renewal_is_tried_once_and_raises_a_retryable_error(
    waits: list[float], failure: int | Exception, expected: type[Exception]
) -> None:
    """A renewal runs inside a store operation: the retry layer retries that operation, so nothing loops here."""
    session = FakeSession([])
    credentials = provider(session, api_attempts=5)
    credentials.location()
    assert credentials.fetch().access_key_id == "AKIAEXAMPLE0001"  # the first call's, kept for first use
    assert session.calls == 1
    session.script = [failure]
    with pytest.raises(expected) as caught:
        credentials.fetch()
    assert caught.value.retryable  # type: ignore[attr-defined]
    assert session.calls == 2
    assert waits == []
    assert credentials.fetch().access_key_id == "AKIAEXAMPLE0001"  # the next try (the retry layer's) succeeds
