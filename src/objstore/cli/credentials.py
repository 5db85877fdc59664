"""Credentials for other tools: ``objstore credential-process URL`` and ``objstore dvc-remote NAME URL``.

``credential-process`` prints a store's current S3 credentials as AWS ``credential_process`` JSON, so any AWS SDK,
the aws CLI or DVC, given a profile such as::

    [profile naas]
    credential_process = objstore credential-process naas://WORKSPACE/STORAGE

asks objstore for fresh temporary credentials whenever the ones it has are about to expire, and no secret is ever
on a command line. AWS SDKs run it again before nearly every request once the credentials are within their
refresh window, so it starts fast: a Naas store asks the Naas API only (the S3 client is never built).

``dvc-remote`` configures a DVC S3 remote for a store: the shareable part (``url``, ``endpointurl``, ``region``) in
``.dvc/config``, and the machine's part in ``.dvc/config.local``: by default a ``profile`` whose
``credential_process`` runs objstore (in ``.dvc/objstore-aws-config``, named by ``configpath``), or with
``--credentials keys`` the current keys themselves. No secret is ever written to ``.dvc/config``.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import shlex
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import click

from objstore.cli.app import main
from objstore.cli.errors import EXIT_USAGE, CommandError, handled
from objstore.cli.locations import parse_location
from objstore.cli.output import echo
from objstore.domain.errors import ConfigurationError
from objstore.ports.credentials import Credentials

if TYPE_CHECKING:
    from objstore.adapters.naas import NaasConfig
    from objstore.adapters.s3 import S3Adapter

__all__ = ["credential_process", "credential_process_json", "dvc_remote"]

# The stores whose AWS chain is being resolved, one URL a line, in the environment of that lookup: a profile whose
# credential_process is objstore for the same store, reached again through the chain (AWS_PROFILE naming it),
# would otherwise start objstore without end.
_NESTED = "OBJSTORE_CREDENTIAL_PROCESS_ACTIVE"
# The AWS chain's temporary credentials (an SSO or assume-role profile) do not say publicly when they expire:
# they are handed on as expiring this soon, so callers ask again well within their real lifetime.
_UNKNOWN_EXPIRY = timedelta(minutes=10)
_SECRET_KEYS = ("access_key_id", "secret_access_key", "session_token")
AWS_CONFIG_NAME = "objstore-aws-config"


# --- credential-process ----------------------------------------------------------------------------------------


def credential_process_json(credentials: Credentials) -> str:
    """The AWS ``credential_process`` document (Version 1) for ``credentials``; no Expiration for static keys."""
    document: dict[str, Any] = {
        "Version": 1,
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
    }
    if credentials.session_token:
        document["SessionToken"] = credentials.session_token
    if credentials.expires_at is not None:
        document["Expiration"] = credentials.expires_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(document)


@main.command(name="credential-process")
@click.argument("url")
def credential_process(url: str) -> None:
    """Print an S3 or Naas store's current credentials as AWS credential_process JSON.

    \b
    For an AWS profile (~/.aws/config):
      credential_process = objstore credential-process naas://WORKSPACE/STORAGE
    """
    with handled():
        store_url = _store_url(url)
        active = [line for line in os.environ.get(_NESTED, "").split("\n") if line]
        if store_url in active:
            raise CommandError(
                "credential-process was started by itself: the AWS profile it reads runs objstore credential-process "
                "again (unset AWS_PROFILE for it, or give the S3 store its own profile with ?profile_name=...)"
            )
        os.environ[_NESTED] = "\n".join([*active, store_url])  # seen by the AWS chain's own credential processes
        echo(credential_process_json(store_credentials(store_url)))


def _store_url(text: str) -> str:
    """A store URL, or a named remote's (``backup:``)."""
    location = parse_location(text)
    if location.url is None:
        raise CommandError(f"{text!r} is not a store URL or a remote (naas://WORKSPACE/STORAGE, s3://bucket/prefix)")
    return location.url


def store_credentials(url: str) -> Credentials:
    """The current credentials of the S3 or Naas store at ``url``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "naas":
        return _naas_credentials(url)
    if scheme == "s3":
        return _s3_credentials(_s3_adapter(url))
    raise CommandError(f"credential-process gives S3 credentials: for s3:// and naas:// stores, not {scheme}://")


def _naas_credentials(url: str) -> Credentials:
    """Asks the Naas API alone (the S3 client a whole store would build costs most of a start-up)."""
    from objstore.adapters.naas import NaasCredentialsProvider

    provider = NaasCredentialsProvider(naas_config(url))
    provider.location()  # the first call: an API that is down or overloaded is tried again, as for a store
    return provider.fetch()


def naas_config(url: str) -> NaasConfig:
    """The Naas options of a ``naas://`` URL and its query (the S3 options among them are not needed here)."""
    from objstore.adapters.naas import NaasConfig

    parts = urlsplit(url)
    fields: dict[str, Any] = NaasConfig.url_fields(parts)
    known = {field.name: field for field in dataclasses.fields(NaasConfig)}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        field = known.get(name)
        if field is None:
            raise ConfigurationError(f"unknown option {name!r} for the naas:// store")
        if field.metadata.get("secret"):
            raise ConfigurationError(f"{name} is a secret: give it in the environment, never in a URL")
        fields[name] = _option(name, value, str(field.type))
    return NaasConfig(**fields)


