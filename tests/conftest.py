"""Session fixtures: the real test servers, started once per test session on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.register_assert_rewrite("objstore.testing.conformance")

from tests.harness.servers import running  # noqa: E402


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A SeaweedFS `weed mini` S3 server (see tests/harness/seaweedfs.py)."""
    from tests.harness.seaweedfs import start_weed_mini

    with running("seaweedfs", lambda: start_weed_mini(tmp_path_factory.mktemp("seaweedfs"))) as value:
        yield value


@pytest.fixture(scope="session")
def s3_bucket(s3_server: object) -> str:
    """One bucket for the session; each test works under its own random base prefix."""
    return s3_server.make_bucket("objstore-tests")  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto_server (see tests/harness/moto.py): for keys SeaweedFS refuses or rewrites."""
    from tests.harness.moto import start_moto

    with running("moto_server", lambda: start_moto(tmp_path_factory.mktemp("moto"))) as value:
        yield value


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """fake-gcs-server (see tests/harness/gcs.py); yields its endpoint URL."""
    from tests.harness.gcs import start_fake_gcs

    with running("fake-gcs-server", lambda: start_fake_gcs(tmp_path_factory.mktemp("fake-gcs"))) as value:
        yield value


@pytest.fixture(scope="session")
def gcs_bucket(gcs_server: str) -> str:
    from objstore.adapters.gcs import GCSAdapter

    GCSAdapter("objstore-tests", endpoint=gcs_server, create_bucket=True).close()
    return "objstore-tests"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob service (see tests/harness/azurite.py); yields a connection string for it."""
    from tests.harness.azurite import connection_string, start_azurite

    with running("azurite", lambda: start_azurite(tmp_path_factory.mktemp("azurite"))) as endpoint:
        yield connection_string(endpoint)


@pytest.fixture(scope="session")
def azure_container(azurite: str) -> str:
    from objstore.adapters.azure_blob import AzureBlobAdapter

    AzureBlobAdapter("objstore-tests", connection_string=azurite, create_container=True).close()
    return "objstore-tests"


NAAS_API_KEY = "naas-test-api-key"  # accepted only by the loopback service below


@pytest.fixture(scope="session")
def naas_service(s3_server: Any) -> Iterator[Any]:
    """A Naas credentials API on loopback handing out real, long-lived keys for the S3 test server."""
    from tests.harness.naas_service import NaasService

    service = NaasService(s3_server, "naas-tests", api_key=NAAS_API_KEY, lifetime=3600, reuse=True).start()
    try:
        yield service
    finally:
        service.stop()


ALTASTATA_PASSWORD = "altastata-test-password"  # noqa: S105 - accepted only by the loopback test gateway


@pytest.fixture(scope="session")
def altastata_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The JVM py4j test gateway (see tests/harness/altastata.py); yields its port."""
    from tests.harness.altastata import start_gateway

    with running("altastata gateway", lambda: start_gateway(tmp_path_factory.mktemp("altastata-gateway"))) as value:
        yield value


@pytest.fixture(scope="session")
def altastata_account(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.harness.altastata import make_account

    return str(make_account(tmp_path_factory.mktemp("account") / "amazon.rsa.alice", "alice", ALTASTATA_PASSWORD))
