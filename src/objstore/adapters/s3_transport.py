"""What the S3 adapter asks of S3, as one small interface, and its botocore implementation.

``S3Transport`` is the seam between :class:`objstore.adapters.s3.S3Adapter` (keys, options, integrity, the port's
semantics) and the requests that carry them to one bucket. Two implementations: :class:`BotocoreTransport`
(boto3's client, for every store) and ``DirectTransport`` in :mod:`objstore.adapters.s3_direct` (SigV4-signed
requests of objstore's own for the data-carrying calls on custom endpoints, botocore for the rest).

A transport sends each request once and raises what botocore would raise (``botocore.exceptions.ClientError``
for an error answer, botocore/urllib3/``http.client`` exceptions for network failures): translating them into
objstore's errors is the adapter's, with one table. Keys here are the bucket's keys (the store's root included).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from objstore.domain.streams import BufferReader

__all__ = [
    "BatchError",
    "BotocoreTransport",
    "Conditions",
    "Data",
    "Encryption",
    "ObjectAttributes",
    "S3Body",
    "S3Get",
    "S3Head",
    "S3Listed",
    "S3Page",
    "S3Transport",
    "content_md5",
    "page_of",
]

Data = bytes | bytearray | memoryview


class S3Body(Protocol):
    """A GET's body: read it in pieces, close it (botocore's ``StreamingBody`` and the direct path's body are)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class S3Head:
    """An object as the headers of a HEAD or GET answer describe it.

    ``length`` is the body's (the whole object's for a HEAD); ``content_range`` is set for a ranged GET. The
    etag is as sent (quoted); ``metadata`` is all the user metadata, objstore's own keys among it.
    """

    length: int
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_range: str | None = None


@dataclass(frozen=True)
class S3Get:
    """A started GET: what its headers say, and the body to read."""

    head: S3Head
    body: S3Body


@dataclass(frozen=True)
class S3Listed:
    """One object of a listing page."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime | None


@dataclass(frozen=True)
class S3Page:
    """One ``ListObjectsV2`` page: objects and common prefixes (bucket keys), and where the next page starts."""

    objects: Sequence[S3Listed]
    prefixes: Sequence[str]
    truncated: bool
    next_token: str | None


@dataclass(frozen=True)
class Encryption:
    """Server-side encryption asked for on every write: ``AES256`` or ``aws:kms`` (with an optional key)."""

    mode: str
    kms_key_id: str | None = None

    def boto_args(self) -> dict[str, str]:
        args = {"ServerSideEncryption": self.mode}
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

    def headers(self) -> dict[str, str]:
        headers = {"x-amz-server-side-encryption": self.mode}
        if self.kms_key_id:
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        return headers


@dataclass(frozen=True)
class ObjectAttributes:
    """What a new object carries: its content type and user metadata (objstore's SHA-256 among it)."""

    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Conditions:
    """The conditions of a write: ``If-None-Match`` (``*``) and ``If-Match`` (an etag, unquoted)."""

    if_none_match: str | None = None
    if_match: str | None = None

    def boto_args(self) -> dict[str, str]:
        args: dict[str, str] = {}
        if self.if_none_match:
            args["IfNoneMatch"] = self.if_none_match
        if self.if_match:
            args["IfMatch"] = f'"{self.if_match}"'
        return args

    def headers(self) -> dict[str, str]:
        return {_HEADER_OF[name]: value for name, value in self.boto_args().items()}


_HEADER_OF = {"IfNoneMatch": "if-none-match", "IfMatch": "if-match"}


@dataclass(frozen=True)
class BatchError:
    """A key a batch delete could not delete, with S3's code and message."""

    key: str
    code: str
    message: str


def content_md5(data: Data) -> str:
    """The Content-MD5 of a body (base64), which S3 checks on arrival."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


class S3Transport(Protocol):
    """The requests S3Adapter makes to its bucket, each sent once; errors raised as botocore raises them."""

    def head_bucket(self) -> None: ...

    def create_bucket(self) -> None:
        """CreateBucket, in the client's region."""
        ...

    def delete_bucket(self) -> None:
        """DeleteBucket (S3 refuses a bucket that holds objects: ``BucketNotEmpty``)."""
        ...

    def head(self, key: str) -> S3Head: ...

    def get(self, key: str, range_header: str | None) -> S3Get:
        """GET ``key``, whole or the ``Range`` given (``bytes=0-9``, ``bytes=-4``, ``bytes=5-``)."""
        ...

    def list_page(self, prefix: str, *, delimiter: str | None, max_keys: int | None, token: str | None) -> S3Page: ...

    def put(self, key: str, data: Data, attributes: ObjectAttributes, conditions: Conditions) -> str:
        """PutObject, with its Content-MD5; returns the etag as sent (quoted)."""
        ...

    def create_multipart(self, key: str, attributes: ObjectAttributes) -> str:
        """CreateMultipartUpload; returns the upload id."""
        ...

    def upload_part(self, key: str, upload_id: str, number: int, data: Data) -> str:
        """UploadPart; returns the part's etag."""
        ...

    def upload_part_copy(self, key: str, upload_id: str, number: int, source: str, first: int, last: int) -> str:
        """UploadPartCopy of bytes ``first``..``last`` (inclusive) of ``source``; returns the part's etag."""
        ...

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]], conditions: Conditions
    ) -> str:
        """CompleteMultipartUpload of ``(part number, etag)`` pairs; returns the object's etag."""
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None: ...

    def copy(self, source: str, key: str) -> None:
        """CopyObject within the bucket, content type and metadata copied."""
        ...

    def delete(self, key: str) -> None: ...

    def delete_batch(self, keys: Sequence[str]) -> list[BatchError]:
        """DeleteObjects (quiet): the keys that failed; absent keys are S3's concern (it reports none)."""
        ...

    def presign(self, method: str, key: str, expires_in: int) -> str:
        """A presigned URL for ``GET`` or ``PUT`` of ``key``."""
        ...

    def close(self) -> None: ...


