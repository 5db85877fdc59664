"""Naas: a workspace's storage, reached with temporary S3 credentials from the Naas API.

The Naas API answers ``POST {api_url}/workspace/{workspace_id}/storage/credentials/`` (``Authorization: Bearer
{naas_api_key}``, body ``{"name": storage_name}``) with ``credentials.s3``: ``endpoint_url``
(``s3://<bucket>/<workspace_id>/<storage_name>``), ``region_name``, ``access_key_id``, ``secret_key``,
``session_token`` and ``expiration`` (``"%Y-%m-%d %H:%M:%S%z"``, or null for none).

:class:`NaasCredentialsProvider` calls that API and is the refreshing credentials provider of an S3 adapter:
credentials are renewed a margin before they expire, once across threads, and once more when S3 rejects them.
A renewal that fails raises a typed error (``TransientError``, ``Throttled`` ...) and the retry layer retries the
operation that needed it; only the first call, made while the store is built (outside any operation, so with no
retry layer around it), tries an API that is down again itself. :class:`NaasAdapter` is that S3 adapter under
the Naas name; the factory composes the two (``ObjectStorageFactory.ObjectStorageServiceNaas``, ``naas://``
URLs), reading the Naas settings with :meth:`NaasConfig.url_fields` and :meth:`NaasConfig.environment_settings`.

``requests`` (the ``naas`` extra) is imported when the provider is made, so the settings can be read without it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit

from objstore.domain.backoff import backoff_delay
from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    NotSupported,
    ObjectStorageError,
    PermissionDenied,
    Throttled,
    TransientError,
)
from objstore.domain.models import Capabilities
from objstore.ports.credentials import Credentials, ICredentialsProvider
from objstore.ports.storage import ForwardingAdapter, IObjectStorageAdapter

if TYPE_CHECKING:
    import requests

__all__ = ["NaasAdapter", "NaasConfig", "NaasCredentialsProvider", "NaasLocation"]

log = logging.getLogger("objstore.naas")

DEFAULT_API_URL = "https://api.naas.ai"
EXPIRATION_FORMAT = "%Y-%m-%d %H:%M:%S%z"
SECRET = {"secret": True}
MiB = 1024 * 1024


@dataclass(frozen=True)
class NaasConfig:
    """Options of the Naas store.

    Attributes:
        workspace_id: The workspace (``naas://WORKSPACE/storage/prefix``); else ``NAAS_WORKSPACE_ID``.
        storage_name: The storage (``naas://workspace/STORAGE/prefix``); else ``NAAS_STORAGE_NAME``.
        base_prefix: A folder inside the storage that is the store's root.
        naas_api_key: The Naas API key; else ``NAAS_API_KEY``. Never in a URL, a log or an error.
        api_url: The Naas API; else ``NAAS_API_URL``, else ``https://api.naas.ai``.
        endpoint_url: The S3 endpoint, for S3-compatible Naas deployments (and tests); AWS otherwise.
        refresh_margin_seconds: Renew credentials this long before they expire (never sooner than half their
            lifetime).
        ttl_seconds: For credentials the API gives without an expiration: their assumed lifetime.
        api_timeout: Seconds per API request (to connect, and to wait for the answer).
        api_attempts: Attempts at the API when it is down or overloaded (exponential backoff with jitter) while the
            store is built: no retry layer is around that first call. Later renewals are tried once each, and
            the retry layer retries the operation that needed them. An API that times out is not tried again
            here.
        connect_timeout, read_timeout: Of the S3 requests, as for the S3 store (10 s and 60 s).
        multipart_threshold, multipart_chunksize, max_concurrency, hierarchical, backslash_in_keys: as for the S3
            store.
    """

    workspace_id: str = ""
    storage_name: str = ""
    base_prefix: str = ""
    naas_api_key: str | None = field(default=None, repr=False, metadata=SECRET)
    api_url: str | None = None
    endpoint_url: str | None = None
    refresh_margin_seconds: float = 300.0
    ttl_seconds: float = 3600.0
    api_timeout: float = 30.0
    api_attempts: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    multipart_threshold: int = 16 * MiB
    multipart_chunksize: int = 8 * MiB
    max_concurrency: int = 8
    hierarchical: bool = False
    backslash_in_keys: bool = True

    @staticmethod
    def url_fields(parts: SplitResult) -> dict[str, Any]:
        """The fields a ``naas://WORKSPACE/STORAGE/base/prefix`` URL gives; bare ``naas://`` gives none (both are
        then taken from the environment)."""
        storage, _, base_prefix = unquote(parts.path).strip("/").partition("/")
        if not parts.netloc and not storage:
            return {}
        if not parts.netloc or not storage:
            raise ConfigurationError("a naas:// URL is naas://WORKSPACE_ID/STORAGE_NAME[/prefix]")
        fields: dict[str, Any] = {"workspace_id": unquote(parts.netloc), "storage_name": storage}
        if base_prefix:
            fields["base_prefix"] = base_prefix
        return fields

    @staticmethod
    def environment_settings(
        env: Mapping[str, str], config_file: Path, dotenv_file: Path | None = None
    ) -> dict[str, str] | None:
        """The Naas settings of an environment, or None if it has none, read as the original scripts did:
        ``NAAS_API_KEY`` (from the environment, else from ``dotenv_file``, a project's ``.env``) with
        ``NAAS_WORKSPACE_ID`` and ``NAAS_STORAGE_NAME`` (else ``config.workspace_id`` and ``config.storage_name``
        in ``config_file``, a Naas project's ``config.yaml``), and ``NAAS_API_URL``.

        Raises:
            ConfigurationError: The settings are there but incomplete (an API key without a workspace and
                storage, or a ``config.yaml`` naming a workspace without an API key): an error, never a silent
                fall back to another store.
        """
        env = {**_dotenv(dotenv_file), **env}  # the process environment wins, as python-dotenv loads it
        section = _project_config(config_file) if config_file.is_file() else {}
        workspace = env.get("NAAS_WORKSPACE_ID", "") or str(section.get("workspace_id") or "")
        storage = env.get("NAAS_STORAGE_NAME", "") or str(section.get("storage_name") or "")
        if not env.get("NAAS_API_KEY"):
            if workspace or storage:
                raise ConfigurationError(
                    f"a Naas workspace is configured ({config_file} or NAAS_WORKSPACE_ID) but NAAS_API_KEY is not "
                    "set: set it in the environment or in .env"
                )
            return None
        if not workspace or not storage:
            raise ConfigurationError(
                "NAAS_API_KEY is set but the Naas store also needs NAAS_WORKSPACE_ID and NAAS_STORAGE_NAME (or "
                f"config.workspace_id and config.storage_name in {config_file})"
            )
        settings = {"naas_api_key": env["NAAS_API_KEY"], "workspace_id": workspace, "storage_name": storage}
        if env.get("NAAS_API_URL"):
            settings["api_url"] = env["NAAS_API_URL"]
        return settings

    def resolved(self, environ: Mapping[str, str] | None = None) -> NaasConfig:
        """The config with what was not given taken from the environment; checked."""
        env = os.environ if environ is None else environ
        config = NaasConfig(
            **{
                **self.__dict__,
                "workspace_id": self.workspace_id or env.get("NAAS_WORKSPACE_ID", ""),
                "storage_name": self.storage_name or env.get("NAAS_STORAGE_NAME", ""),
                "naas_api_key": (self.naas_api_key or env.get("NAAS_API_KEY") or "").strip() or None,
                "api_url": (self.api_url or env.get("NAAS_API_URL") or DEFAULT_API_URL).rstrip("/"),
            }
        )
        missing = [
            name
            for name, value in (
                ("workspace_id (NAAS_WORKSPACE_ID)", config.workspace_id),
                ("storage_name (NAAS_STORAGE_NAME)", config.storage_name),
                ("naas_api_key (NAAS_API_KEY)", config.naas_api_key),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"the Naas store needs {', '.join(missing)}")
        if config.api_attempts < 1:
            raise ConfigurationError("api_attempts must be at least 1")
        timeouts = (config.api_timeout, config.connect_timeout, config.read_timeout)
        if not all(0 < timeout < math.inf for timeout in timeouts):
            raise ConfigurationError(
                "api_timeout, connect_timeout and read_timeout must be positive numbers of seconds"
            )
        return config


def _dotenv(dotenv_file: Path | None) -> Mapping[str, str]:
    """The ``NAAS_*`` settings of a project's ``.env`` (python-dotenv's format), never put in ``os.environ``."""
    if dotenv_file is None or not dotenv_file.is_file():
        return {}
    try:
        from dotenv import dotenv_values
    except ModuleNotFoundError as exc:
        if "NAAS_" not in dotenv_file.read_text(errors="replace"):
            return {}  # a .env about something else: nothing of ours in it
        raise ConfigurationError(f"reading {dotenv_file} needs python-dotenv: pip install 'objstore[naas]'") from exc
    values = dotenv_values(dotenv_file)
    return {name: value for name, value in values.items() if name.startswith("NAAS_") and value}


def _project_config(config_file: Path) -> Mapping[str, Any]:
    """The ``config`` section of a Naas project's ``config.yaml``."""
    try:
        import yaml
    except ModuleNotFoundError as exc:
        raise ConfigurationError(f"reading {config_file} needs PyYAML: pip install 'objstore[naas]'") from exc
    try:
        section = (yaml.safe_load(config_file.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ConfigurationError(f"cannot read the Naas settings in {config_file}: {exc}") from None
    if not isinstance(section, Mapping):
        raise ConfigurationError(f"the config section of {config_file} is not a mapping")
    return section


class _ApiTimeout(TransientError):
    """The Naas API did not answer in time: retryable, but by the retry layer (one timeout per try), not here."""


def _retry_at_start(error: BaseException) -> bool:
    """What the first call tries again itself: failures that cost little (refused connections, 5xx, 429)."""
    return isinstance(error, TransientError | Throttled) and not isinstance(error, _ApiTimeout)


@dataclass(frozen=True)
class NaasLocation:
    """Where a Naas storage lives in S3, as the API says."""

    bucket: str
    prefix: str
    region_name: str | None


class NaasCredentialsProvider(ICredentialsProvider):
    """Fetches a storage's temporary S3 credentials (and its location) from the Naas API.

    Args:
        config: A :class:`NaasConfig` (resolved against the environment here).
        session: A ``requests`` session to use (tests, proxies); a new one by default.
    """

    def __init__(self, config: NaasConfig, session: requests.Session | None = None) -> None:
        import requests  # the naas extra; a missing one is reported by the factory with the extra's name

        self.config = config.resolved()
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._location: NaasLocation | None = None
        self._primed: Credentials | None = None
        self.fetch_count = 0

    def __repr__(self) -> str:
        return f"NaasCredentialsProvider(workspace={self.config.workspace_id!r}, storage={self.config.storage_name!r})"

    @property
    def _where(self) -> str:
        return f"workspace {self.config.workspace_id!r}, storage {self.config.storage_name!r}"

    def location(self) -> NaasLocation:
        """The bucket and prefix of the storage (asks the API once, keeping those credentials for first use)."""
        with self._lock:
            if self._location is None:
                self._primed = self._fetch_at_start()
            assert self._location is not None
            return self._location

    def fetch(self) -> Credentials:
        """Credentials for the S3 adapter: those of the first call, then new ones from one API call each.

        Not retried here: a renewal runs inside a store operation, which the retry layer tries again on the
        typed, retryable error this raises (the API unreachable, overloaded or slow).
        """
        with self._lock:
            if self._primed is not None:
                primed, self._primed = self._primed, None
                return primed
            return self._fetch()

    def _fetch_at_start(self) -> Credentials:
        """The first call, made while the store is built: outside any store operation, so outside the retry layer,
        which wraps the store only once it exists. An API that is down or overloaded is therefore tried again
        here, ``api_attempts`` times in all with full-jitter backoff (the one bounded loop of this module)."""
        attempt = 1
        while True:
            try:
                return self._fetch()
            except ObjectStorageError as exc:
                if attempt >= self.config.api_attempts or not _retry_at_start(exc):
                    raise
                time.sleep(backoff_delay(attempt, exc, max_wait=5.0))
                attempt += 1

    def _fetch(self) -> Credentials:
        credentials, location = self._parse(self._request())
        self._location = location
        self.fetch_count += 1
        log.debug(
            "fetched Naas credentials for %s (key ...%s), expiring %s",
            self._where,
            credentials.access_key_id[-4:],
            credentials.expires_at.isoformat() if credentials.expires_at else "never",
        )
        return credentials

    def _request(self) -> Any:
        import requests

        config = self.config
        url = f"{config.api_url}/workspace/{config.workspace_id}/storage/credentials/"
        try:
            response = self._session.post(
                url,
                json={"name": config.storage_name},
                headers={"Authorization": f"Bearer {config.naas_api_key}", "Content-Type": "application/json"},
                timeout=config.api_timeout,
            )
        except requests.Timeout as exc:
            raise _ApiTimeout(
                f"the Naas API at {config.api_url} did not answer within {config.api_timeout:g}s ({type(exc).__name__})"
            ) from None
        except requests.ConnectionError as exc:
            raise TransientError(f"the Naas API at {config.api_url} is unreachable ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            # Its message may hold the request's headers (the API key): only the type is kept, no cause.
            raise ConfigurationError(
                f"cannot call the Naas API at {config.api_url!r} ({type(exc).__name__}): check NAAS_API_URL"
            ) from None
        status = response.status_code
        if status == 401:
            raise AuthenticationError(f"the Naas API refused the API key for {self._where}", status=status)
        if status == 403:
            raise PermissionDenied(f"the Naas API key may not use {self._where}", status=status)
        if status == 404:
            raise ConfigurationError(f"the Naas API does not know {self._where}", status=status)
        if status == 429:
            raise Throttled("the Naas API asked us to slow down", status=status)
        if status >= 500:
            raise TransientError(f"the Naas API failed with {status}", status=status)
        if status >= 400:
            raise ObjectStorageError(f"the Naas API answered {status} for {self._where}", status=status)
        try:
            return response.json()
        except ValueError:
            raise ConfigurationError(f"the Naas API's answer for {self._where} is not JSON") from None

    def _parse(self, answer: Any) -> tuple[Credentials, NaasLocation]:
        def field_of(container: Any, name: str, path: str) -> Any:
            if not isinstance(container, Mapping) or name not in container:
                raise ConfigurationError(f"the Naas API's answer has no {path}")
            return container[name]

        s3 = field_of(field_of(answer, "credentials", "credentials"), "s3", "credentials.s3")
        values = {}
        for name in ("endpoint_url", "access_key_id", "secret_key"):
            value = field_of(s3, name, f"credentials.s3.{name}")
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"the Naas API's credentials.s3.{name} is not a non-empty string")
            values[name] = value
        token = s3.get("session_token")
        if token is not None and not isinstance(token, str):
            raise ConfigurationError("the Naas API's credentials.s3.session_token is not a string")
        region = s3.get("region_name")
        if region is not None and not isinstance(region, str):
            raise ConfigurationError("the Naas API's credentials.s3.region_name is not a string")
        expires_at = None
        expiration = s3.get("expiration")
        if expiration is not None:
            try:
                expires_at = datetime.strptime(str(expiration), EXPIRATION_FORMAT).astimezone(timezone.utc)
            except ValueError:
                raise ConfigurationError(
                    f"the Naas API's credentials.s3.expiration {expiration!r} is not like '2026-01-31 12:00:00+0000'"
                ) from None
        if expires_at is None:  # no expiration given: assume the TTL, so they are renewed all the same
            expires_at = datetime.now(timezone.utc) + timedelta(seconds=self.config.ttl_seconds)
        parts = urlsplit(values["endpoint_url"])
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigurationError("the Naas API's credentials.s3.endpoint_url is not an s3://bucket/prefix URL")
        location = NaasLocation(parts.netloc, parts.path.strip("/"), region or None)
        credentials = Credentials(values["access_key_id"], values["secret_key"], token or None, expires_at)
        return credentials, location


class NaasAdapter(ForwardingAdapter):
    """A Naas storage: the S3 adapter it was composed with, under the Naas name.

    Build it with ``ObjectStorageFactory.ObjectStorageServiceNaas`` or a ``naas://`` URL.
    """

    name = "naas"

    def __init__(self, config: NaasConfig, inner: IObjectStorageAdapter, provider: NaasCredentialsProvider) -> None:
        super().__init__(inner)
        self.config = config
        self.provider = provider

    @property
    def capabilities(self) -> Capabilities:
        """The S3 store's, but for its bucket: that is the provider's (see :meth:`make_bucket`)."""
        return dataclasses.replace(self.inner.capabilities, buckets=False)

    def make_bucket(self) -> None:
        raise NotSupported(
            "a Naas storage's bucket is the provider's: create the storage in the Naas workspace, not with objstore"
        )

    def remove_bucket(self) -> None:
        raise NotSupported(
            "a Naas storage's bucket is the provider's: remove the storage in the Naas workspace, not with objstore"
        )

    def __repr__(self) -> str:
        return f"NaasAdapter({self.location!r})"

    @property
    def location(self) -> str:
        """``naas://workspace/storage/prefix``."""
        where = f"naas://{self.provider.config.workspace_id}/{self.provider.config.storage_name}"
        return (where + "/" + self.config.base_prefix.strip("/")).rstrip("/")
