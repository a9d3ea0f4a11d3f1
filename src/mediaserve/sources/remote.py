"""Sources whose bytes live elsewhere (object storage, any Django storage).

A remote source answers two questions, each with one request to the store at most:
``stat(name)`` (a HEAD: size, date and version, which is all the pure planner needs) and
``read(obj, offset, length)`` (a ranged GET of exactly one planned slice). Nothing is ever
downloaded whole before the first byte is sent, and memory stays at one chunk per read.

Failures split three ways, so each gets the right answer on the wire:

* ``NotFound`` / ``Refused`` (from ``base``): a 404, as for local files;
* ``Unavailable``: the store cannot answer now (down, slow, or refusing our credentials)
  -- a 503 with ``Retry-After``, never a 404 a cache would keep, never a 500;
* ``Changed``: the object was replaced between the HEAD and a GET; the body in flight
  stops short and the connection is closed, as for a local file truncated mid-download.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Protocol

from .. import metrics
from ..http.plan import FileMeta
from .base import NotFound, Refused
from .local import safe_parts

__all__ = [
    "REMOTE_CHUNK",
    "Changed",
    "RemoteObject",
    "RemoteSource",
    "StoreSource",
    "Unavailable",
    "object_key",
]

logger = logging.getLogger("mediaserve")

#: Reads from the store are at least this big. Each chunk costs a trip through urllib3
#: and the server's write path in Python: a 64 MiB object through gunicorn moved at
#: 387 MiB/s with 64 KiB chunks (the local default, sized for granian's queueing),
#: 685 MiB/s with 256 KiB, 618 MiB/s with 1 MiB (bench/storage.py, one run each).
REMOTE_CHUNK = 256 * 1024


class Unavailable(Exception):
    """The store did not answer usefully; ``reason`` names the endpoint and, for a
    configuration fault, the setting to fix (never a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Changed(Exception):
    """The object's version no longer matches the one the headers were planned from."""


class RemoteObject:
    """One version of one stored object: what a HEAD (or the GET of ``fetch``) returned.

    A :class:`~mediaserve.sources.base.Resource`: ``read`` fetches planned slices from the
    store that described it (``driver``, set by :class:`StoreSource`).
    """

    __slots__ = ("driver", "key", "meta", "prefetched", "version")

    def __init__(
        self,
        key: str,
        meta: FileMeta,
        version: str,
        prefetched: Iterator[bytes] | None = None,
    ) -> None:
        self.key = key  # the key in the store (prefix included)
        self.meta = meta  # name relative to the mount, size, date, identity
        self.version = version  # what a GET must match (an S3 ETag), "" when unknown
        # The whole object's bytes from the GET that described it (``fetch``), unread.
        self.prefetched = prefetched
        self.driver: RemoteSource | None = None

    def read(self, offset: int, length: int, chunk_size: int) -> Iterator[bytes]:
        """The slice from the prefetched body when it is the whole object, else one ranged
        GET; a store failure or a replaced object ends the slice early (logged), never an
        exception: the headers are gone, so the body can only come up short."""
        driver = self.driver
        if driver is None:
            raise RuntimeError("RemoteObject.read needs the object's store (StoreSource)")
        try:
            prefetched = self.prefetched
            if prefetched is not None and (offset, length) == (0, self.meta.size):
                self.prefetched = None
                yield from prefetched
            else:
                yield from driver.read(self, offset, length, chunk_size)
        except (Changed, Unavailable, NotFound) as exc:
            error = {Changed: "changed", Unavailable: "unavailable"}.get(type(exc), "not_found")
            metrics.store_request("range", None, error)  # mid-body: a count, no latency
            reason = exc.reason if isinstance(exc, Unavailable | NotFound) else str(exc)
            logger.warning(
                "mediaserve cut %r short: object store %s", self.key, reason,
                extra={"mediaserve_endpoint": driver.endpoint},
            )  # fmt: skip

    def close(self) -> None:
        """Release an unread prefetched body (and its connection)."""
        close = getattr(self.prefetched, "close", None)
        self.prefetched = None
        if callable(close):
            close()

    def __repr__(self) -> str:
        return f"RemoteObject({self.key!r}, size={self.meta.size})"


class RemoteSource(Protocol):
    """A store that can describe, read and link to objects."""

    #: Where the store is, for log lines ("http://127.0.0.1:8333 bucket 'media'").
    endpoint: str

    def stat(self, name: str) -> RemoteObject:
        """HEAD ``name``; raise NotFound, Refused or Unavailable."""
        ...

    def fetch(self, name: str, chunk_size: int) -> RemoteObject:
        """GET ``name`` whole: the object described by the response, with ``prefetched``
        holding its unread body. One round trip instead of HEAD + GET for a plain GET."""
        ...

    def read(self, obj: RemoteObject, offset: int, length: int, chunk_size: int) -> Iterator[bytes]:
        """Yield ``length`` bytes from ``offset`` in chunks of at most ``chunk_size``;
        raise Changed or Unavailable (possibly after some chunks were yielded)."""
        ...

    def url(self, name: str, expiry: int, method: str = "GET") -> tuple[str, bool]:
        """A URL a browser can fetch ``name`` from with ``method`` (GET or HEAD), and
        whether it is signed (so expires after ``expiry`` seconds); raise Refused or
        Unavailable. SigV4 signs the method: a GET URL followed with HEAD is refused."""
        ...


class StoreSource:
    """A store driver (:class:`RemoteSource`: S3, a Django storage) as a pipeline source.

    ``lookup`` is one request to the store: a GET that describes the object and starts its
    body when the whole body will be sent (the common ``<img>`` request), a HEAD otherwise
    (the plan may be a 304 or a slice, decided from the HEAD before any byte is fetched).
    """

    def __init__(self, driver: RemoteSource, chunk_size: int = REMOTE_CHUNK) -> None:
        self.driver = driver
        #: Read size from the store: at least ``REMOTE_CHUNK`` (see there).
        self.chunk_size = max(chunk_size, REMOTE_CHUNK)

    def __repr__(self) -> str:
        return f"StoreSource({self.driver!r})"

    @property
    def endpoint(self) -> str:
        return self.driver.endpoint

    def lookup(self, name: str, *, whole: bool = False) -> RemoteObject:
        started = time.perf_counter()
        operation = "get" if whole else "head"
        try:
            obj = self.driver.fetch(name, self.chunk_size) if whole else self.driver.stat(name)
        except (Unavailable, NotFound, Refused) as exc:
            # The store's latency and errors (mediaserve.metrics; a no-op while metrics are off).
            error = {Unavailable: "unavailable", NotFound: "not_found"}.get(type(exc), "refused")
            metrics.store_request(operation, time.perf_counter() - started, error)
            raise
        metrics.store_request(operation, time.perf_counter() - started)
        obj.driver = self.driver
        return obj

    def url(self, name: str, expiry: int, method: str = "GET") -> tuple[str, bool]:
        """See :meth:`RemoteSource.url`."""
        return self.driver.url(name, expiry, method)


def object_key(name: str, location: str = "", *, allow_dotfiles: bool = False) -> str:
    """The store key for the mount-relative ``name``, or raise ``Refused``/``NotFound``.

    The same text checks as for local files apply (``safe_parts``): no ``..`` or ``.``
    segments, no leading or doubled slash, no backslash or NUL. A store would happily hold
    a key named ``../x``, but a URL that reaches it would let one mount read another
    prefix's objects, and ``mediaserve sync`` would write it outside MEDIA_ROOT.
    Control characters are refused as well: no legitimate upload name contains them.
    """
    parts = safe_parts(name, allow_dotfiles=allow_dotfiles)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise Refused("control character in name")
    key = "/".join(parts)
    if location:
        key = location.strip("/") + "/" + key
    if len(key.encode("utf-8")) > 1024:  # S3's limit on key length
        raise NotFound("name longer than an object key can be")
    return key
