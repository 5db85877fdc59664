"""Azure adapter behaviour on Azurite: SAS links, block staging, tiers, credentials, failures."""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import uuid
from typing import Any

import pytest
import requests
from azure.core.exceptions import ServiceResponseError
from azure.storage.blob import BlobClient

from objstore import (
    AuthenticationError,
    ConfigurationError,
    IntegrityError,
    NotSupported,
    ObjectStorageFactory,
    ObjectStorageService,
    PermissionDenied,
    TransientError,
)
from objstore.adapters.azure_blob import AzureBlobAdapter, AzureBlobConfig
from objstore.adapters.layers.retry import RetryingAdapter, RetryPolicy
from objstore.ports.storage import unwrap
from objstore.testing.conformance import PatternStream, ShortReadStream
from tests.conformance.test_azure import azure_adapter
from tests.harness.azurite import ACCOUNT, ACCOUNT_KEY
from tests.harness.servers import free_port

MiB = 1024 * 1024


@pytest.fixture
def adapter(azurite: str, azure_container: str) -> AzureBlobAdapter:
    return azure_adapter(azurite, azure_container)


@pytest.fixture
def store(adapter: AzureBlobAdapter) -> ObjectStorageService:
    return ObjectStorageService(adapter)


def endpoint_of(connection_string: str) -> str:
    return dict(part.split("=", 1) for part in connection_string.strip(";").split(";"))["BlobEndpoint"]


def test_a_sas_url_downloads_with_plain_requests(store: ObjectStorageService) -> None:
    store.put_object("share", "report.csv", b"a,b\n1,2\n")
    url = store.presign_url("share", "report.csv", expires_in=120)
    assert "sig=" in url
    assert ACCOUNT_KEY not in url
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == b"a,b\n1,2\n"
    tampered = url.replace("sig=", "sig=x")
    assert requests.get(tampered, timeout=30).status_code == 403


