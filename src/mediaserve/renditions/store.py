"""Where renditions are written: beside the media (a directory) or in the media's bucket,
under the same names they are served by, so a proxy serves them like any file and only a
miss reaches the application.

And the single-flight lock per rendition key, so that N requests for the same missing
rendition build it once: ``FileLocks`` (``fcntl.flock`` on a lock file: threads and worker
processes of one host, or hosts sharing the directory over a file system that honours
flock); the Django layer adds locks in the shared cache (``cache.add``) for object storage,
where hosts share nothing but the bucket and the cache.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any, Final, Protocol

from ..sources.base import LookupError_

__all__ = [
    "IMMUTABLE",
    "BucketStore",
    "FileLocks",
    "LocalStore",
    "Locks",
    "Store",
    "StoreError",
]

#: A rendition's URL changes whenever its bytes could: a year, and never revalidated
#: (RFC 8246 ``immutable``), the most a cache is told for fingerprinted assets.
IMMUTABLE: Final = "public, max-age=31536000, immutable"
#: How often a waiting builder looks again for the lock or the finished rendition.
POLL_SECONDS: Final = 0.05


class StoreError(Exception):
    """A rendition could not be written or listed (disk full, bucket refused)."""


class Store(Protocol):
    """Rendition files by their name relative to the media root."""

    def exists(self, name: str) -> bool: ...

    def write(self, name: str, data: bytes, content_type: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def names(self, directory: str) -> Iterator[str]: ...


class Locks(Protocol):
    """One holder at a time per key, across whatever the implementation spans."""

    def hold(self, key: str, timeout: float) -> contextlib.AbstractContextManager[bool]:
        """Enter: True once held, False if ``timeout`` seconds passed first."""
        ...


class LocalStore:
    """Renditions as files under ``root`` (MEDIA_ROOT), written atomically (a temporary
    file renamed over the name), so a reader sees a whole rendition or none."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r})"

    def path(self, name: str) -> str:
        parts = name.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            # Names come from keys.rendition_name (source names the lookup admitted); a
            # stray one must still never leave the root.
            raise StoreError(f"refusing to write outside the rendition tree: {name!r}")
        return os.path.join(self.root, *parts)

    def exists(self, name: str) -> bool:
        return os.path.isfile(self.path(name))

    def write(self, name: str, data: bytes, content_type: str) -> None:
        target = self.path(name)
        folder = os.path.dirname(target)
        try:
            os.makedirs(folder, mode=0o755, exist_ok=True)
            # The temporary file starts with a dot: served by nothing while it is written.
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.chmod(temp, 0o644)
                os.replace(temp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None

    def delete(self, name: str) -> None:
        path = self.path(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        # Drop the folders left empty, up to the rendition directory.
        folder = os.path.dirname(path)
        top = os.path.join(self.root, name.split("/", 1)[0])
        while folder != top and folder.startswith(top + os.sep):
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)

    def names(self, directory: str) -> Iterator[str]:
        top = os.path.join(self.root, directory)
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                if not file.startswith("."):
                    yield os.path.relpath(os.path.join(folder, file), self.root).replace(
                        os.sep, "/"
                    )


class FileLocks:
    """``flock`` on ``<folder>/<key>.lock``: an open file description holds it, so threads
    of one process exclude each other as processes do. The kernel drops it when a holder
    dies, so a crashed build never blocks the next one."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = os.fspath(folder)

    @contextlib.contextmanager
    def hold(self, key: str, timeout: float) -> Iterator[bool]:
        os.makedirs(self.folder, mode=0o755, exist_ok=True)
        fd = os.open(os.path.join(self.folder, f"{key}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                if time.monotonic() >= deadline:
                    held = False
                    break
                time.sleep(POLL_SECONDS)
            yield held
        finally:
            os.close(fd)  # releases the lock; the lock file stays (unlinking would race)


class BucketStore:
    """Renditions as objects in the media's bucket, through the S3 source's own client
    and key mapping (its ``location`` prefix applies), with the immutable Cache-Control
    and the right Content-Type set on the object for anything reading the bucket
    directly (a CDN, the redirect mode)."""

    def __init__(self, driver: Any) -> None:
        # An S3Source: client, settings.bucket, key(name), stat(name).
        self.driver = driver

    def __repr__(self) -> str:
        return f"BucketStore({self.driver!r})"

    def exists(self, name: str) -> bool:
        try:
            self.driver.stat(name)
        except LookupError_:
            return False
        return True

    def write(self, name: str, data: bytes, content_type: str) -> None:
        try:
            self.driver.client.put_object(
                Bucket=self.driver.settings.bucket,
                Key=self.driver.key(name),
                Body=data,
                ContentType=content_type,
                CacheControl=IMMUTABLE,
            )
        except Exception as exc:
            raise StoreError(f"cannot write {name!r} to {self.driver!r}: {exc}") from None

    def delete(self, name: str) -> None:
        try:
            self.driver.client.delete_object(
                Bucket=self.driver.settings.bucket, Key=self.driver.key(name)
            )
        except Exception as exc:
            raise StoreError(f"cannot delete {name!r} from {self.driver!r}: {exc}") from None

    def names(self, directory: str) -> Iterator[str]:
        location = self.driver.settings.location.strip("/")
        prefix = f"{location}/{directory}/" if location else f"{directory}/"
        paginator = self.driver.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.driver.settings.bucket, Prefix=prefix):
                for item in page.get("Contents", ()):
                    key = str(item["Key"])
                    yield key[len(location) + 1 :] if location else key
        except Exception as exc:
            raise StoreError(f"cannot list {prefix!r} in {self.driver!r}: {exc}") from None
