"""The physical ceiling: one object sent or fetched over a single HTTP stream, with no SDK in the data path.

botocore only signs the request headers (SigV4 with ``UNSIGNED-PAYLOAD``, so the body is never hashed); the body
goes through ``http.client`` in 1 MiB blocks, and a download is read into one reused 1 MiB buffer. Nothing is
checksummed, split or retried: this is what one TCP stream to the server can do on this machine.

Credentials and the endpoint come from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``), never from the command line.

    python bench/raw_s3.py put FILE BUCKET KEY
    python bench/raw_s3.py get BUCKET KEY FILE
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BLOCK = 1024 * 1024


def signed_headers(method: str, url: str, extra: dict[str, str]) -> dict[str, str]:
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    # Plain SigV4 (not botocore's S3 variant, which would hash the body): the payload is declared unsigned.
    request = AWSRequest(method=method, url=url, headers={**extra, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(credentials, "s3", region).add_auth(request)
    return dict(request.headers.items())


def connect(endpoint: str) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme != "http":
        raise SystemExit("raw_s3.py measures a loopback http endpoint only")
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, blocksize=BLOCK, timeout=300)


def put(path: str, bucket: str, key: str, endpoint: str) -> None:
    url = f"{endpoint}/{bucket}/{urllib.parse.quote(key)}"
    size = os.path.getsize(path)
    headers = signed_headers("PUT", url, {"Content-Length": str(size)})
    connection = connect(endpoint)
    with open(path, "rb") as body:
        connection.request("PUT", urllib.parse.urlsplit(url).path, body=body, headers=headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        raise SystemExit(f"PUT {key}: HTTP {response.status}: {answer[:300]!r}")


def get(bucket: str, key: str, path: str, endpoint: str) -> None:
    url = f"{endpoint}/{bucket}/{urllib.parse.quote(key)}"
    connection = connect(endpoint)
    connection.request("GET", urllib.parse.urlsplit(url).path, headers=signed_headers("GET", url, {}))
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"GET {key}: HTTP {response.status}: {response.read()[:300]!r}")
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    with open(path, "wb") as out:
        while count := response.readinto(buffer):
            out.write(view[:count])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("put")
    up.add_argument("file")
    up.add_argument("bucket")
    up.add_argument("key")
    down = commands.add_parser("get")
    down.add_argument("bucket")
    down.add_argument("key")
    down.add_argument("file")
    args = parser.parse_args()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ["AWS_ENDPOINT_URL"]
    if args.command == "put":
        put(args.file, args.bucket, args.key, endpoint)
    else:
        get(args.bucket, args.key, args.file, endpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