class BotocoreTransport:
    """S3 through a boto3/botocore client, for one bucket."""

    def __init__(self, client: Any, bucket: str, *, encryption: Encryption | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self._sse = encryption.boto_args() if encryption is not None else {}

    def head_bucket(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def create_bucket(self) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name
        if region and region != "us-east-1":  # us-east-1 is the one region S3 refuses to be named in
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.client.create_bucket(**args)

    def delete_bucket(self) -> None:
        self.client.delete_bucket(Bucket=self.bucket)

    def head(self, key: str) -> S3Head:
        return _head_of(self.client.head_object(Bucket=self.bucket, Key=key))

    def get(self, key: str, range_header: str | None) -> S3Get:
        args = {"Bucket": self.bucket, "Key": key}
        if range_header is not None:
            args["Range"] = range_header
        response = self.client.get_object(**args)
        return S3Get(_head_of(response), response["Body"])

    def list_page(self, prefix: str, *, delimiter: str | None, max_keys: int | None, token: str | None) -> S3Page:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        if max_keys:
            args["MaxKeys"] = max_keys
        if token:
            args["ContinuationToken"] = token
        return page_of(self.client.list_objects_v2(**args))

    def put(self, key: str, data: Data, attributes: ObjectAttributes, conditions: Conditions) -> str:
        body = data if isinstance(data, bytes) else BufferReader(data)  # a view of a pooled buffer: no copy
        response = self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentMD5=content_md5(data),
            **self._attribute_args(attributes),
            **conditions.boto_args(),
        )
        return str(response.get("ETag", ""))

    def create_multipart(self, key: str, attributes: ObjectAttributes) -> str:
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **self._attribute_args(attributes))
        return str(response["UploadId"])

    def upload_part(self, key: str, upload_id: str, number: int, data: Data) -> str:
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=BufferReader(data),  # the part's pooled buffer, not a copy of it
            ContentMD5=content_md5(data),
        )
        return str(response["ETag"])

    def upload_part_copy(self, key: str, upload_id: str, number: int, source: str, first: int, last: int) -> str:
        response = self.client.upload_part_copy(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": source},
            CopySourceRange=f"bytes={first}-{last}",
        )
        return str(response["CopyPartResult"]["ETag"])

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]], conditions: Conditions
    ) -> str:
        response = self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
            **conditions.boto_args(),
        )
        return str(response.get("ETag", ""))

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def copy(self, source: str, key: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": source},
            MetadataDirective="COPY",
            **self._sse,
        )

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_batch(self, keys: Sequence[str]) -> list[BatchError]:
        request = {"Objects": [{"Key": key} for key in keys], "Quiet": True}
        response = self.client.delete_objects(Bucket=self.bucket, Delete=request)
        return [
            BatchError(str(item["Key"]), str(item.get("Code", "")), str(item.get("Message") or ""))
            for item in response.get("Errors", ())
        ]

    def presign(self, method: str, key: str, expires_in: int) -> str:
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        return str(
            self.client.generate_presigned_url(
                operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=int(expires_in)
            )
        )

    def close(self) -> None:
        self.client.close()

    def _attribute_args(self, attributes: ObjectAttributes) -> dict[str, Any]:
        args: dict[str, Any] = {"Metadata": dict(attributes.metadata), **self._sse}
        if attributes.content_type:
            args["ContentType"] = attributes.content_type
        return args


def _head_of(response: Mapping[str, Any]) -> S3Head:
    """A HeadObject/GetObject answer as botocore shapes it."""
    return S3Head(
        length=int(response.get("ContentLength", 0)),
        etag=response.get("ETag") or None,
        last_modified=response.get("LastModified"),
        content_type=response.get("ContentType"),
        metadata=dict(response.get("Metadata") or {}),
        content_range=response.get("ContentRange"),
    )


def page_of(response: Mapping[str, Any]) -> S3Page:
    """A ListObjectsV2 answer as botocore shapes it (``Contents``, ``CommonPrefixes``, ...)."""
    return S3Page(
        objects=[
            S3Listed(
                key=item["Key"],
                size=int(item.get("Size", 0)),
                etag=item.get("ETag") or None,
                last_modified=item.get("LastModified"),
            )
            for item in response.get("Contents", ())
        ],
        prefixes=[item["Prefix"] for item in response.get("CommonPrefixes", ())],
        truncated=bool(response.get("IsTruncated")),
        next_token=response.get("NextContinuationToken") or None,
    )