def test_blocks_are_staged_in_parallel_and_the_sha256_of_a_pipe_is_kept(
    store: ObjectStorageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = 0
    most = 0
    lock = threading.Lock()
    real = BlobClient.stage_block

    def counting(self: BlobClient, *args: Any, **kwargs: Any) -> Any:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        try:
            return real(self, *args, **kwargs)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(BlobClient, "stage_block", counting)
    content = random.Random(31).randbytes(30 * MiB + 3)
    info = store.put_object_stream("blocks", "big.bin", ShortReadStream(content, most=300_000))
    assert info.size == len(content)
    assert 1 < most <= 4
    assert store.head_object("blocks", "big.bin").checksum_sha256 == hashlib.sha256(content).hexdigest()
    assert store.get_object("blocks", "big.bin") == content


def test_a_block_that_fails_is_staged_again_alone(
    azurite: str, azure_container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Block 3's connection drops twice: the retry layer stages block 3 again alone, not the upload."""
    policy = RetryPolicy(attempts=3, base=0.01)
    store = ObjectStorageService(RetryingAdapter(azure_adapter(azurite, azure_container), policy))
    real = BlobClient.stage_block
    sends: dict[str, int] = {}
    lock = threading.Lock()

    def flaky(self: BlobClient, block_id: str, *args: Any, **kwargs: Any) -> Any:
        number = base64.b64decode(block_id).decode().rsplit("-", 1)[1].lstrip("0")
        with lock:
            sends[number] = sends.get(number, 0) + 1
            failing = number == "3" and sends[number] <= 2
        if failing:
            raise ServiceResponseError("the connection dropped while block 3 was sent")
        return real(self, block_id, *args, **kwargs)

    monkeypatch.setattr(BlobClient, "stage_block", flaky)
    content = random.Random(7).randbytes(18 * MiB)
    info = store.put_object_stream("blocks", "resumed.bin", ShortReadStream(content, most=1_000_000))
    assert info.size == len(content)
    assert sends == {"1": 1, "2": 1, "3": 3, "4": 1, "5": 1}
    assert store.get_object("blocks", "resumed.bin") == content


@pytest.mark.parametrize(
    ("tier", "expected"), [("hot", "Hot"), ("cool", "Cool"), ("cold", "Cold"), ("archive", "Archive")]
)
def test_access_tier_on_put(azurite: str, azure_container: str, tier: str, expected: str) -> None:
    adapter = azure_adapter(azurite, azure_container, access_tier=tier)
    ObjectStorageService(adapter).put_object("", "tiered", b"x")
    properties = adapter._container.get_blob_client(f"{adapter.config.base_prefix}/tiered").get_blob_properties()
    assert properties.blob_tier == expected


def test_large_puts_get_the_tier_too(azurite: str, azure_container: str) -> None:
    adapter = azure_adapter(azurite, azure_container, access_tier="cool")
    ObjectStorageService(adapter).put_object_stream("", "big", PatternStream(9 * MiB))
    properties = adapter._container.get_blob_client(f"{adapter.config.base_prefix}/big").get_blob_properties()
    assert properties.blob_tier == "Cool"


def test_container_creation_on_request(azurite: str) -> None:
    name = f"created-{uuid.uuid4().hex[:12]}"
    store = ObjectStorageService(azure_adapter(azurite, name, create_container=True))
    store.put_object("", "k", b"x")
    assert store.get_object("", "k") == b"x"


def test_a_missing_container_is_a_configuration_error(azurite: str) -> None:
    store = ObjectStorageService(azure_adapter(azurite, "no-such-container"))
    with pytest.raises(ConfigurationError, match="container does not exist"):
        store.put_object("", "k", b"x")


def test_content_not_matching_its_stored_sha256_is_an_integrity_error(
    store: ObjectStorageService, adapter: AzureBlobAdapter
) -> None:
    blob = adapter._container.get_blob_client(f"{adapter.config.base_prefix}/tampered")
    blob.upload_blob(b"changed", metadata={"objstore_sha256": hashlib.sha256(b"original").hexdigest()})
    with pytest.raises(IntegrityError):
        store.get_object("", "tampered")


def test_the_connection_string_from_the_environment(
    azurite: str, azure_container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    store = ObjectStorageFactory.from_url(f"az://{azure_container}/env-{uuid.uuid4().hex}")
    store.put_object("", "k", b"from the environment")
    assert store.get_object("", "k") == b"from the environment"


def test_account_url_and_key(azurite: str, azure_container: str) -> None:
    url = endpoint_of(azurite)
    store = ObjectStorageFactory.ObjectStorageServiceAzure(
        azure_container, f"key-{uuid.uuid4().hex}", account_url=url, account_key=ACCOUNT_KEY
    )
    store.put_object("", "k", b"x")
    assert store.capabilities.presigned_urls


def test_a_sas_token_works_but_cannot_make_links(
    store: ObjectStorageService, azurite: str, azure_container: str
) -> None:
    store.put_object("", "k", b"readable with a SAS")
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    sas = generate_container_sas(
        ACCOUNT,
        azure_container,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, write=True, list=True, delete=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )
    adapter = unwrap(store.adapter)
    assert isinstance(adapter, AzureBlobAdapter)
    via_sas = ObjectStorageService(
        AzureBlobAdapter(
            AzureBlobConfig(
                container=azure_container,
                base_prefix=adapter.config.base_prefix,
                account_url=endpoint_of(azurite),
                sas_token=sas,
            )
        )
    )
    assert via_sas.get_object("", "k") == b"readable with a SAS"
    with pytest.raises(NotSupported):
        via_sas.presign_url("", "k")


def test_a_wrong_key_is_an_authentication_error(azurite: str, azure_container: str) -> None:
    wrong = ACCOUNT_KEY[:-8] + "AAAAAAA="
    store = ObjectStorageService(
        AzureBlobAdapter(
            AzureBlobConfig(container=azure_container, account_url=endpoint_of(azurite), account_key=wrong)
        )
    )
    # Azure answers AuthenticationFailed (AuthenticationError); Azurite answers AuthorizationFailure, which Azure
    # uses for permission refusals (PermissionDenied). Both are PermissionErrors; the table is pinned in
    # tests/unit/test_cloud_error_tables.py.
    with pytest.raises(PermissionError) as caught:
        store.get_object("", "k")
    assert isinstance(caught.value, AuthenticationError | PermissionDenied)
    assert wrong not in str(caught.value)


def test_a_dead_endpoint_is_a_transient_error() -> None:
    adapter = AzureBlobAdapter(
        AzureBlobConfig(
            container="any",
            account_url=f"http://127.0.0.1:{free_port()}/{ACCOUNT}",
            account_key=ACCOUNT_KEY,
            connection_timeout=2,
        )
    )
    with pytest.raises(TransientError):
        ObjectStorageService(adapter).get_object("", "k")


def test_no_azure_credentials_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="no Azure account"):
        ObjectStorageFactory.from_url("az://container")
    with pytest.raises(ConfigurationError, match="no Azure credentials"):
        ObjectStorageFactory.from_url("az://container", account_name="someaccount")


def test_secrets_stay_out_of_repr(adapter: AzureBlobAdapter) -> None:
    for text in (repr(adapter), repr(adapter.config), repr(ObjectStorageService(adapter))):
        assert ACCOUNT_KEY not in text
        assert "AccountKey" not in text


def test_config_is_checked() -> None:
    for bad in ({"container": ""}, {"container": "c", "access_tier": "lukewarm"}, {"container": "c", "block_size": 0}):
        with pytest.raises(ConfigurationError):
            AzureBlobConfig(**bad)  # type: ignore[arg-type]
