"""ObjectStorageFactory: the one place that builds adapters and services (the composition root).

Stores are built from arguments (one constructor per provider), from a URL (``file://``, ``memory://``, and the
schemes later providers register), or from the environment (``OBJSTORE_URL``). Providers live in a lazy
registry: an adapter module, and the SDK it needs, are imported only when its scheme is used, and a missing SDK
is reported with the pip extra that installs it.

Option precedence: keyword arguments, then the URL (its path and query), then each adapter's own environment
variables and SDK default chains. Unknown options are errors. Secret options (keys, passwords, tokens) are
refused in a URL, so they never end up on a command line or in a log.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from objstore.domain.errors import ConfigurationError
from objstore.domain.service import ObjectStorageService
from objstore.ports.storage import IObjectStorageAdapter

if TYPE_CHECKING:
    from objstore.adapters.naas import NaasConfig

__all__ = ["ObjectStorageFactory", "ProviderSpec", "register_provider"]

UrlParser = Callable[[SplitResult], dict[str, Any]]


@dataclass(frozen=True)
class ProviderSpec:
    """How to build one provider's adapter.

    Attributes:
        scheme: The URL scheme (``"s3"``).
        adapter: ``"module:Class"`` of the adapter; the class takes one config dataclass.
        config: ``"module:Class"`` of the config dataclass.
        extra: The pip extra that installs the provider's SDK, if it needs one.
        parse_url: Turns the URL's location (not its query) into config fields.
        build: For composed stores, ``"module:function"`` taking the config and returning the adapter; the
            adapter class is then only what the function builds.
        remote: A store across a network: the retry layer is on unless ``retry=false``.
    """

    scheme: str
    adapter: str
    config: str
    extra: str | None
    parse_url: UrlParser
    build: str | None = None
    remote: bool = False


_PROVIDERS: dict[str, ProviderSpec] = {}


def register_provider(spec: ProviderSpec) -> None:
    """Add (or replace) the provider for a URL scheme; third-party adapters can plug in this way."""
    _PROVIDERS[spec.scheme.lower()] = spec


def _parse_file_url(parts: SplitResult) -> dict[str, Any]:
    path = unquote(parts.netloc + parts.path)
    return {"base_path": os.path.expanduser(path)} if path else {}


def _parse_memory_url(parts: SplitResult) -> dict[str, Any]:
    if parts.netloc or parts.path.strip("/"):
        raise ConfigurationError("memory:// takes no location: each memory store is a new, private one")
    return {}


register_provider(
    ProviderSpec(
        "file",
        "objstore.adapters.filesystem:FilesystemAdapter",
        "objstore.adapters.filesystem:FilesystemConfig",
        None,
        _parse_file_url,
    )
)
register_provider(
    ProviderSpec(
        "memory",
        "objstore.adapters.memory:MemoryAdapter",
        "objstore.adapters.memory:MemoryConfig",
        None,
        _parse_memory_url,
    )
)


def _bucket_url(field_name: str) -> UrlParser:
    """``s3://bucket/base/prefix`` (gs://, az:// alike): the bucket or container, then the root inside it."""

    def parse(parts: SplitResult) -> dict[str, Any]:
        if not parts.netloc:
            raise ConfigurationError(
                f"a {parts.scheme}:// URL needs a {field_name}: {parts.scheme}://{field_name.upper()}/prefix"
            )
        if parts.username or parts.password:
            raise ConfigurationError("credentials cannot be given in a store URL; use the environment")
        options: dict[str, Any] = {field_name: unquote(parts.netloc)}
        base_prefix = unquote(parts.path).strip("/")
        if base_prefix:
            options["base_prefix"] = base_prefix
        return options

    return parse


register_provider(
    ProviderSpec(
        "s3",
        "objstore.adapters.s3:S3Adapter",
        "objstore.adapters.s3:S3Config",
        "s3",
        _bucket_url("bucket"),
        remote=True,
    )
)


register_provider(
    ProviderSpec(
        "gs",
        "objstore.adapters.gcs:GCSAdapter",
        "objstore.adapters.gcs:GCSConfig",
        "gcs",
        _bucket_url("bucket"),
        remote=True,
    )
)