def _option(name: str, value: str, annotation: str) -> Any:
    """A URL option's text as its field's type."""
    try:
        if annotation == "bool":
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if annotation in ("int", "float"):
            return int(value) if annotation == "int" else float(value)
    except ValueError:
        raise ConfigurationError(f"option {name} takes a {annotation}, not {value!r}") from None
    return value


def _s3_adapter(url: str) -> S3Adapter:
    """The S3 store of an ``s3://`` or ``naas://`` URL, without layers (nothing is sent to build it)."""
    from objstore.adapters.naas import NaasAdapter
    from objstore.adapters.s3 import S3Adapter
    from objstore.factory import ObjectStorageFactory
    from objstore.ports.storage import unwrap

    adapter = unwrap(ObjectStorageFactory.build_adapter(url, retry=False))
    if isinstance(adapter, NaasAdapter):
        adapter = adapter.inner
    if not isinstance(adapter, S3Adapter):
        raise CommandError(f"{url} is not an S3 store")
    return adapter


def _s3_credentials(adapter: S3Adapter) -> Credentials:
    """The credentials the S3 store signs with: the keys it was given, else the AWS chain's (the environment,
    the profile, SSO, instance roles ...), as the store itself resolves them."""
    config = adapter.config
    if config.access_key_id and config.secret_access_key:
        return Credentials(config.access_key_id, config.secret_access_key, config.session_token)
    if config.credentials_provider is not None:
        return config.credentials_provider.fetch()
    import botocore.credentials
    import botocore.session

    found = botocore.session.Session(profile=config.profile_name).get_credentials()
    if found is None:
        raise CommandError(
            "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE", EXIT_USAGE
        )
    frozen = found.get_frozen_credentials()
    expires = None
    if isinstance(found, botocore.credentials.RefreshableCredentials):
        expires = datetime.now(timezone.utc) + _UNKNOWN_EXPIRY
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None, expires)


# --- dvc-remote ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DvcRemote:
    """What a DVC S3 remote needs to reach a store: no secret in it."""

    url: str
    endpoint_url: str | None
    region: str | None

    @staticmethod
    def of(adapter: S3Adapter) -> DvcRemote:
        config = adapter.config
        path = "/".join(part for part in (config.bucket, config.base_prefix.strip("/")) if part)
        endpoint = config.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = config.region_name or ("us-east-1" if endpoint else None)
        return DvcRemote(f"s3://{path}", endpoint, region)

    def options(self) -> dict[str, str]:
        found = {"url": self.url, "endpointurl": self.endpoint_url, "region": self.region}
        return {name: value for name, value in found.items() if value}


@main.command(name="dvc-remote")
@click.argument("name")
@click.argument("url")
@click.option("--default", "-d", "default", is_flag=True, help="Make it the repository's default remote.")
@click.option("--force", "-f", is_flag=True, help="Replace a remote of that name.")
@click.option(
    "--credentials",
    type=click.Choice(["process", "keys"]),
    default="process",
    show_default=True,
    help="process: a credential_process profile that runs objstore (refreshed, nothing secret on disk); "
    "keys: the current keys in .dvc/config.local (temporary ones stop working when they expire).",
)
def dvc_remote(name: str, url: str, default: bool, force: bool, credentials: str) -> None:
    """Configure a DVC S3 remote for a store, in the DVC repository here (no secret in .dvc/config)."""
    with handled():
        store_url = _store_url(url)
        if urlsplit(store_url).scheme.lower() not in ("s3", "naas"):
            raise CommandError(f"DVC remotes are made for s3:// and naas:// stores, not {store_url!r}")
        repo = _dvc_directory()
        section = f'remote "{name}"'
        shared = _read_ini(repo / "config")
        if shared.has_section(section) and not force:
            raise CommandError(f"the DVC remote {name!r} exists (--force replaces it)")
        adapter = _s3_adapter(store_url)
        remote = DvcRemote.of(adapter)
        _set_section(shared, section, remote.options())
        if default:
            _set_section(shared, "core", {"remote": name}, replace=False)
        local = _read_ini(repo / "config.local")
        if credentials == "keys":
            machine = _keys_options(store_url, adapter)
        else:
            machine = {"profile": f"objstore-{name}", "configpath": str(_write_profile(repo, name, store_url, remote))}
        _set_section(local, section, machine)
        _write_ini(repo / "config", shared)
        _write_ini(repo / "config.local", local, private=True)
        where = ", ".join(f"{key} = {value}" for key, value in remote.options().items())
        echo(f"DVC remote {name!r}: {where}; credentials: {_described(credentials)}")


