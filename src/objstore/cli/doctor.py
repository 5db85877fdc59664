"""``objstore doctor [LOCATION]``: check a store's configuration, credentials, reachability, authentication,
clock and (with ``--write``) write permission, one line per check, and say what to fix.

Each check prints ``ok   <check>: <detail>``, ``warn <check>: ...``, ``skip <check>: ...`` or
``FAIL <check>: <what is wrong> - <what to do>``; the exit code is that of the first failure (see
:mod:`objstore.cli.errors`), 0 when all pass. The probes run with retries off and short timeouts, so a dead
endpoint is reported in seconds. Nothing secret is printed: settings are named, never shown, and any secret
found in the environment is masked in what a store's error says.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import click

from objstore.cli.app import main
from objstore.cli.errors import EXIT_AUTH, EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, classify, handled
from objstore.cli.locations import config_file, default_store_url, layers, load_remotes, parse_location
from objstore.cli.output import echo
from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    Throttled,
    TransientError,
)
from objstore.domain.service import ObjectStorageService
from objstore.factory import ObjectStorageFactory
from objstore.ports.storage import ForwardingAdapter, IObjectStorageAdapter, unwrap

__all__ = ["Check", "doctor", "run_checks"]

CONNECT_TIMEOUT = 3.0  # seconds to wait for a connection, in every probe
READ_TIMEOUT = 10.0  # seconds to wait for an answer
CLOCK_WARN, CLOCK_FAIL = 30.0, 300.0  # seconds of difference with the server's clock

# Per scheme: the options that bound a probe's waits (each store names its timeouts its own way). A folder store
# keeps its default: a missing folder reads as empty, and only --write's probe creates it.
_PROBE_OPTIONS: dict[str, dict[str, Any]] = {
    "s3": {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT},
    "gs": {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT},
    "az": {"connection_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT},
    "naas": {
        "connect_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "api_timeout": READ_TIMEOUT,
        "api_attempts": 1,
    },
    "altastata": {"read_timeout": READ_TIMEOUT},
}
_RETRY_OPTIONS = ("retry", "retry_attempts", "retry_deadline")
_SECRET_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "NAAS_API_KEY",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_CLIENT_SECRET",
)
_URL_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#]+)\?\S*", re.IGNORECASE)
_URL_USER = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@]+@", re.IGNORECASE)
_PROBE = b"objstore doctor: a probe of write permission, deleted at once\n"


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``status`` is ok, warn, skip or fail; a failure has a ``hint`` and an exit ``code``."""

    name: str
    status: str
    detail: str
    hint: str = ""
    code: int = EXIT_OK

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def line(self) -> str:
        label = "FAIL" if self.failed else self.status
        text = f"{label:<4} {self.name}: {self.detail}"
        return redact(f"{text} - {self.hint}" if self.hint else text)

    def as_dict(self) -> dict[str, str | int]:
        return {
            "check": self.name,
            "status": self.status,
            "detail": redact(self.detail),
            "hint": redact(self.hint),
            "code": self.code,
        }


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def _fail(name: str, detail: str, hint: str, code: int = EXIT_FAILED) -> Check:
    return Check(name, "fail", detail, hint, code)


def redact(text: str) -> str:
    """``text`` without any secret of the environment, URL query (a signature, a token) or user in a URL."""
    for name in _SECRET_VARIABLES:
        value = os.environ.get(name, "")
        if len(value) >= 6:
            text = text.replace(value, "***")
    return _URL_USER.sub(r"\1***@", _URL_QUERY.sub(r"\1?...", text))


# --- configuration ------------------------------------------------------------------------------------------


def _target(location: str | None) -> tuple[str | None, str]:
    """The store URL to check (None: the Naas settings or the default store) and which settings name it."""
    if location:
        if "://" not in location and ":" in location:
            name = location.split(":", 1)[0]
            if name in load_remotes():
                return parse_location(location).url, f"remote {name!r} in {config_file()}"
        parsed = parse_location(location)
        if parsed.url is None:
            assert parsed.local is not None
            return "file://" + str(parsed.local.absolute()), "the local folder given"
        return parsed.url, "the URL given"
    url = os.environ.get("OBJSTORE_URL", "").strip()
    return (url, "OBJSTORE_URL") if url else (None, "the Naas settings")


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    return "file" if len(scheme) <= 1 else scheme