register_provider(
    ProviderSpec(
        "az",
        "objstore.adapters.azure_blob:AzureBlobAdapter",
        "objstore.adapters.azure_blob:AzureBlobConfig",
        "azure",
        _bucket_url("container"),
        remote=True,
    )
)


def _naas_config() -> type[NaasConfig]:
    """The Naas config class, which reads the Naas settings (imported only when Naas is asked for)."""
    config_cls: type[NaasConfig] = _load(_PROVIDERS["naas"], "objstore.adapters.naas:NaasConfig")
    return config_cls


def _parse_naas_url(parts: SplitResult) -> dict[str, Any]:
    """``naas://WORKSPACE/STORAGE/base/prefix``: read by :meth:`objstore.adapters.naas.NaasConfig.url_fields`."""
    return _naas_config().url_fields(parts)


def build_naas_adapter(config: Any) -> IObjectStorageAdapter:
    """Compose a Naas store: the S3 adapter, with the Naas API as its refreshing credentials provider."""
    from objstore.adapters.naas import NaasAdapter, NaasCredentialsProvider
    from objstore.adapters.s3 import S3Adapter, S3Config

    provider = NaasCredentialsProvider(config)
    where = provider.location()
    s3 = S3Adapter(
        S3Config(
            bucket=where.bucket,
            base_prefix="/".join(part for part in (where.prefix, config.base_prefix.strip("/")) if part),
            region_name=where.region_name,
            endpoint_url=config.endpoint_url,
            credentials_provider=provider,
            refresh_margin_seconds=config.refresh_margin_seconds,
            multipart_threshold=config.multipart_threshold,
            multipart_chunksize=config.multipart_chunksize,
            max_concurrency=config.max_concurrency,
            hierarchical=config.hierarchical,
            backslash_in_keys=config.backslash_in_keys,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        )
    )
    return NaasAdapter(provider.config, s3, provider)


register_provider(
    ProviderSpec(
        "naas",
        "objstore.adapters.naas:NaasAdapter",
        "objstore.adapters.naas:NaasConfig",
        "naas",
        _parse_naas_url,
        build="objstore.factory:build_naas_adapter",
        remote=True,
    )
)


def _parse_altastata_url(parts: SplitResult) -> dict[str, Any]:
    """``altastata://CONTAINER/base/prefix``; bare ``altastata://`` takes the container from ALTAS_CONTAINER_NAME."""
    options: dict[str, Any] = {}
    if parts.netloc:
        options["container"] = unquote(parts.netloc)
    base_prefix = unquote(parts.path).strip("/")
    if base_prefix:
        options["base_prefix"] = base_prefix
    return options


register_provider(
    ProviderSpec(
        "altastata",
        "objstore.adapters.altastata:AltastataAdapter",
        "objstore.adapters.altastata:AltastataConfig",
        "altastata",
        _parse_altastata_url,
        remote=True,
    )
)


