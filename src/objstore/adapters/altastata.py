"""AltastataAdapter: Altastata's encrypted, versioned cloud file system as an object store.

Two ways to reach an account, behind one small client interface (:class:`IAltastataClient`):

* :class:`Py4jAltastataClient`: a running Altastata Java gateway, over py4j (``host``, ``port`` 25333), as the
  historical ``altastata`` package did;
* :class:`SdkAltastataClient`: the current ``altastata`` package's ``AltaStataFunctions`` (it starts its own JVM
  and talks gRPC to it), imported lazily.

Altastata semantics the adapter hides: listings return versioned names (``path✹user_time``), newest first, in no
particular order; deleting by prefix also takes sibling paths (``a/b`` takes ``a/bc``), so deletes name exact
paths; a missing file's ``size`` attribute is ``None``; large content goes in chunks (create, then append).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shutil
import socket
import subprocess
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from objstore.adapters.transfer import ChunkIteratorReader, VerifyingReader, read_exactly
from objstore.domain.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidKey,
    NotSupported,
    ObjectNotFound,
    ObjectStorageError,
    PermissionDenied,
    TransientError,
)
from objstore.domain.keys import StoreRoot, is_valid_key
from objstore.domain.models import (
    Capabilities,
    DeleteResult,
    ListOptions,
    ObjectInfo,
    OpenedObject,
    ReadOptions,
    WriteOptions,
)
from objstore.domain.streams import CHUNK_SIZE, LimitedReader, resolve_range
from objstore.ports.storage import IObjectStorageAdapter, Readable, build_config

__all__ = [
    "SDK_CALLS",
    "AltastataAdapter",
    "AltastataConfig",
    "IAltastataClient",
    "Py4jAltastataClient",
    "SdkAltastataClient",
]

VERSION_MARK = "\u2739"
UPLOADS = ".objstore-uploads"  # hidden folder for chunked uploads in progress (never listed)
SECRET = {"secret": True}
MIN_JAVA = 17
MiB = 1024 * 1024


@dataclass(frozen=True)
class AltastataConfig:
    """Options of the Altastata store.

    Attributes:
        container: A top folder for the store (``ALTAS_CONTAINER_NAME``; ``altastata://CONTAINER/prefix``).
        base_prefix: A folder below the container that is the store's root.
        account_dir_path: The account directory (``ALTAS_ACCOUNT_DIR_PATH``).
        password: The account password (``ALTAS_PASSWORD``). Never in a URL, a log or an error.
        user_properties: The account's user properties text, in place of an account directory.
        private_key_encrypted: The account's encrypted private key (PEM), with ``user_properties``.
        host: The py4j gateway's host.
        port: The py4j gateway's port (``ALTAS_PORT``, default 25333).
        mode: ``py4j`` (a running gateway), ``sdk`` (the altastata package), or ``auto``: py4j when a gateway
            listens on ``host:port``, else the SDK.
        chunk_size: Bytes per create/append call and per read.
        read_timeout: Seconds to wait for the py4j gateway to connect and to answer each call (URL option
            ``?read_timeout=60``); generous, as one call may carry a chunk through encryption to the cloud. A gateway
            that stops answering costs one timeout per try of the retry layer. (``mode=sdk`` runs the altastata
            package's own gateway, whose timeouts are its own.)
    """

    container: str = ""
    base_prefix: str = ""
    account_dir_path: str | None = None
    password: str | None = field(default=None, repr=False, metadata=SECRET)
    user_properties: str | None = field(default=None, repr=False, metadata=SECRET)
    private_key_encrypted: str | None = field(default=None, repr=False, metadata=SECRET)
    host: str = "127.0.0.1"
    port: int = 25333
    mode: str = "auto"
    chunk_size: int = 8 * MiB
    read_timeout: float = 120.0

    def resolved(self, environ: Mapping[str, str] | None = None) -> AltastataConfig:
        """The config with what was not given taken from the environment (ALTAS_*); checked."""
        env = os.environ if environ is None else environ
        port = self.port
        if port == 25333 and env.get("ALTAS_PORT"):
            try:
                port = int(env["ALTAS_PORT"])
            except ValueError:
                raise ConfigurationError(f"ALTAS_PORT must be a port number, not {env['ALTAS_PORT']!r}") from None
        config = AltastataConfig(
            **{
                **self.__dict__,
                "container": self.container or env.get("ALTAS_CONTAINER_NAME", ""),
                "account_dir_path": self.account_dir_path or env.get("ALTAS_ACCOUNT_DIR_PATH") or None,
                "password": self.password if self.password is not None else env.get("ALTAS_PASSWORD"),
                "port": port,
            }
        )
        if config.mode not in ("auto", "py4j", "sdk"):
            raise ConfigurationError("mode must be auto, py4j or sdk")
        if not config.account_dir_path and not (config.user_properties and config.private_key_encrypted):
            raise ConfigurationError(
                "the Altastata store needs account_dir_path (ALTAS_ACCOUNT_DIR_PATH) or user_properties with "
                "private_key_encrypted"
            )
        if config.account_dir_path and not os.path.isdir(os.path.expanduser(config.account_dir_path)):
            raise ConfigurationError(f"the Altastata account directory {config.account_dir_path!r} does not exist")
        if config.password is None:
            raise ConfigurationError("the Altastata store needs the account password (ALTAS_PASSWORD)")
        if config.chunk_size < 1:
            raise ConfigurationError("chunk_size must be positive")
        if not 0 < config.read_timeout < math.inf:
            raise ConfigurationError("read_timeout must be a positive number of seconds")
        return config


class IAltastataClient(ABC):
    """What the adapter needs of an Altastata account: exact paths in, plain Python values out."""

    @abstractmethod
    def create(self, path: str, data: bytes) -> None:
        """Create a new version of ``path`` holding ``data``."""

    @abstractmethod
    def append(self, path: str, data: bytes) -> None:
        """Append ``data`` to the newest version of ``path``."""

    @abstractmethod
    def read(self, path: str, start: int, chunk_size: int) -> Iterator[bytes]:
        """The newest version's content from byte ``start``, in chunks."""

    @abstractmethod
    def versions(self, prefix: str, recursive: bool) -> Iterator[list[str]]:
        """For each file whose path starts with ``prefix`` (as a string): its versioned names, newest first."""

    @abstractmethod
    def delete_paths(self, paths: list[str]) -> None:
        """Delete exactly these paths (every version)."""

    @abstractmethod
    def size(self, path: str) -> int | None:
        """The newest version's size, or None when there is no such file."""

    @abstractmethod
    def copy(self, source: str, target: str) -> None:
        """Copy the newest version of ``source`` into a new version of ``target``."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release the connection."""


# --- the py4j gateway ------------------------------------------------------------------------------------------


def _java_exception_name(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)
    if java is None:
        return ""
    try:
        return str(java.getClass().getName())
    except Exception:  # noqa: BLE001 - only a name for the error; the gateway may be gone
        return ""


def _translate_py4j(exc: BaseException, key: str | None) -> ObjectStorageError:
    """Classify py4j failures by the Java exception's class, never by message text."""
    from py4j.protocol import Py4JJavaError, Py4JNetworkError

    if isinstance(exc, ObjectStorageError):
        return exc
    if isinstance(exc, Py4JNetworkError):
        return TransientError("lost the connection to the Altastata gateway", key=key)
    if isinstance(exc, Py4JJavaError):
        name = _java_exception_name(exc)
        if name.endswith(("FileNotFoundException", "NoSuchFileException")):
            return ObjectNotFound("no such file in the Altastata account", key=key)
        if name.endswith("SecurityException"):
            return AuthenticationError(
                "the Altastata account refused the operation (locked or wrong password)", key=key
            )
        if name.endswith("AccessDeniedException"):
            return PermissionDenied("the Altastata account may not do this", key=key)
        if name.endswith(("IOException", "SocketException", "TimeoutException")):
            return TransientError(f"the Altastata gateway failed ({name.rsplit('.', 1)[-1]})", key=key)
        return ObjectStorageError(f"the Altastata gateway raised {name.rsplit('.', 1)[-1] or 'an error'}", key=key)
    return ObjectStorageError(f"unexpected {type(exc).__name__} from the Altastata gateway", key=key)


def _check_state(key: str | None, state: str, error: Callable[[], Any]) -> None:
    """An operation whose returned state is ``ERROR`` failed: a typed error with the reason Altastata gave."""
    if state.upper() != "ERROR":
        return
    reason = " ".join(str(error() or "no reason given").split())[:200]
    raise ObjectStorageError(f"Altastata reported the operation failed: {reason}", key=key)


#: Every Java member the py4j client calls, as (class, name, number of parameters): checked against the jar of the
#: installed ``altastata`` package and against the test gateway by tests/integration/test_altastata_binding.py.
PY4J_API: tuple[tuple[str, str, int], ...] = (
    ("com.altastata.api.AccountRegistry", "getOrCreateFromDir", 1),
    ("com.altastata.api.AccountRegistry", "getOrCreate", 2),
    ("com.altastata.api.AltaStataFileSystem", "setPassword", 1),
    ("com.altastata.api.AltaStataFileSystem", "createFile", 2),
    ("com.altastata.api.AltaStataFileSystem", "appendBufferToFile", 3),
    ("com.altastata.api.AltaStataFileSystem", "getFileInputStream", 4),
    ("com.altastata.api.AltaStataFileSystem", "readBufferFromInputStream", 2),
    ("com.altastata.api.AltaStataFileSystem", "listCloudFilesVersions", 4),
    ("com.altastata.api.AltaStataFileSystem", "deletePaths", 3),
    ("com.altastata.api.AltaStataFileSystem", "getFileAttribute", 3),
    ("com.altastata.api.AltaStataFileSystem", "copyFile", 2),
    ("com.altastata.api.CloudFileOperationStatus", "getOperationStateValue", 0),
    ("com.altastata.api.CloudFileOperationStatus", "getCloudFilePath", 0),
    ("com.altastata.api.CloudFileOperationStatus", "getError", 0),
)


class Py4jAltastataClient(IAltastataClient):
    """An account reached through a running Altastata Java gateway (py4j).

    Java objects the gateway returns (status objects, streams, iterators) are released explicitly as soon as they
    are used: py4j's automatic release runs in garbage-collector finalizers, which call the gateway at arbitrary
    moments (after it is gone, or inside the interpreter's own work).
    """

    READ_CHUNK = 1 * MiB  # py4j base64-encodes byte arrays: it holds about 15x a chunk while decoding one

    def __init__(self, config: AltastataConfig) -> None:
        try:
            from py4j.java_gateway import GatewayParameters, JavaGateway
            from py4j.protocol import Py4JError
        except ImportError as exc:
            raise ModuleNotFoundError(str(exc), name="py4j") from exc
        where = f"{config.host}:{config.port}"
        self._gateway = JavaGateway(
            gateway_parameters=GatewayParameters(
                address=config.host,
                port=config.port,
                auto_convert=True,
                enable_memory_management=False,
                read_timeout=config.read_timeout,
            )
        )
        try:
            self._gateway.jvm.java.lang.System.currentTimeMillis()
        except Py4JError as exc:
            self._gateway.close()
            if _port_open(config.host, config.port):
                raise ConfigurationError(
                    f"port {where} is taken by something that is not an Altastata gateway; set ALTAS_PORT"
                ) from exc
            raise ConfigurationError(
                f"no Altastata gateway listens on {where}: start the gateway, or use mode=sdk"
            ) from exc
        registry = self._gateway.jvm.com.altastata.api.AccountRegistry  # the constructors are not public
        try:
            if config.account_dir_path:
                self._fs = registry.getOrCreateFromDir(os.path.expanduser(config.account_dir_path))
            else:
                self._fs = registry.getOrCreate(config.user_properties, config.private_key_encrypted)
        except Py4JError as exc:
            self._gateway.close()
            error = _translate_py4j(exc, None)
            if isinstance(error, ObjectNotFound):
                raise ConfigurationError("the Altastata account directory is not a valid account") from exc
            raise ConfigurationError(f"the gateway on {where} could not open the account: {error.message}") from exc
        try:
            accepted = self._fs.setPassword(config.password)
        except Py4JError as exc:
            self._gateway.close()
            raise AuthenticationError("the Altastata account refused the password") from _detached(exc)
        if accepted is False:
            self._gateway.close()
            raise AuthenticationError("the Altastata account refused the password")
        self._string_class = self._gateway.jvm.java.lang.String

    def _call(self, key: str | None, method: str, *args: Any) -> Any:
        try:
            return getattr(self._fs, method)(*args)
        except Exception as exc:
            raise _translate_py4j(exc, key) from exc

    def _release(self, *objects: Any) -> None:
        from py4j.java_gateway import JavaObject

        for item in objects:
            if isinstance(item, JavaObject):
                with contextlib.suppress(Exception):
                    self._gateway.detach(item)

    def _checked(self, key: str | None, *statuses: Any) -> None:
        """Read each returned operation state (the call itself may succeed while its state says ``ERROR``)."""
        try:
            for status in statuses:
                _check_state(key, str(status.getOperationStateValue()), status.getError)
        finally:
            self._release(*statuses)

    def create(self, path: str, data: bytes) -> None:
        self._checked(path, self._call(path, "createFile", path, bytearray(data)))

    def append(self, path: str, data: bytes) -> None:
        self._call(path, "appendBufferToFile", path, None, bytearray(data))

    def read(self, path: str, start: int, chunk_size: int) -> Iterator[bytes]:
        stream = self._call(path, "getFileInputStream", path, None, start, 1)
        try:
            while True:
                chunk = self._call(path, "readBufferFromInputStream", stream, min(chunk_size, self.READ_CHUNK))
                if not chunk:
                    return
                yield bytes(chunk)
        finally:
            with contextlib.suppress(Exception):
                stream.close()
            self._release(stream)

    def versions(self, prefix: str, recursive: bool) -> Iterator[list[str]]:
        iterator = self._call(prefix or None, "listCloudFilesVersions", prefix, recursive, None, None)
        try:
            for entry in iterator:
                names = [str(name) for name in entry]
                self._release(entry)
                yield names
        finally:
            self._release(iterator)

    def delete_paths(self, paths: list[str]) -> None:
        array = self._gateway.new_array(self._string_class, len(paths))
        for index, path in enumerate(paths):
            array[index] = path
        statuses = self._call(None, "deletePaths", array, None, None)  # every version of exactly these paths
        try:
            self._checked(None, *list(statuses))
        finally:
            self._release(statuses, array)

    def size(self, path: str) -> int | None:
        value = self._call(path, "getFileAttribute", path, None, "size")
        return None if value is None else int(str(value))

    def copy(self, source: str, target: str) -> None:
        self._checked(target, self._call(source, "copyFile", source, target))

    def close(self) -> None:
        self._release(self._fs)
        self._gateway.close()


def _detached(exc: BaseException) -> BaseException:
    """A cause that cannot carry the password the failed call was given."""
    return ObjectStorageError(type(exc).__name__)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# --- the current altastata SDK ----------------------------------------------------------------------------------

# Every call SdkAltastataClient makes on altastata.AltaStataFunctions: (positional names, keyword names). The
# contract tests bind these against the installed package's signatures, so an upstream change fails our tests.
SDK_CALLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "from_account_dir": (("account_dir_path",), ("password",)),
    "from_credentials": (("user_properties", "private_key_encrypted"), ("password",)),
    "create_file": (("cloud_file_path", "buffer"), ()),
    "append_buffer_to_file": (("cloud_file_path", "buffer"), ("snapshot_time",)),
    "get_input_stream": (("cloud_file_path",), ("snapshot_time", "start_position", "parallel_chunks", "chunk_size")),
    "list_cloud_files_versions": (
        ("cloudPathPrefix", "includingSubdirectories", "timeIntervalStart", "timeIntervalEnd"),
        (),
    ),
    "delete_files_by_paths": (("file_paths",), ()),
    "get_file_attribute": (("cloud_file_path", "snapshot_time", "name"), ()),
    "copy_file": (("from_cloud_file_path", "to_cloud_file_path"), ()),
    "shutdown": ((), ()),
}


def _java_version() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - the java on PATH, fixed arguments
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


class SdkAltastataClient(IAltastataClient):
    """An account reached through the current ``altastata`` package (which starts its own JVM).

    Args:
        config: The resolved config.
        functions: A ready ``AltaStataFunctions`` (tests); built from the config by default.
    """

    def __init__(self, config: AltastataConfig, functions: Any = None) -> None:
        if functions is None:
            functions = self._connect(config)
        self._functions = functions

    @staticmethod
    def _connect(config: AltastataConfig) -> Any:
        try:
            from altastata import AltaStataFunctions
        except ImportError:
            raise ConfigurationError(
                "the Altastata SDK mode needs the altastata package: pip install 'objstore[altastata-sdk]' "
                "(or run an Altastata gateway and use mode=py4j)"
            ) from None
        version = _java_version()
        if version is None:
            raise ConfigurationError(f"the altastata SDK needs Java {MIN_JAVA} or newer, and no java was found")
        if version < MIN_JAVA:
            raise ConfigurationError(f"the altastata SDK needs Java {MIN_JAVA} or newer; this java is {version}")
        try:
            if config.account_dir_path:
                return AltaStataFunctions.from_account_dir(
                    os.path.expanduser(config.account_dir_path), password=config.password
                )
            return AltaStataFunctions.from_credentials(
                config.user_properties, config.private_key_encrypted, password=config.password
            )
        except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds; the cause keeps no password
            raise AuthenticationError(
                f"the altastata SDK could not log in to the account ({type(exc).__name__})"
            ) from _detached(exc)

    def _call(self, key: str | None, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._functions, method)(*args, **kwargs)
        except ObjectStorageError:
            raise
        except (ConnectionError, TimeoutError) as exc:
            raise TransientError(f"the altastata SDK lost its connection ({type(exc).__name__})", key=key) from exc
        except FileNotFoundError as exc:
            raise ObjectNotFound("no such file in the Altastata account", key=key) from exc
        except Exception as exc:
            raise ObjectStorageError(f"the altastata SDK failed: {type(exc).__name__}", key=key) from exc

    def create(self, path: str, data: bytes) -> None:
        self._call(path, "create_file", path, data)

    def append(self, path: str, data: bytes) -> None:
        self._call(path, "append_buffer_to_file", path, data, snapshot_time=None)

    def read(self, path: str, start: int, chunk_size: int) -> Iterator[bytes]:
        chunks = self._call(
            path,
            "get_input_stream",
            path,
            snapshot_time=None,
            start_position=start,
            parallel_chunks=4,
            chunk_size=chunk_size,
        )
        iterator = iter(chunks)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                raise TransientError(f"the altastata SDK failed mid-read ({type(exc).__name__})", key=path) from exc
            yield bytes(chunk)

    def versions(self, prefix: str, recursive: bool) -> Iterator[list[str]]:
        for entry in self._call(prefix or None, "list_cloud_files_versions", prefix, recursive, None, None):
            yield [str(name) for name in entry]

    def delete_paths(self, paths: list[str]) -> None:
        self._call(None, "delete_files_by_paths", paths)

    def size(self, path: str) -> int | None:
        value = self._call(path, "get_file_attribute", path, None, "size")
        return None if value in (None, "") else int(str(value))

    def copy(self, source: str, target: str) -> None:
        self._call(source, "copy_file", source, target)

    def close(self) -> None:
        self._call(None, "shutdown")


# --- the adapter ----------------------------------------------------------------------------------------------


class AltastataAdapter(IObjectStorageAdapter):
    """An Altastata account (or a folder of it) as an object store.

    Args:
        config: An :class:`AltastataConfig` (resolved against ``ALTAS_*`` here).
        client: A ready :class:`IAltastataClient`; by default one is connected as ``config.mode`` says.
    """

    name = "altastata"

    def __init__(
        self, config: AltastataConfig | str = "", client: IAltastataClient | None = None, **options: Any
    ) -> None:
        config = build_config(AltastataConfig, config, options, "Altastata").resolved()
        self.config = config
        self._root = StoreRoot.of("/".join(part for part in (config.container, config.base_prefix) if part))
        self._client = client or self._connect(config)

    @staticmethod
    def _connect(config: AltastataConfig) -> IAltastataClient:
        mode = config.mode
        if mode == "auto":
            mode = "py4j" if _port_open(config.host, config.port) else "sdk"
        return Py4jAltastataClient(config) if mode == "py4j" else SdkAltastataClient(config)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"AltastataAdapter(root={self._root.prefix!r}, client={type(self._client).__name__})"

    @property
    def location(self) -> str:
        """``altastata://container/prefix``."""
        return f"altastata://{self._root.prefix}".rstrip("/") if self._root.prefix else "altastata://"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            conditional_put=False,
            server_side_copy=True,
            native_batch_delete=True,
            user_metadata=False,
            max_key_bytes=self._root.max_key_bytes,
        )

    def _path(self, prefix: str, key: str) -> tuple[str, str]:
        relative, path = self._root.locate(prefix, key)
        if relative.split("/", 1)[0] == UPLOADS:
            raise InvalidKey(f"keys under {UPLOADS}/ are reserved by the Altastata store", key=relative)
        return relative, path

    def _newest(self, path: str) -> list[str] | None:
        """The versions of exactly ``path`` (the listing is by string prefix, so siblings come too)."""
        for names in self._client.versions(path, False):
            if names and names[0].split(VERSION_MARK, 1)[0] == path:
                return names
        return None

    def _info(self, relative: str, size: int, names: list[str] | None) -> ObjectInfo:
        version = names[0].split(VERSION_MARK, 1)[1] if names and VERSION_MARK in names[0] else None
        return ObjectInfo(key=relative, size=size, etag=version, last_modified=_version_time(version))

    # --- reads ----------------------------------------------------------------------------------------------

    def head_object(self, prefix: str, key: str) -> ObjectInfo:
        relative, path = self._path(prefix, key)
        size = self._client.size(path)
        if size is None:
            raise ObjectNotFound("no such object", key=relative)
        return self._info(relative, size, self._newest(path))

    @contextmanager
    def open_object(self, prefix: str, key: str, options: ReadOptions) -> Generator[OpenedObject, None, None]:
        relative, path = self._path(prefix, key)
        info = self.head_object(prefix, key)
        first, stop = resolve_range(options.start, options.end, info.size)
        chunks = self._client.read(path, first, self.config.chunk_size) if stop > first else iter(())
        # The gateway's stream reads the newest version whole, but the size and version above may be another's (a
        # write may land in between; the client cannot open a named version): an open-ended read goes to the end
        # of the version it opened, never cut at another's length.
        open_ended = options.end is None and (options.start is None or options.start >= 0) and stop > first
        body: Any = ChunkIteratorReader(chunks)
        limited = body if open_ended else LimitedReader(body, stop - first)
        verifying = VerifyingReader(
            lambda n: bytes(limited.read(n) or b""),
            limited.close,
            key=relative,
            length=None if open_ended else stop - first,
            sha256=None,
            translate=lambda exc: (
                exc if isinstance(exc, ObjectStorageError) else TransientError(str(exc), key=relative)
            ),
        )
        with io.BufferedReader(verifying, buffer_size=CHUNK_SIZE) as buffered:
            yield OpenedObject(info, buffered)

    def scan_objects(self, prefix: str, options: ListOptions) -> Iterator[ObjectInfo]:
        recursive = options.recursive
        folder = self._root.folder(prefix)
        # Altastata lists in no particular order: gather the names (not the content), then sort.
        newest: dict[str, list[str]] = {}
        for names in self._client.versions(folder, True):
            if not names:
                continue
            path = names[0].split(VERSION_MARK, 1)[0]
            if not path.startswith(folder):
                continue
            relative = self._root.relative(path)
            if relative.split("/", 1)[0] == UPLOADS or not is_valid_key(relative):
                continue
            newest[relative] = names
        depth = len(self._root.relative(folder)) if folder else 0
        last_prefix = None
        for relative in sorted(newest):
            rest = relative[depth:]
            if not recursive and "/" in rest:
                sub = relative[: depth + rest.index("/") + 1]
                if sub != last_prefix:
                    last_prefix = sub
                    yield ObjectInfo(key=sub, is_prefix=True)
                continue
            size = self._client.size(self._root.full(relative))
            if size is not None:  # deleted since the listing
                yield self._info(relative, size, newest[relative])

    # --- writes ---------------------------------------------------------------------------------------------

    def write_object(self, prefix: str, key: str, stream: Readable, options: WriteOptions) -> ObjectInfo:
        relative, path = self._path(prefix, key)
        if options.conditional:
            raise NotSupported("Altastata has no conditional writes", key=relative)
        if options.metadata:
            raise NotSupported("Altastata keeps no user metadata", key=relative)
        chunk = self.config.chunk_size
        first = bytes(read_exactly(stream, chunk))
        if len(first) < chunk:
            self._client.create(path, first)  # one call: the new version appears whole
            return self.head_object(prefix, key)
        # Several calls: build the version under a hidden name, then copy it into place, so the key never shows
        # a partial version (and a failure leaves the previous one current).
        staging = self._root.full(f"{UPLOADS}/{uuid.uuid4().hex}")
        try:
            self._client.create(staging, first)
            while data := bytes(read_exactly(stream, chunk)):
                self._client.append(staging, data)
            self._client.copy(staging, path)
        finally:
            # An orphan left under the hidden folder if this fails too: never listed, removable by hand.
            with contextlib.suppress(ObjectStorageError):
                self._client.delete_paths([staging])
        return self.head_object(prefix, key)

    def delete_object(self, prefix: str, key: str) -> None:
        relative, path = self._path(prefix, key)
        if self._client.size(path) is None:
            raise ObjectNotFound("no such object", key=relative)
        self._client.delete_paths([path])  # exact paths: a prefix delete would also take siblings

    def delete_objects(self, prefix: str, keys: Iterable[str]) -> DeleteResult:
        given: dict[str, str] = {}
        errors: dict[str, ObjectStorageError] = {}
        for key in keys:
            try:
                given[self._path(prefix, key)[1]] = key
            except ObjectStorageError as exc:
                errors[key] = exc
        try:
            if given:
                self._client.delete_paths(list(given))
        except ObjectStorageError as exc:
            errors.update(dict.fromkeys(given.values(), exc))
            return DeleteResult((), errors)
        return DeleteResult(tuple(given.values()), errors)

    def copy_object(self, src_prefix: str, src_key: str, dst_prefix: str, dst_key: str) -> None:
        src_relative, source = self._path(src_prefix, src_key)
        _, target = self._path(dst_prefix, dst_key)
        if self._client.size(source) is None:
            raise ObjectNotFound("no such object", key=src_relative)
        if source != target:
            self._client.copy(source, target)


def _version_time(version: str | None) -> datetime | None:
    """``user_1736101234567`` -> the version's creation time, when the suffix carries one."""
    if not version:
        return None
    tail = version.rsplit("_", 1)[-1]
    if not tail.isdigit():
        return None
    return datetime.fromtimestamp(int(tail) / 1000, tz=timezone.utc)
