"""A Naas credentials API on loopback that issues keys the S3 test server really accepts, then really revokes.

Each issued key is a SeaweedFS identity added with `weed shell s3.configure ... -apply` (live within a second);
when its lifetime ends the identity is deleted, and the S3 server rejects the key from then on.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness.seaweedfs import S3Endpoint
from tests.harness.servers import free_port

PATH = re.compile(r"^/workspace/(?P<workspace>[^/]+)/storage/credentials/$")


@dataclass
class IssuedKey:
    user: str
    access_key: str
    secret_key: str = field(repr=False)
    issued_at: float
    expires_at: float
    revoked: bool = False


class NaasService:
    """The Naas credentials API for tests.

    Args:
        s3: The S3 test server whose identities it manages.
        bucket: The bucket storages live in (``s3://bucket/<workspace>/<storage>``).
        api_key: The only API key it accepts.
        lifetime: Seconds each key lives before it is revoked.
        reuse: Hand out the current key again while more than half its life is left (fewer identities for
            long test runs); otherwise every request gets a new key.
    """

    def __init__(self, s3: S3Endpoint, bucket: str, *, api_key: str, lifetime: float, reuse: bool = False) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.api_key = api_key
        self.lifetime = lifetime
        self.reuse = reuse
        self.mode = "ok"  # "ok", "no-expiration", "malformed:<json>", "status:<code>"
        self.requests = 0
        self.issued: list[IssuedKey] = []
        self._lock = threading.Lock()
        self._shell_lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> NaasService:
        self.s3.make_bucket(self.bucket)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = service.handle(self.path, self.headers.get("Authorization", ""), self._body())
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    return json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return None

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for key in list(self.issued):
            self.revoke(key)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the API ------------------------------------------------------------------------------------------

    def handle(self, path: str, authorization: str, body: Any) -> tuple[int, Any]:
        with self._lock:
            self.requests += 1
            match = PATH.match(path)
            if match is None:
                return 404, {"error": "not found"}
            if authorization != f"Bearer {self.api_key}":
                return 401, {"error": "invalid api key"}
            if not isinstance(body, dict) or not body.get("name"):
                return 400, {"error": "name required"}
            if self.mode.startswith("status:"):
                return int(self.mode.split(":", 1)[1]), {"error": "injected"}
            if self.mode.startswith("malformed:"):
                return 200, json.loads(self.mode.split(":", 1)[1])
            key = self._current_or_new()
            expiration = None
            if self.mode != "no-expiration":
                expires = datetime.fromtimestamp(key.expires_at, timezone.utc)
                expiration = expires.strftime("%Y-%m-%d %H:%M:%S%z")
            return 200, {
                "credentials": {
                    "s3": {
                        "endpoint_url": f"s3://{self.bucket}/{match['workspace']}/{body['name']}",
                        "region_name": "us-east-1",
                        "access_key_id": key.access_key,
                        "secret_key": key.secret_key,
                        "session_token": None,  # SeaweedFS takes any session token for an STS one
                        "expiration": expiration,
                    }
                }
            }

    def _current_or_new(self) -> IssuedKey:
        now = time.time()
        if self.reuse and self.issued:
            current = self.issued[-1]
            if not current.revoked and current.expires_at - now > self.lifetime / 2:
                return current
        key = IssuedKey(
            user=f"naas-{len(self.issued)}-{secrets.token_hex(3)}",
            access_key="NAAS" + secrets.token_hex(8).upper(),
            secret_key=secrets.token_urlsafe(24),
            issued_at=now,
            expires_at=now + self.lifetime,
        )
        self._shell(
            f"s3.configure -user={key.user} -access_key={key.access_key} -secret_key={key.secret_key} "
            "-actions=Read,Write,List -apply"
        )
        self._wait_until(key, accepted=True)
        # Issued from the moment it works, so the client gets its whole lifetime.
        key.issued_at = time.time()
        key.expires_at = key.issued_at + self.lifetime
        self.issued.append(key)
        timer = threading.Timer(self.lifetime, self.revoke, args=(key,))
        timer.daemon = True
        timer.start()
        self._timers.append(timer)
        return key

    def revoke(self, key: IssuedKey) -> None:
        if key.revoked:
            return
        key.revoked = True
        self._shell(f"s3.configure -user={key.user} -access_key={key.access_key} -delete -apply")

    def withdraw(self, key: IssuedKey) -> None:
        """Take every permission from a key but keep it known: S3 answers its requests 403 AccessDenied (what an
        expired or revoked temporary key often gets from a real store, rather than InvalidAccessKeyId)."""
        key.revoked = True
        self._shell(f"s3.configure -user={key.user} -actions=Read,Write,List -delete -apply")
        client = self.s3.client(access_key_id=key.access_key, secret_access_key=key.secret_key)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.put_object(Bucket=self.bucket, Key="withdrawn-probe", Body=b"")
            except Exception as exc:
                if "AccessDenied" in str(exc):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the S3 server did not deny {key.user} in 10s")

    def _shell(self, command: str) -> None:
        with self._shell_lock:
            self.s3.shell(command)

    def _wait_until(self, key: IssuedKey, *, accepted: bool, timeout: float = 10.0) -> None:
        client = self.s3.client(access_key_id=key.access_key, secret_access_key=key.secret_key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
                works = True
            except Exception:
                works = False
            if works == accepted:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the S3 server did not {'accept' if accepted else 'reject'} {key.user} in {timeout}s")


def expires_in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S%z")