def _load(spec: ProviderSpec, target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and not module_name.startswith(exc.name) and spec.extra:
            raise ConfigurationError(
                f"the {spec.scheme}:// store needs the optional dependency {exc.name!r}: "
                f"pip install 'objstore[{spec.extra}]'"
            ) from exc
        raise ConfigurationError(f"the {spec.scheme}:// store cannot be loaded: {exc}") from exc
    return getattr(module, attribute)


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Turn a URL query string into the type the config field declares."""
    if not isinstance(value, str):
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if value == "" and len(members) < len(typing.get_args(annotation)):
            return None
        annotation = members[0] if len(members) == 1 else str
    try:
        if annotation is bool:
            lowered = value.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if annotation in (int, float):
            return annotation(value)
    except ValueError:
        raise ConfigurationError(f"option {name}={value!r} is not a valid {annotation.__name__}") from None
    return value


def _build_config(spec: ProviderSpec, options: Mapping[str, Any], from_url: Mapping[str, str]) -> Any:
    config_cls = _load(spec, spec.config)
    fields = {field.name: field for field in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    for name in from_url:
        field = fields.get(name)
        if field is not None and field.metadata.get("secret"):
            raise ConfigurationError(
                f"{name} is a secret and cannot be given in a URL; use the environment or an argument"
            )
    merged = {**from_url, **options}
    unknown = sorted(set(merged) - set(fields))
    if unknown:
        # Secrets are never offered as URL options: they come from the environment or an argument only.
        open_fields = sorted(name for name, field in fields.items() if not field.metadata.get("secret"))
        accepted = ", ".join(open_fields) or "none"
        raise ConfigurationError(f"unknown option(s) for {spec.scheme}://: {', '.join(unknown)} (accepted: {accepted})")
    values = {name: _coerce(name, value, hints[name]) for name, value in merged.items()}
    try:
        return config_cls(**values)
    except TypeError as exc:
        raise ConfigurationError(f"{spec.scheme}:// store: {exc}") from None


LAYER_OPTIONS = frozenset({"retry", "retry_attempts", "retry_deadline", "faults", "log_operations", "concurrency"})


def _stack_layers(
    layers: Mapping[str, Any], *, remote: bool
) -> Callable[[IObjectStorageAdapter], IObjectStorageAdapter]:
    """Check the layer options, and return what wraps a store in them (from the inside out: concurrency limit,
    faults, retry, logging). Checked before the store is built, so a bad option changes nothing.

    Options (on ``from_url`` and every constructor, or in a URL's query): ``retry`` (bool; on by default for
    stores across a network, and wherever ``faults`` are injected), ``retry_attempts``, ``retry_deadline``
    (seconds), ``faults`` (a ``FaultSpec`` or its text form, for tests and chaos drills), ``log_operations``
    (bool: one line per operation on the
    ``objstore.operations`` logger), ``concurrency`` (int: calls in flight at once, shared by all users).
    """

    # Each layer is imported only when used (start-up stays light; the retry layer needs tenacity).
    def flag(name: str, default: bool = False) -> bool:
        return bool(_coerce(name, layers.get(name, default), bool))

    wrappers: list[Callable[[IObjectStorageAdapter], IObjectStorageAdapter]] = []
    if layers.get("concurrency") is not None:
        from objstore.adapters.layers.concurrency import ConcurrencyLimitedAdapter

        limit = int(_coerce("concurrency", layers["concurrency"], int))
        if limit < 1:
            raise ConfigurationError("concurrency must be at least 1")
        wrappers.append(lambda adapter: ConcurrencyLimitedAdapter(adapter, limit))
    faults = layers.get("faults")
    if faults is not None and faults != "":
        from objstore.adapters.layers.faults import FaultInjectingAdapter, FaultSpec

        spec = FaultSpec.parse(faults) if isinstance(faults, str) else faults
        if not isinstance(spec, FaultSpec):
            raise ConfigurationError("faults takes a FaultSpec or its text form (transient=0.1,throttle=0.02,...)")
        wrappers.append(lambda adapter: FaultInjectingAdapter(adapter, spec))
    # Injected faults are ridden through by retries on every store (a local one too), unless retry=false.
    tuned = "retry_attempts" in layers or "retry_deadline" in layers or bool(faults)
    if flag("retry", default=remote or tuned):
        try:
            from objstore.adapters.layers.retry import RetryingAdapter, RetryPolicy
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                f"retries need the optional dependency {exc.name!r}: pip install tenacity (or retry=false)"
            ) from exc
        policy = RetryPolicy(
            attempts=int(_coerce("retry_attempts", layers.get("retry_attempts", RetryPolicy.attempts), int)),
            deadline=float(_coerce("retry_deadline", layers.get("retry_deadline", 60.0), float)),
        )
        if policy.attempts < 1 or policy.deadline <= 0:
            raise ConfigurationError("retry_attempts must be at least 1 and retry_deadline above 0")
        wrappers.append(lambda adapter: RetryingAdapter(adapter, policy))
    if flag("log_operations"):
        from objstore.adapters.layers.logging import LoggingAdapter

        wrappers.append(LoggingAdapter)

    def wrap(adapter: IObjectStorageAdapter) -> IObjectStorageAdapter:
        for wrapper in wrappers:
            adapter = wrapper(adapter)
        return adapter

    return wrap


class ObjectStorageFactory:
    """Builds :class:`ObjectStorageService` instances for each provider."""

    # --- from a URL or the environment ----------------------------------------------------------------------

    @staticmethod
    def build_adapter(url: str, **options: Any) -> IObjectStorageAdapter:
        """Build the adapter (without the service) for a store URL; see :meth:`from_url`."""
        if not isinstance(url, str) or not url.strip():
            raise ConfigurationError("the store URL is empty")
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if len(scheme) <= 1:  # a plain path (or a Windows drive letter): a local folder
            scheme, parts = "file", urlsplit("file:" + url.strip())
        spec = _PROVIDERS.get(scheme)
        if spec is None:
            known = ", ".join(f"{name}://" for name in sorted(_PROVIDERS))
            raise ConfigurationError(f"unknown store URL scheme {scheme!r} (known: {known})")
        if parts.fragment:
            raise ConfigurationError("store URLs take no #fragment")
        try:
            query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
        except ValueError:
            raise ConfigurationError(f"the URL's query {parts.query!r} is malformed") from None
        layers = {name: options.pop(name) for name in list(options) if name in LAYER_OPTIONS}
        layers.update({name: query.pop(name) for name in list(query) if name in LAYER_OPTIONS})
        config = _build_config(spec, options, {**spec.parse_url(parts), **query})
        wrap = _stack_layers(layers, remote=spec.remote)
        construct = _load(spec, spec.build or spec.adapter)
        try:
            adapter: IObjectStorageAdapter = construct(config)
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                f"the {spec.scheme}:// store needs the optional dependency {exc.name!r}: "
                f"pip install 'objstore[{spec.extra}]'"
            ) from exc
        return wrap(adapter)

    @staticmethod
    def from_url(url: str, **options: Any) -> ObjectStorageService:
        """Build a service from a store URL.

        Args:
            url: ``file:///path``, ``file://./relative``, a plain path, ``memory://``, or a scheme a provider
                registered (``s3://bucket/prefix`` ...). Non-secret options may be given as a query string
                (``file:///data?fsync=false``).
            **options: Options of the provider's config dataclass; they win over the URL.

        Raises:
            ConfigurationError: Unknown scheme or option, malformed URL, missing optional dependency.
        """
        return ObjectStorageService(ObjectStorageFactory.build_adapter(url, **options))

    @staticmethod
    def from_env(
        environ: Mapping[str, str] | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        dotenv_file: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> ObjectStorageService:
        """Build a service from the environment.

        ``OBJSTORE_URL`` if set; else the Naas settings as Naas projects keep them: ``NAAS_API_KEY`` (in the
        environment or the project's ``.env``; ``dotenv_file`` names another file) with ``NAAS_WORKSPACE_ID`` and
        ``NAAS_STORAGE_NAME`` (or ``config.workspace_id`` and ``config.storage_name`` in ``config.yaml``;
        ``config_file`` names another file).

        Raises:
            ConfigurationError: Neither is set, or the Naas settings are incomplete.
        """
        env = os.environ if environ is None else environ
        url = env.get("OBJSTORE_URL", "").strip()
        if url:
            return ObjectStorageFactory.from_url(url, **options)
        naas = _naas_config().environment_settings(
            env,
            Path(config_file) if config_file else Path("config.yaml"),
            Path(dotenv_file) if dotenv_file else Path(".env"),
        )
        if naas is not None:
            return ObjectStorageFactory.from_url("naas://", **{**naas, **options})
        raise ConfigurationError(
            "no store configured: set OBJSTORE_URL (e.g. file:///srv/data or s3://bucket/prefix), "
            "or NAAS_API_KEY with NAAS_WORKSPACE_ID and NAAS_STORAGE_NAME"
        )

    # --- one constructor per provider -----------------------------------------------------------------------

    @staticmethod
    def ObjectStorageServiceFS(base_path: str | os.PathLike[str], **options: Any) -> ObjectStorageService:
        """A local folder store (see :class:`objstore.adapters.FilesystemConfig` for options)."""
        return ObjectStorageFactory.from_url("file:", base_path=os.fspath(base_path), **options)

    @staticmethod
    def ObjectStorageServiceFS__find_storage(
        needle: str = "storage", *, start: str | os.PathLike[str] | None = None
    ) -> ObjectStorageService:
        """A local folder store on the nearest folder named ``needle``, from the working directory upwards.

        Raises:
            ConfigurationError: No such folder in the working directory or any of its parents.
        """
        here = Path(start if start is not None else os.getcwd()).resolve()
        for folder in (here, *here.parents):
            candidate = folder / needle
            if candidate.is_dir():
                return ObjectStorageFactory.ObjectStorageServiceFS(candidate, create=False)
        raise ConfigurationError(f"no folder named {needle!r} in {str(here)!r} or any folder above it")

    @staticmethod
    def ObjectStorageServiceS3(
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        bucket_name: str = "",
        base_prefix: str = "",
        session_token: str | None = None,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        **options: Any,
    ) -> ObjectStorageService:
        """An S3 or S3-compatible store (the original signature first).

        Without keys, credentials come from the AWS environment and profile chain (``AWS_ACCESS_KEY_ID``,
        ``AWS_PROFILE``, SSO, instance roles), as in the aws CLI. More options: ``objstore.adapters.s3.S3Config``.
        """
        return ObjectStorageFactory.from_url(
            f"s3://{bucket_name}",
            base_prefix=base_prefix,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            endpoint_url=endpoint_url,
            region_name=region_name,
            **options,
        )

    @staticmethod
    def ObjectStorageServiceGCP(
        bucket_name: str,
        base_prefix: str = "",
        *,
        service_account_path: str | None = None,
        project_id: str | None = None,
        endpoint: str | None = None,
        **options: Any,
    ) -> ObjectStorageService:
        """A Google Cloud Storage store.

        Credentials: a service-account key file, else Application Default Credentials, else (with an emulator
        ``endpoint`` or ``STORAGE_EMULATOR_HOST``) anonymous. More options: ``objstore.adapters.gcs.GCSConfig``.
        """
        return ObjectStorageFactory.from_url(
            f"gs://{bucket_name}",
            base_prefix=base_prefix,
            service_account_path=service_account_path,
            project_id=project_id,
            endpoint=endpoint,
            **options,
        )

    @staticmethod
    def ObjectStorageServiceAzure(
        container_name: str,
        base_prefix: str = "",
        *,
        connection_string: str | None = None,
        account_url: str | None = None,
        account_name: str | None = None,
        account_key: str | None = None,
        sas_token: str | None = None,
        credential: Any = None,
        **options: Any,
    ) -> ObjectStorageService:
        """An Azure Blob Storage store; ``AZURE_STORAGE_CONNECTION_STRING`` when no credentials are given.

        More options: ``objstore.adapters.azure_blob.AzureBlobConfig``.
        """
        return ObjectStorageFactory.from_url(
            f"az://{container_name}",
            base_prefix=base_prefix,
            connection_string=connection_string,
            account_url=account_url,
            account_name=account_name,
            account_key=account_key,
            sas_token=sas_token,
            credential=credential,
            **options,
        )

    @staticmethod
    def ObjectStorageServiceNaas(
        naas_api_key: str | None,
        workspace_id: str,
        storage_name: str,
        base_prefix: str = "",
        *,
        api_url: str | None = None,
        **options: Any,
    ) -> ObjectStorageService:
        """A Naas workspace storage (the original signature first): S3 with credentials from the Naas API.

        More options: ``objstore.adapters.naas.NaasConfig``.
        """
        return ObjectStorageFactory.from_url(
            "naas://",
            naas_api_key=naas_api_key,
            workspace_id=workspace_id,
            storage_name=storage_name,
            base_prefix=base_prefix,
            api_url=api_url,
            **options,
        )

    @staticmethod
    def ObjectStorageServiceAltastata(
        account_dir_path: str | None = None,
        password: str | None = None,
        *,
        user_properties: str | None = None,
        private_key_encrypted: str | None = None,
        port: int = 25333,
        base_prefix: str = "",
        **options: Any,
    ) -> ObjectStorageService:
        """An Altastata account, through a running gateway (py4j) or the altastata SDK.

        Unset values come from ``ALTAS_ACCOUNT_DIR_PATH``, ``ALTAS_PASSWORD``, ``ALTAS_PORT`` and
        ``ALTAS_CONTAINER_NAME``. More options: ``objstore.adapters.altastata.AltastataConfig``.
        """
        return ObjectStorageFactory.from_url(
            "altastata://",
            account_dir_path=account_dir_path,
            password=password,
            user_properties=user_properties,
            private_key_encrypted=private_key_encrypted,
            port=port,
            base_prefix=base_prefix,
            **options,
        )

    @staticmethod
    def ObjectStorageServiceMemory() -> ObjectStorageService:
        """A new, private in-memory store (for tests)."""
        return ObjectStorageFactory.from_url("memory://")
