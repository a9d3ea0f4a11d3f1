"""Any Django storage (``STORAGES["default"]`` or another alias) as a remote source.

Only the public Storage API is used: ``size``, ``get_modified_time``, ``open`` + ``seek``
+ ``read`` and ``url``. Reads are bounded (``chunk_size`` at a time), so memory stays
flat for any storage whose files read lazily; a storage whose ``open`` downloads the
whole object first (django-storages' ``S3File``) is as slow here as anywhere, which is
why S3 buckets are better served with ``BACKEND: "s3"``.

A storage has no version id, so the identity is the size and modification time: two
uploads of the same size within one second share an ETag, as with most file servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..http.plan import FileMeta
from .base import NotFound
from .remote import Changed, RemoteObject, Unavailable, object_key

__all__ = ["DjangoStorageSource"]


class DjangoStorageSource:
    """Files of a Django ``Storage`` object."""

    def __init__(self, storage: Any, *, alias: str = "default", allow_dotfiles: bool = False):
        self.storage = storage
        self.alias = alias
        self.allow_dotfiles = allow_dotfiles
        self.endpoint = f"storage {alias!r} ({type(storage).__module__}.{type(storage).__name__})"

    def __repr__(self) -> str:
        return f"DjangoStorageSource({self.endpoint})"

    def stat(self, name: str) -> RemoteObject:
        key = object_key(name, allow_dotfiles=self.allow_dotfiles)
        try:
            size = int(self.storage.size(key))
        except FileNotFoundError:
            raise NotFound(f"{key!r} not in {self.endpoint}") from None
        except Exception as exc:
            raise self._unavailable(exc) from None
        try:
            modified = self.storage.get_modified_time(key)
            mtime_ns = int(modified.timestamp()) * 1_000_000_000
        except (NotImplementedError, AttributeError):
            mtime_ns = 0
        except FileNotFoundError:
            raise NotFound(f"{key!r} not in {self.endpoint}") from None
        except Exception as exc:
            raise self._unavailable(exc) from None
        return RemoteObject(key, FileMeta(name, size, mtime_ns, f"{size}:{mtime_ns}"), "")

    def fetch(self, name: str, chunk_size: int) -> RemoteObject:
        obj = self.stat(name)
        obj.prefetched = self.read(obj, 0, obj.meta.size, chunk_size)  # lazy: opens on use
        return obj

    def read(self, obj: RemoteObject, offset: int, length: int, chunk_size: int) -> Iterator[bytes]:
        if length <= 0:
            return
        try:
            handle = self.storage.open(obj.key, "rb")
        except FileNotFoundError:
            raise Changed(f"{obj.key!r} was deleted during the request") from None
        except Exception as exc:
            raise self._unavailable(exc) from None
        try:
            handle.seek(offset)
            remaining = length
            while remaining > 0:
                try:
                    data = handle.read(min(chunk_size, remaining))
                except Exception as exc:
                    raise self._unavailable(exc) from None
                if not data:
                    raise Changed(f"{obj.key!r} ended {remaining} bytes early")
                remaining -= len(data)
                yield data
        finally:
            handle.close()

    def url(self, name: str, expiry: int, method: str = "GET") -> tuple[str, bool]:
        key = object_key(name, allow_dotfiles=self.allow_dotfiles)
        try:
            target = str(self.storage.url(key))
        except Exception as exc:
            raise self._unavailable(exc) from None
        # Whether the storage signed it is not knowable in general; query-string auth
        # (S3 "X-Amz-Signature", GCS "X-Goog-Signature", Azure "sig=") is the common form.
        lowered = target.lower()
        signed = any(mark in lowered for mark in ("signature=", "x-goog-signature", "sig="))
        return target, signed

    def _unavailable(self, exc: Exception) -> Unavailable:
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        return Unavailable(f"{self.endpoint} failed: {type(exc).__name__}: {first}")
