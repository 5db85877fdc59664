"""The SigV4 signer (``objstore.adapters.sigv4``): AWS's published test vectors, S3's extras, botocore's signer.

The vectors are the AWS Signature Version 4 Test Suite (aws-sig-v4-test-suite, Apache License 2.0, copyright
Amazon.com, Inc.), copied verbatim (each case's ``.req`` input and its expected ``.creq``, ``.sts`` and
``.authz``) from the copy boto/botocore ships in ``tests/unit/auth/aws4_testsuite`` (commit
0e6e2404b85dc336dd2889814e089bde7d1a4c55) into ``data/aws_sigv4_test_suite.json``; the file names its source.

Cases of the suite left out, and why:

- ``normalize-path/get-relative``, ``get-relative-relative``, ``get-slash``, ``get-slash-dot-slash``,
  ``get-slash-pointless-dot``, ``get-slashes``: they normalise the path (dot segments removed, slashes
  collapsed) as services other than S3 do. S3 signs the path as sent (``a//b`` and ``a/./b`` are distinct keys;
  the suite's own ``normalize-path.txt`` says so), and so does this signer. ``get-space`` and
  ``get-special-character`` from that folder need no normalisation and are kept.
- ``get-header-key-duplicate``, ``get-header-value-order``: one header sent several times. The signer takes a
  mapping (one value per name); objstore never repeats a header.
- ``post-sts-header-after``: a session token added after signing. For S3 the token is signed (as botocore does
  and as ``post-sts-header-before``, kept, expects); this signer always signs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.session
import pytest

from objstore.adapters.s3_direct import DirectRequests
from objstore.adapters.sigv4 import (
    EMPTY_SHA256,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD,
    Clock,
    SigV4Signer,
    StaticCredentials,
    canonical_query,
    signing_key,
    uri_encode,
)

SUITE = json.loads((Path(__file__).parent / "data" / "aws_sigv4_test_suite.json").read_text(encoding="utf-8"))
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)
SUITE_CREDENTIALS = StaticCredentials(SUITE["access_key"], SUITE["secret_key"])


def fixed(moment: datetime = SUITE_TIME) -> Clock:
    return lambda: moment


# --- AWS's test suite ---------------------------------------------------------------------------------------


def parse_request(text: str) -> tuple[str, str, list[tuple[str, str]], list[tuple[str, str]], bytes]:
    """A suite ``.req`` file: method, raw path, decoded query pairs, headers (continuation lines kept), body."""
    head, _, body = text.partition("\n\n")
    request_line, *lines = head.split("\n")
    method, target = request_line.rsplit(" ", 1)[0].split(" ", 1)
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):  # a folded (multi-line) header value
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    path, _, raw_query = target.partition("?")
    query = [
        (urllib.parse.unquote(name), urllib.parse.unquote(value))
        for name, _, value in (pair.partition("=") for pair in raw_query.split("&") if pair)
    ]
    return method, path, query, headers, body.encode()


@pytest.mark.parametrize("name", sorted(SUITE["cases"]))
def test_aws_signature_v4_test_suite(name: str) -> None:
    case = SUITE["cases"][name]
    method, path, query, raw_headers, body = parse_request(case["req"])
    headers: dict[str, str] = {}
    token = case.get("session_token")
    amz_date = None
    for header, value in raw_headers:
        if header.lower() == "x-amz-date":
            amz_date = value  # the signer sets it, from its clock
        elif header.lower() == "x-amz-security-token":
            token = value  # the signer sends it, from the credentials
        else:
            headers[header] = value
    credentials = StaticCredentials(SUITE["access_key"], SUITE["secret_key"], token)
    signer = SigV4Signer(SUITE["region"], SUITE["service"], clock=fixed())

    signed = signer.sign(
        method,
        uri_encode(path, safe="/"),
        canonical_query(query),
        headers,
        hashlib.sha256(body).hexdigest(),
        credentials,
    )

    assert signed.canonical_request == case["creq"]
    assert signed.string_to_sign == case["sts"]
    assert signed.authorization == case["authz"]
    assert signed.headers["x-amz-date"] == amz_date == SUITE["time"]
    assert signed.headers.get("x-amz-security-token") == token
    assert "x-amz-content-sha256" not in signed.headers  # S3's header, not the generic service's


def test_the_suite_covers_what_the_brief_names() -> None:
    for name in (
        "get-vanilla",
        "get-vanilla-query-order-key-case",
        "get-header-value-trim",
        "post-x-www-form-urlencoded",
        "get-utf8",
        "get-space",
        "post-header-key-sort",
    ):
        assert name in SUITE["cases"]


def test_signing_keys_follow_a_rotated_secret() -> None:
    signer = SigV4Signer(SUITE["region"], SUITE["service"], clock=fixed())
    headers = {"host": "example.amazonaws.com"}
    rotated = StaticCredentials(SUITE["access_key"], "another-secret")
    first, other, again = (
        signer.sign("GET", "/", "", headers, EMPTY_SHA256, credentials)
        for credentials in (SUITE_CREDENTIALS, rotated, SUITE_CREDENTIALS)
    )
    assert first.authorization == again.authorization == SUITE["cases"]["get-vanilla"]["authz"]
    assert other.signature != first.signature
    assert signing_key("another-secret", "20150830", "us-east-1", "service") != signing_key(
        SUITE["secret_key"], "20150830", "us-east-1", "service"
    )


# --- the clock ----------------------------------------------------------------------------------------------


def test_the_clock_is_read_for_each_request_and_turned_to_utc() -> None:
    moments = iter([SUITE_TIME, SUITE_TIME.astimezone(timezone(timedelta(hours=2))), SUITE_TIME.replace(tzinfo=None)])
    signer = SigV4Signer("us-east-1", "service", clock=lambda: next(moments))
    headers = {"host": "example.amazonaws.com"}
    first, second, third = (signer.sign("GET", "/", "", headers, EMPTY_SHA256, SUITE_CREDENTIALS) for _ in range(3))
    assert first.authorization == second.authorization == third.authorization == SUITE["cases"]["get-vanilla"]["authz"]


def test_a_new_day_gets_a_new_scope_and_key() -> None:
    moments = iter([datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc)])
    signer = SigV4Signer("eu-west-1", "s3", clock=lambda: next(moments))
    headers = {"host": "h"}
    before = signer.sign("GET", "/", "", headers, EMPTY_SHA256, SUITE_CREDENTIALS)
    after = signer.sign("GET", "/", "", headers, EMPTY_SHA256, SUITE_CREDENTIALS)
    assert "/20261231/eu-west-1/s3/aws4_request," in before.authorization
    assert "/20270101/eu-west-1/s3/aws4_request," in after.authorization
    assert after.headers["x-amz-date"] == "20270101T000000Z"


def test_the_default_clock_is_the_real_time() -> None:
    signed = SigV4Signer("us-east-1", "s3").sign("GET", "/", "", {"host": "h"}, EMPTY_SHA256, SUITE_CREDENTIALS)
    sent = datetime.strptime(signed.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - sent) < timedelta(minutes=1)


# --- S3's extras --------------------------------------------------------------------------------------------


def s3_signer(moment: datetime = SUITE_TIME) -> SigV4Signer:
    return SigV4Signer("us-east-1", "s3", clock=fixed(moment))


@pytest.mark.parametrize(
    "payload",
    [EMPTY_SHA256, hashlib.sha256(b"data").hexdigest(), UNSIGNED_PAYLOAD, STREAMING_UNSIGNED_PAYLOAD_TRAILER],
)
def test_s3_sends_and_signs_the_payload_hash(payload: str) -> None:
    signed = s3_signer().sign("PUT", "/b/k", "", {"host": "h"}, payload, SUITE_CREDENTIALS)
    assert signed.headers["x-amz-content-sha256"] == payload
    assert signed.canonical_request.endswith(f"\nhost;x-amz-content-sha256;x-amz-date\n{payload}")
    assert f"\nx-amz-content-sha256:{payload}\n" in signed.canonical_request


def test_the_content_sha256_header_can_be_turned_on_for_other_services_and_off_for_s3() -> None:
    headers = {"host": "h"}
    on = SigV4Signer("us-east-1", "service", clock=fixed(), content_sha256_header=True)
    off = SigV4Signer("us-east-1", "s3", clock=fixed(), content_sha256_header=False)
    assert on.sign("GET", "/", "", headers, EMPTY_SHA256, SUITE_CREDENTIALS).headers["x-amz-content-sha256"]
    assert "x-amz-content-sha256" not in off.sign("GET", "/", "", headers, EMPTY_SHA256, SUITE_CREDENTIALS).headers


@pytest.mark.parametrize("token", [None, ""])
def test_no_session_token_no_header(token: str | None) -> None:
    credentials = StaticCredentials("AK", "SK", token)
    signed = s3_signer().sign("GET", "/", "", {"host": "h"}, EMPTY_SHA256, credentials)
    assert "x-amz-security-token" not in signed.headers
    assert "x-amz-security-token" not in signed.authorization


def test_the_session_token_is_sent_and_signed() -> None:
    signed = s3_signer().sign("GET", "/", "", {"host": "h"}, EMPTY_SHA256, StaticCredentials("AK", "SK", "tok/+="))
    assert signed.headers["x-amz-security-token"] == "tok/+="
    assert "\nx-amz-security-token:tok/+=\n" in signed.canonical_request
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token," in signed.authorization


@pytest.mark.parametrize(
    "payload", ["", "UNSIGNED", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"]
)
def test_a_payload_hash_must_be_a_sha256_or_a_special_value(payload: str) -> None:
    with pytest.raises(ValueError, match="payload hash"):
        s3_signer().sign("GET", "/", "", {"host": "h"}, payload, SUITE_CREDENTIALS)


def test_the_host_must_be_signed() -> None:
    with pytest.raises(ValueError, match="host"):
        s3_signer().sign("GET", "/", "", {"range": "bytes=0-1"}, EMPTY_SHA256, SUITE_CREDENTIALS)


def test_the_given_headers_are_not_changed_and_names_come_back_lower_case() -> None:
    given = {"Host": "h", "Content-Type": "text/plain"}
    signed = s3_signer().sign("PUT", "/b/k", "", given, EMPTY_SHA256, SUITE_CREDENTIALS)
    assert given == {"Host": "h", "Content-Type": "text/plain"}
    assert signed.headers["content-type"] == "text/plain"
    assert all(name == name.lower() for name in signed.headers)


def test_secrets_stay_out_of_repr() -> None:
    text = repr(StaticCredentials("AKID", "the-secret", "the-token"))
    assert "AKID" in text
    assert "the-secret" not in text
    assert "the-token" not in text


def test_canonical_query_encodes_then_sorts_by_name_then_value() -> None:
    pairs = [("prefix", "a b/ü+"), ("list-type", "2"), ("Prefix", "x"), ("a", "2"), ("a", "10")]
    assert canonical_query(pairs) == "Prefix=x&a=10&a=2&list-type=2&prefix=a%20b%2F%C3%BC%2B"
    assert canonical_query([]) == ""


# --- against botocore's S3SigV4Auth -------------------------------------------------------------------------

KEYS = ["plain.txt", "dir/a b.txt", "photos/2026+summer/été.jpg", "ключ/~tilde*star(1)'q'!", "a//b/./c"]

# (method, bucket prefix, key, query pairs, headers, body, botocore request context)
S3_REQUESTS: dict[str, tuple[str, str, str | None, list[tuple[str, str]], dict[str, str], bytes, dict[str, Any]]] = {
    "get-object": ("GET", "/bucket/", "dir/a b.txt", [], {}, b"", {}),
    "get-range": ("GET", "/bucket/", "plain.txt", [], {"Range": "bytes=0-99"}, b"", {}),
    "list-with-query": (
        "GET",
        "/bucket",
        None,
        [
            ("list-type", "2"),
            ("prefix", "dir/é and +/"),
            ("delimiter", "/"),
            ("encoding-type", "url"),
            ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
            ("max-keys", "1000"),
        ],
        {},
        b"",
        {},
    ),
    "put-with-metadata": (
        "PUT",
        "/bucket/",
        "photos/2026+summer/été.jpg",
        [],
        {
            "Content-Type": "image/jpeg",
            "Content-Length": "11",
            "x-amz-meta-owner": "  Ada   Lovelace ",
            "x-amz-meta-camera": "X100",
            "If-None-Match": "*",
        },
        b"hello world",
        {},
    ),
    "upload-part": (
        "PUT",
        "/bucket/",
        "big/part file",
        [("partNumber", "3"), ("uploadId", "2~Ab/cd+ef==")],
        {"Content-Length": "4"},
        b"part",
        {},
    ),
    "virtual-hosted": ("GET", "/", "ключ/~tilde*star(1)'q'!", [], {}, b"", {}),
    "unsigned-payload": (
        "PUT",
        "/bucket/",
        "a//b/./c",
        [],
        {"Content-Length": "4", "Content-MD5": "jbUPhvCtkJ7wyCrHBNq3wA=="},
        b"data",
        {"client_config": botocore.config.Config(s3={"payload_signing_enabled": False})},
    ),
    "streaming-trailer": (
        "PUT",
        "/bucket/",
        "stream",
        [],
        {"Content-Encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32"},
        b"",
        {"checksum": {"request_algorithm": {"in": "trailer", "name": "x-amz-checksum-crc32"}}},
    ),
}


def botocore_authorization(
    credentials: StaticCredentials,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> botocore.awsrequest.AWSRequest:
    """The request as botocore's own S3 signer signs it, at the suite's fixed time."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: SUITE_TIME.replace(tzinfo=None))
    request = botocore.awsrequest.AWSRequest(method=method, url=url, headers=dict(headers), data=body or None)
    request.context.update(context)
    frozen = botocore.credentials.ReadOnlyCredentials(credentials.access_key, credentials.secret_key, credentials.token)
    botocore.auth.S3SigV4Auth(frozen, "s3", "us-east-1").add_auth(request)
    return request


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEBYaDH+/token=="])
@pytest.mark.parametrize("name", sorted(S3_REQUESTS))
def test_the_same_authorization_as_botocores_s3_signer(
    name: str, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    method, prefix, key, query_pairs, headers, body, context = S3_REQUESTS[name]
    host = "bucket.localhost:8333" if name == "virtual-hosted" else "localhost:8333"
    path = prefix + urllib.parse.quote(key, safe="/~") if key is not None else prefix  # as s3_direct sends it
    query = canonical_query(query_pairs)
    credentials = StaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    expected = botocore_authorization(
        credentials,
        method,
        f"http://{host}{path}" + (f"?{query}" if query else ""),
        headers,
        body,
        context,
        monkeypatch,
    )
    payload = expected.headers["X-Amz-Content-SHA256"]
    assert payload == {
        "unsigned-payload": UNSIGNED_PAYLOAD,
        "streaming-trailer": STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    }.get(name, hashlib.sha256(body).hexdigest())

    signed = s3_signer().sign(method, path, query, {**headers, "Host": host}, payload, credentials)

    assert signed.authorization == expected.headers["Authorization"]
    assert signed.headers["x-amz-date"] == expected.headers["X-Amz-Date"]
    assert signed.headers["x-amz-content-sha256"] == payload
    assert signed.headers.get("x-amz-security-token") == expected.headers.get("X-Amz-Security-Token")


@pytest.mark.parametrize("key", KEYS)
def test_direct_requests_sign_as_botocore_does(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """DirectRequests built from a botocore client, with the session's credentials (public API)."""
    for name in [name for name in os.environ if name.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    session = botocore.session.get_session()
    session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    client = session.create_client("s3", endpoint_url="http://127.0.0.1:8333", region_name="eu-central-1")
    direct = DirectRequests.for_client(
        client, "my-bucket", virtual_hosted=False, pool_size=2, user_agent="t", credentials=session.get_credentials()
    )
    assert direct is not None
    monkeypatch.setattr(direct, "_signer", SigV4Signer("eu-central-1", "s3", clock=fixed()))
    body = key.encode()
    path = "/my-bucket/" + urllib.parse.quote(key, safe="/~")

    sent = direct._sign("PUT", path, "", {"content-length": str(len(body))}, hashlib.sha256(body).hexdigest())

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: SUITE_TIME.replace(tzinfo=None))
    request = botocore.awsrequest.AWSRequest(
        method="PUT", url=f"http://127.0.0.1:8333{path}", headers={"content-length": str(len(body))}, data=body
    )
    frozen = session.get_credentials().get_frozen_credentials()
    botocore.auth.S3SigV4Auth(frozen, "s3", "eu-central-1").add_auth(request)
    assert sent["authorization"] == request.headers["Authorization"]
    assert sent["x-amz-security-token"] == "session-token"


def test_direct_requests_need_credentials() -> None:
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url="http://127.0.0.1:8333",
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    assert DirectRequests.for_client(client, "b", virtual_hosted=False, pool_size=1, user_agent="t") is None