def _probe_options(scheme: str) -> dict[str, Any]:
    """The group's layer options (concurrency, logging ...) with retries off and the probe's short timeouts."""
    options = {name: value for name, value in layers.items() if name not in _RETRY_OPTIONS}
    return {**options, "retry": False, **_PROBE_OPTIONS.get(scheme, {})}


def _without_retries(url: str) -> str:
    """The URL without retry options in its query: a check is tried once (and a URL's query wins over options)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(name, value) for name, value in query if name not in _RETRY_OPTIONS]
    return url if kept == query else urlunsplit(parts._replace(query=urlencode(kept)))


def _naas_source() -> str:
    named = ("NAAS_API_KEY", "NAAS_WORKSPACE_ID", "NAAS_STORAGE_NAME", "NAAS_API_URL")
    found = [name for name in named if os.environ.get(name)]
    files = " and config.yaml" if Path("config.yaml").is_file() else ""
    return f"the Naas settings ({', '.join(found) or 'none in the environment'}{files})"


def _open(url: str | None, source: str) -> tuple[ObjectStorageService, str]:
    if url is not None:
        return ObjectStorageFactory.from_url(_without_retries(url), **_probe_options(_scheme(url))), source
    try:
        return ObjectStorageFactory.from_env(**_probe_options("naas")), _naas_source()
    except ConfigurationError as exc:
        if "no store configured" not in exc.message:
            raise
    default = default_store_url()
    options = _probe_options("file")
    return ObjectStorageFactory.from_url(default, **options), "the default store: no OBJSTORE_URL or Naas settings"


def _configuration(location: str | None) -> tuple[Check, ObjectStorageService | None]:
    source = "the location given" if location else "the configuration"
    try:
        url, source = _target(location)
        service, source = _open(url, source)
    except (CommandError, ObjectStorageError, ValueError) as exc:
        code, message = classify(exc)
        hint = f"fix {source}"
        if isinstance(exc, (AuthenticationError, PermissionDenied)):
            hint = "check the API key or credentials the store is built with"
        elif isinstance(exc, (TransientError, Throttled)):
            hint = "check the network, and that the service the store is built from answers"
        return _fail("configuration", message, hint, code), None
    location_text = getattr(service, "location", None) or repr(service)
    return _ok("configuration", f"{location_text} (from {source})"), service


# --- credentials --------------------------------------------------------------------------------------------


def _s3_of(adapter: IObjectStorageAdapter) -> Any:
    """The S3 adapter of an S3-family store (S3 itself, or the S3 store inside a Naas store), else None."""
    store = unwrap(adapter)
    if store.name == "naas" and isinstance(store, ForwardingAdapter):
        store = unwrap(store.inner)
    return store if store.name == "s3" else None


_AWS_METHODS = {
    "shared-credentials-file": "the shared credentials file ({credentials}), profile {profile}",
    "config-file": "the AWS config file ({config}), profile {profile}",
    "sso": "AWS IAM Identity Center (SSO), profile {profile} ('aws sso login' renews it)",
    "assume-role": "a role assumed by profile {profile}",
    "assume-role-with-web-identity": "a web identity token (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
    "custom-process": "the credential_process of profile {profile}",
    "container-role": "the container's role (ECS or EKS)",
    "iam-role": "the instance's role (EC2 instance metadata)",
}


def _aws_method(method: str, profile: str) -> str:
    if method == "env":
        named = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        return f"the environment ({', '.join(name for name in named if os.environ.get(name))})"
    template = _AWS_METHODS.get(method, "the AWS SDK chain ({method})")
    return template.format(
        method=method,
        profile=profile,
        credentials=os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
        config=os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config",
    )


def _s3_credentials(config: Any) -> Check:
    if config.access_key_id:
        return _ok("credentials", "keys given to the store (access_key_id, secret_access_key)")
    if config.credentials_provider is not None:
        return _ok("credentials", f"a credentials provider ({type(config.credentials_provider).__name__})")
    import botocore.exceptions
    import botocore.session

    profile = config.profile_name or os.environ.get("AWS_PROFILE") or "default"
    try:
        found = botocore.session.Session(profile=config.profile_name).get_credentials()
    except botocore.exceptions.ProfileNotFound as exc:
        return _fail("credentials", str(exc), "check AWS_PROFILE and the profiles in ~/.aws/config", EXIT_USAGE)
    except botocore.exceptions.BotoCoreError as exc:
        return _fail("credentials", f"cannot load S3 credentials: {exc}", "check profile " + profile, EXIT_AUTH)
    if found is None:
        return _fail(
            "credentials",
            "no S3 credentials found",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile in ~/.aws), "
            "or run where an instance or container role is available",
            EXIT_AUTH,
        )
    return _ok("credentials", f"from {_aws_method(str(found.method), profile)}")


def _gcs_credentials(config: Any) -> Check:
    if config.credentials is not None or config.service_account_path:
        return _ok("credentials", "given to the store (credentials or service_account_path)")
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return _ok("credentials", "the key file named by GOOGLE_APPLICATION_CREDENTIALS")
    if config.endpoint or os.environ.get("STORAGE_EMULATOR_HOST"):
        return _ok("credentials", "none: an emulator endpoint is used anonymously")
    return _ok("credentials", "Application Default Credentials (gcloud auth application-default login, metadata)")


def _azure_credentials(config: Any) -> Check:
    given = [name for name in ("connection_string", "account_key", "sas_token", "credential") if getattr(config, name)]
    if given:
        return _ok("credentials", f"given to the store ({', '.join(given)})")
    named = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN")
    found = [name for name in named if os.environ.get(name)]
    if found:
        return _ok("credentials", f"the environment ({', '.join(found)})")
    return _ok("credentials", "azure-identity's default chain (az login, a managed identity, AZURE_CLIENT_ID ...)")


def _credentials(adapter: IObjectStorageAdapter) -> Check:
    """Where the store's credentials come from (named, never shown), and whether any were found."""
    store = unwrap(adapter)
    if store.name == "naas":
        return _ok("credentials", "temporary S3 keys from the Naas API (NAAS_API_KEY), renewed before they expire")
    s3 = _s3_of(adapter)
    if s3 is not None:
        return _s3_credentials(s3.config)
    config = getattr(store, "config", None)
    if store.name == "gcs" and config is not None:
        return _gcs_credentials(config)
    if store.name == "azure" and config is not None:
        return _azure_credentials(config)
    if store.name in ("filesystem", "memory"):
        return _ok("credentials", f"none needed (a {'local folder' if store.name == 'filesystem' else 'memory'} store)")
    return Check("credentials", "skip", f"not checked for the {store.name} store")


