"""Objects in an S3-compatible bucket (AWS S3, MinIO, SeaweedFS, Cloudflare R2), via boto3.

``stat`` is one HEAD; ``read`` is one GET per planned slice with ``Range`` and ``If-Match``
(the ETag from the HEAD), streamed in ``chunk_size`` pieces: a 2 GB video seeked to its
middle costs the bytes asked for, never a download to a temporary file first (which is
what ``S3File`` in django-storages does). ``If-Match`` makes the store refuse a GET of an
object replaced since the HEAD, so headers and bytes always describe one version.

boto3 is imported when the first client is made (``pip install 'mediaserve[s3]'``). The
client is made per process (after a fork a pre-fork client's connection pool would be
shared between workers) and its timeouts and retries are bounded: a store that hangs
holds a worker for ``connect_timeout + read_timeout`` per attempt, not forever.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..http.plan import FileMeta
from .base import NotFound
from .presign import Presigner
from .remote import Changed, RemoteObject, Unavailable, object_key

__all__ = ["S3Settings", "S3Source"]

# Error codes S3 (and the compatible stores) use for credentials it does not accept.
_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AccessDenied"}
)


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is and how to talk to it; ``setting`` prefixes messages."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    addressing_style: str = "auto"
    location: str = ""
    public_url: str | None = None
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_attempts: int = 2
    max_pool_connections: int = 32
    allow_dotfiles: bool = False
    # How messages name this configuration, e.g. "MEDIASERVE['STORAGE']".
    setting: str = "the S3 settings"

    def __repr__(self) -> str:
        # Never the secret: settings objects end up in tracebacks and debug pages.
        return f"S3Settings(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"


def make_client(settings: S3Settings) -> Any:
    """A boto3 S3 client with bounded timeouts and retries (SigV4, as every store accepts).

    The client's ``_mediaserve_credentials`` attribute holds the session's credentials
    (``None`` when boto3 found none), for the fast presigner.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise Unavailable(f"{settings.setting} needs boto3: pip install 'mediaserve[s3]'") from None
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        # "standard" retries only what is worth retrying (5xx, throttling, resets), with
        # backoff; max_attempts counts the first try.
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        max_pool_connections=settings.max_pool_connections,
    )
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id or None,
        aws_secret_access_key=settings.secret_access_key or None,
        region_name=settings.region or None,
    )
    client = session.client("s3", endpoint_url=settings.endpoint_url or None, config=config)
    client._mediaserve_credentials = session.get_credentials()
    return client