def _described(credentials: str) -> str:
    if credentials == "keys":
        return "keys in .dvc/config.local"
    return f"credential_process profile in .dvc/{AWS_CONFIG_NAME} (configpath and profile in .dvc/config.local)"


def _dvc_directory() -> Path:
    """The ``.dvc`` folder of the repository the command runs in (here or above)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder / ".dvc"
    raise CommandError(f"{here} is not in a DVC repository (run 'dvc init' first)")


def _keys_options(url: str, adapter: S3Adapter) -> dict[str, str]:
    """The store's current keys as DVC options (for ``.dvc/config.local`` only)."""
    current = _naas_credentials(url) if urlsplit(url).scheme.lower() == "naas" else _s3_credentials(adapter)
    if current.expires_at is not None:
        click.echo(
            f"objstore: these credentials expire at {current.expires_at.isoformat()}: run dvc-remote again then, "
            "or use --credentials process to have them renewed",
            err=True,
        )
    keys = {"access_key_id": current.access_key_id, "secret_access_key": current.secret_access_key}
    if current.session_token:
        keys["session_token"] = current.session_token
    return keys


def _write_profile(repo: Path, name: str, url: str, remote: DvcRemote) -> Path:
    """An AWS config file (beside ``.dvc/config.local``, ignored by git) whose profile ``objstore-NAME`` runs
    ``objstore credential-process URL`` with this interpreter (a command with no secret in it), with the store's
    region and endpoint, so the aws CLI can use it too."""
    path = repo / AWS_CONFIG_NAME
    profiles = _read_ini(path)
    profile = {"credential_process": shlex.join([sys.executable, "-m", "objstore", "credential-process", url])}
    if remote.region:
        profile["region"] = remote.region
    if remote.endpoint_url:
        # Some S3-compatible stores refuse the SDKs' new default checksums (as objstore's S3 store knows).
        profile.update(
            endpoint_url=remote.endpoint_url,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    _set_section(profiles, f"profile objstore-{name}", profile)
    _write_ini(path, profiles, private=True)
    ignore = repo / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if f"/{AWS_CONFIG_NAME}" not in lines:
        ignore.write_text("\n".join([*lines, f"/{AWS_CONFIG_NAME}"]) + "\n", encoding="utf-8")
    return path


def _read_ini(path: Path) -> configparser.ConfigParser:
    """A DVC (or AWS) config file: INI, sections such as ``['remote "name"']``; empty if it does not exist."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return parser
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    # configobj (DVC's) quotes section names with spaces in them (['remote "x"']) and values with commas.
    plain = configparser.ConfigParser(interpolation=None)
    for name in parser.sections():
        options = {key: _unquoted(value) for key, value in parser.items(name)}
        _set_section(plain, _unquoted(name), options, replace=False)
    return plain


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _set_section(
    parser: configparser.ConfigParser, section: str, options: dict[str, str], *, replace: bool = True
) -> None:
    if replace and parser.has_section(section):
        parser.remove_section(section)
    if not parser.has_section(section):
        parser.add_section(section)
    for key, value in options.items():
        parser.set(section, key, value)


def _write_ini(path: Path, parser: configparser.ConfigParser, *, private: bool = False) -> None:
    """Write atomically, as configobj (DVC's) spells it: ``['remote "x"']``, indented options, a value with a
    comma or ``#`` quoted; an AWS config file plainly. ``private``: readable by its owner only."""
    dvc = path.name != AWS_CONFIG_NAME
    lines = []
    for section in parser.sections():
        lines.append(f"['{section}']" if dvc and " " in section else f"[{section}]")
        for key, value in parser.items(section):
            lines.append(f"    {key} = {_configobj(value)}" if dvc else f"{key} = {value}")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, path)


def _configobj(value: str) -> str:
    """A value as configobj reads it back unchanged (unquoted, a comma would make it a list)."""
    if not any(char in value for char in ",#\"'") and value == value.strip():
        return value
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise CommandError(f"cannot write {value!r} to a DVC config file (it has both kinds of quotes)")