# --- reachability and authentication -----------------------------------------------------------------------


def _azure_endpoint(config: Any) -> str | None:
    if config.account_url:
        return str(config.account_url)
    connection = config.connection_string or os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or ""
    fields = dict(part.split("=", 1) for part in connection.split(";") if "=" in part)
    if fields.get("BlobEndpoint"):
        return fields["BlobEndpoint"]
    if fields.get("UseDevelopmentStorage", "").lower() == "true":
        return "http://127.0.0.1:10000/devstoreaccount1"
    account = config.account_name or fields.get("AccountName") or os.environ.get("AZURE_STORAGE_ACCOUNT")
    suffix = fields.get("EndpointSuffix", "core.windows.net")
    return f"https://{account}.blob.{suffix}" if account else None


def endpoint_of(adapter: IObjectStorageAdapter) -> str | None:
    """The HTTP endpoint a store's requests go to, as the adapter resolves it; None for a local store."""
    s3 = _s3_of(adapter)
    if s3 is not None:
        config = s3.config
        explicit = config.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if explicit:
            return str(explicit)
        region = config.region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return f"https://s3.{region}.amazonaws.com" if region else "https://s3.amazonaws.com"
    store = unwrap(adapter)
    config = getattr(store, "config", None)
    if store.name == "gcs" and config is not None:
        endpoint = config.endpoint or os.environ.get("STORAGE_EMULATOR_HOST") or "https://storage.googleapis.com"
        return str(endpoint) if "://" in endpoint else f"http://{endpoint}"
    if store.name == "azure" and config is not None:
        return _azure_endpoint(config)
    return None