class S3Source:
    """A bucket (and optional key prefix ``location``) as a remote source."""

    def __init__(self, settings: S3Settings, client: Any = None) -> None:
        self.settings = settings
        where = settings.endpoint_url or (
            f"s3.{settings.region}.amazonaws.com" if settings.region else "AWS S3"
        )
        self.endpoint = f"{where} bucket {settings.bucket!r}"
        self._client = client
        self._client_pid = os.getpid() if client is not None else 0
        self._lock = threading.Lock()
        self._bucket_seen = -1e9  # monotonic time the bucket was last seen to exist
        self._presigner: Presigner | bool | None = None  # False: use botocore's

    def __repr__(self) -> str:
        return f"S3Source({self.endpoint})"

    @property
    def client(self) -> Any:
        client = self._client
        if client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    self._client = make_client(self.settings)
                    self._client_pid = os.getpid()
                    self._presigner = None
                client = self._client
        return client

    def key(self, name: str) -> str:
        return object_key(name, self.settings.location, allow_dotfiles=self.settings.allow_dotfiles)

    # -- the RemoteSource protocol --------------------------------------------------------
    def stat(self, name: str) -> RemoteObject:
        key = self.key(name)
        try:
            head = self.client.head_object(Bucket=self.settings.bucket, Key=key)
        except Exception as exc:
            error = self._translate(exc, key)
            if isinstance(error, NotFound):
                self._check_bucket()
            raise error from None
        return self._describe(name, key, head)

    def fetch(self, name: str, chunk_size: int) -> RemoteObject:
        key = self.key(name)
        try:
            response = self.client.get_object(Bucket=self.settings.bucket, Key=key)
        except Exception as exc:
            error = self._translate(exc, key)
            if isinstance(error, NotFound):
                self._check_bucket()
            raise error from None
        obj = self._describe(name, key, response)
        body = response["Body"]
        obj.prefetched = _Closing(self._stream(body, key, obj.meta.size, chunk_size), body)
        return obj

    def _describe(self, name: str, key: str, response: dict[str, Any]) -> RemoteObject:
        etag = str(response.get("ETag") or "")
        version = str(response.get("VersionId") or "")
        modified = response.get("LastModified")
        mtime_ns = int(modified.timestamp()) * 1_000_000_000 if modified is not None else 0
        meta = FileMeta(name, int(response.get("ContentLength") or 0), mtime_ns, version or etag)
        return RemoteObject(key, meta, etag)

    def _stream(self, body: Any, key: str, length: int, chunk_size: int) -> Iterator[bytes]:
        remaining = length
        try:
            while remaining > 0:
                try:
                    data = body.read(min(chunk_size, remaining))
                except Exception as exc:
                    raise self._translate(exc, key) from None
                if not data:
                    raise Changed(f"{key!r} ended {remaining} bytes early")
                remaining -= len(data)
                yield data
        finally:
            body.close()

    def read(self, obj: RemoteObject, offset: int, length: int, chunk_size: int) -> Iterator[bytes]:
        if length <= 0:
            return
        params: dict[str, Any] = {
            "Bucket": self.settings.bucket,
            "Key": obj.key,
            "Range": f"bytes={offset}-{offset + length - 1}",
        }
        if obj.version:
            params["IfMatch"] = obj.version
        try:
            response = self.client.get_object(**params)
        except Exception as exc:
            raise self._translate(exc, obj.key) from None
        yield from self._stream(response["Body"], obj.key, length, chunk_size)

    def url(self, name: str, expiry: int, method: str = "GET") -> tuple[str, bool]:
        key = self.key(name)
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/") + "/" + quote(key, safe="/~"), False
        try:
            presigner = self._fast_presigner()
            if presigner is not None:
                signed = presigner.url(key, expiry, method=method)
            else:
                signed = self.client.generate_presigned_url(
                    "head_object" if method == "HEAD" else "get_object",
                    Params={"Bucket": self.settings.bucket, "Key": key},
                    ExpiresIn=expiry,
                )
        except Exception as exc:
            raise self._translate(exc, key) from None
        return str(signed), True

    def _fast_presigner(self) -> Presigner | None:
        """The SigV4 presigner for this client, or None to use botocore's (made once)."""
        presigner = self._presigner
        if presigner is None:
            client = self.client
            credentials = getattr(client, "_mediaserve_credentials", None)
            try:
                presigner = (
                    Presigner(client, self.settings.bucket, credentials)
                    if credentials is not None
                    else False
                )
            except ValueError:
                presigner = False
            self._presigner = presigner
        return presigner if isinstance(presigner, Presigner) else None

    # -- errors ---------------------------------------------------------------------------
    #: Seconds a bucket found to exist is not asked about again.
    bucket_check_interval = 30.0

    def _check_bucket(self) -> None:
        """Raise Unavailable when the bucket itself is missing.

        A HEAD has no body, so S3 answers a missing bucket with the same bare 404 as a
        missing key: without this, a typo in BUCKET would be a site of silent 404s. Asked
        after a 404 only, and then at most every ``bucket_check_interval`` seconds.
        """
        now = time.monotonic()
        if now - self._bucket_seen < self.bucket_check_interval:
            return
        try:
            self.client.head_bucket(Bucket=self.settings.bucket)
        except Exception as exc:
            error = self._translate(exc, "")
            if isinstance(error, NotFound):
                raise Unavailable(
                    f"{self.endpoint}: the bucket does not exist; create it or fix "
                    f"{self.settings.setting}['BUCKET']"
                ) from None
            raise error from None
        self._bucket_seen = now

    def _translate(self, exc: Exception, key: str) -> Exception:
        """A boto3/botocore exception as NotFound, Changed or Unavailable.

        Messages name the endpoint and the setting to fix, never a credential's value.
        """
        setting = self.settings.setting
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            error = response.get("Error") or {}
            code = str(error.get("Code") or "")
            status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
            if code in ("NoSuchBucket",):
                return Unavailable(
                    f"{self.endpoint}: the bucket does not exist; create it or fix "
                    f"{setting}['BUCKET']"
                )
            if code in ("NoSuchKey", "NotFound", "404") or status == 404:
                return NotFound(f"no object {key!r} in {self.endpoint}")
            if code in ("PreconditionFailed", "412") or status == 412:
                return Changed(f"{key!r} was replaced during the request")
            if code == "InvalidRange" or status == 416:
                return Changed(f"{key!r} shrank during the request")
            if code in _CREDENTIAL_CODES or status == 403:
                return Unavailable(
                    f"{self.endpoint} refused the credentials ({code or status}): check "
                    f"{setting}['ACCESS_KEY_ID'] and {setting}['SECRET_ACCESS_KEY'] (or the "
                    "AWS_* environment) and the bucket policy"
                )
            return Unavailable(f"{self.endpoint} answered {status or ''} {code}".rstrip())
        kind = type(exc).__name__
        if kind in ("NoCredentialsError", "PartialCredentialsError"):
            return Unavailable(
                f"no credentials for {self.endpoint}: set {setting}['ACCESS_KEY_ID'] and "
                f"{setting}['SECRET_ACCESS_KEY'], or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        if isinstance(exc, Unavailable | NotFound | Changed):
            return exc
        # Connection refused, DNS, connect/read timeouts, a connection cut mid-body.
        return Unavailable(f"{self.endpoint} unreachable: {kind}: {_short(exc)}")


class _Closing:
    """An iterator over a response body whose ``close()`` releases the connection even
    when iteration never started (closing an unstarted generator runs no ``finally``)."""

    __slots__ = ("body", "chunks")

    def __init__(self, chunks: Iterator[bytes], body: Any) -> None:
        self.chunks = chunks
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self.chunks)

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if callable(close):
            close()
        self.body.close()


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