def _connect(endpoint: str) -> Check:
    """A TCP connection to the endpoint (through no proxy: with one, the listing alone tells)."""
    hint = "check the endpoint URL (endpoint_url, AWS_ENDPOINT_URL ...), that the server runs, and the network"
    parts = urlsplit(endpoint)
    host = parts.hostname or endpoint
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return _fail("reachability", f"the endpoint {endpoint!r} has no valid port", hint, EXIT_USAGE)
    if urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return _ok("reachability", f"{host}:{port} is reached through a proxy")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except socket.gaierror as exc:
        return _fail("reachability", f"cannot reach {host}: the name does not resolve ({exc.strerror})", hint)
    except TimeoutError:
        return _fail("reachability", f"cannot reach {host}:{port}: no answer within {CONNECT_TIMEOUT:.0f} s", hint)
    except OSError as exc:
        return _fail("reachability", f"cannot reach {host}:{port}: {(exc.strerror or str(exc)).lower()}", hint)
    return _ok("reachability", f"{host}:{port} accepts connections")


def _list_one(service: ObjectStorageService, endpoint: str | None) -> list[Check]:
    """List one entry of the store's folder: whether the store answers, and lets these credentials list."""
    where = service.location
    host = urlsplit(endpoint).netloc if endpoint else where
    try:
        next(iter(service.iter_objects("", recursive=False, page_size=1)), None)
    except AuthenticationError as exc:
        hint = "check the credentials named above (the key id and its secret) and that they are for this endpoint"
        return [_fail("authentication", f"the store refused the credentials: {exc}", hint, EXIT_AUTH)]
    except PermissionDenied as exc:
        hint = "grant these credentials list permission (s3:ListBucket) on the bucket and prefix"
        return [_fail("authentication", f"not allowed to list {where}: {exc}", hint, EXIT_AUTH)]
    except (TransientError, Throttled) as exc:
        hint = "check the endpoint URL, the server, and any proxy or firewall between"
        return [_fail("reachability", f"cannot reach {host}: {exc}", hint, EXIT_FAILED)]
    except ObjectNotFound as exc:
        if endpoint is None:  # a folder store's folder is made by the first write
            return [Check("authentication", "warn", f"nothing there yet: {exc}")]
        hint = "check that the endpoint URL is the store's service, and the bucket's name"
        return [_fail("listing", f"{host} has no such bucket or folder: {exc}", hint, EXIT_FAILED)]
    except ObjectStorageError as exc:
        code, message = classify(exc)
        hint = "check its name, or create it ('objstore mb')" if "bucket" in message.lower() else "see the message"
        return [_fail("listing", message, hint, code)]
    return [_ok("authentication", f"allowed to list {where}")]


# --- clock --------------------------------------------------------------------------------------------------


def _ca_bundle(adapter: IObjectStorageAdapter) -> str | None:
    s3 = _s3_of(adapter)
    explicit = s3.config.ca_bundle if s3 is not None else None
    return explicit or os.environ.get("AWS_CA_BUNDLE") or os.environ.get("REQUESTS_CA_BUNDLE") or None


def _server_date(endpoint: str, ca_bundle: str | None) -> tuple[str | None, float]:
    """The ``Date`` header of an unsigned HEAD of the endpoint, and the local time halfway through the request."""
    context = ssl.create_default_context(cafile=ca_bundle) if endpoint.startswith("https:") else None
    request = urllib.request.Request(endpoint, method="HEAD")  # noqa: S310  (the scheme is http or https)
    sent = time.time()
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:  # noqa: S310
            date = response.headers.get("Date")
    except urllib.error.HTTPError as exc:  # a 403 or 405 still carries the server's Date
        date = exc.headers.get("Date")
        exc.close()
    return date, (sent + time.time()) / 2


def _clock(endpoint: str, ca_bundle: str | None) -> Check:
    """The server's clock against ours: signed requests too far off are refused."""
    try:
        date, local = _server_date(endpoint, ca_bundle)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("clock", "warn", f"could not read the server's clock: {reason}")
    if not date:
        return Check("clock", "warn", "the endpoint sent no Date header: the clock was not compared")
    try:
        skew = parsedate_to_datetime(date).timestamp() - local
    except (TypeError, ValueError):
        return Check("clock", "warn", f"the endpoint's Date header is not a date: {date!r}")
    off = f"{abs(skew):,.0f} s {'behind' if skew > 0 else 'ahead of'} the server's"
    fix = "set the clock right (NTP: 'timedatectl set-ntp true'); signed requests far off are refused"
    if abs(skew) > CLOCK_FAIL:
        return _fail("clock", f"the local clock is {off}", fix, EXIT_AUTH)
    if abs(skew) > CLOCK_WARN:
        return Check("clock", "warn", f"the local clock is {off}", fix)
    return _ok("clock", f"within {max(abs(skew), 1):,.0f} s of the server's")


# --- write --------------------------------------------------------------------------------------------------


def _write(service: ObjectStorageService) -> Check:
    """Put one small probe object in the store's folder and delete it."""
    key = f".objstore-doctor-{secrets.token_hex(6)}"
    where = service.location
    try:
        service.put_object("", key, _PROBE)
    except (AuthenticationError, PermissionDenied) as exc:
        hint = "grant these credentials write and delete permission (s3:PutObject, s3:DeleteObject)"
        return _fail("write", f"not allowed to write in {where}: {exc}", hint, EXIT_AUTH)
    except ObjectStorageError as exc:
        code, message = classify(exc)
        return _fail("write", f"cannot write a probe object in {where}: {message}", "see the message", code)
    try:
        service.delete_object("", key)
    except ObjectStorageError as exc:
        code, message = classify(exc)
        return _fail("write", f"wrote {key} but cannot delete it: {message}", f"delete {key} from {where}", code)
    return _ok("write", f"wrote and deleted a {len(_PROBE)}-byte probe object, {key}")


# --- the command --------------------------------------------------------------------------------------------


def run_checks(location: str | None, *, write: bool = False) -> Iterator[Check]:
    """The checks of a store, in order, each as soon as it is done (a failed configuration ends them)."""
    check, service = _configuration(location)
    yield check
    if service is None:
        return
    try:
        credentials = _credentials(service.adapter)
        yield credentials
        endpoint = endpoint_of(service.adapter)
        reached = _connect(endpoint) if endpoint else None
        if reached is not None and reached.failed:
            yield reached
            yield Check("authentication", "skip", "not tried (the endpoint cannot be reached)")
            listed = False
        elif credentials.failed:
            yield reached or _ok("reachability", "a local store")
            yield Check("authentication", "skip", "not tried (no credentials)")
            listed = False
        else:
            outcome = _list_one(service, endpoint)
            if outcome[0].name != "reachability":
                yield reached or _ok("reachability", f"{service.location} answers")
            yield from outcome
            listed = not any(found.failed for found in outcome)
        reachable = reached is None or not reached.failed
        yield from _later_checks(service, endpoint, write=write, listed=listed, reachable=reachable)
    finally:
        service.close()


def _later_checks(
    service: ObjectStorageService, endpoint: str | None, *, write: bool, listed: bool, reachable: bool
) -> Iterator[Check]:
    if endpoint is None:
        yield Check("clock", "skip", "a local store (no server clock)")
    elif reachable:
        yield _clock(endpoint, _ca_bundle(service.adapter))
    else:
        yield Check("clock", "skip", "not compared (the endpoint cannot be reached)")
    if not write:
        yield Check("write", "skip", "skipped write check (--write tries one small object)")
    elif listed:
        yield _write(service)
    else:
        yield Check("write", "skip", "not tried (the store could not be listed)")


@main.command(name="doctor")
@click.argument("location", required=False)
@click.option("--write", is_flag=True, help="Also write one small probe object (.objstore-doctor-...) and delete it.")
@click.option("--json", "json_output", is_flag=True, help="The checks as one JSON list.")
def doctor(location: str | None, write: bool, json_output: bool) -> None:
    """Check a store and say what to fix: configuration, credentials, reachability, authentication, clock skew,
    and with --write the permission to write.

    LOCATION is a URL (s3://bucket/dir), a named remote (backup: or backup:dir), or nothing: the configured store
    (OBJSTORE_URL, else the Naas settings, else the default store). Probes are tried once, with short timeouts.
    The exit code is that of the first failed check (2 configuration, 3 credentials or permission, 1 other), 0
    when all pass. No secret is printed.
    """
    checks: list[Check] = []
    with handled():
        for check in run_checks(location, write=write):
            checks.append(check)
            if not json_output:
                echo(check.line())
        if json_output:
            echo(json.dumps([check.as_dict() for check in checks]))
    failures = [check for check in checks if check.failed]
    sys.exit(failures[0].code if failures else EXIT_OK)
