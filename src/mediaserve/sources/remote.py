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

from collections.abc import Iterator
from typing import Protocol

from ..http.plan import FileMeta
from .base import NotFound, Refused
from .local import safe_parts

__all__ = [
    "Changed",
    "RemoteObject",
    "RemoteSource",
    "Unavailable",
    "object_key",
]


class Unavailable(Exception):
    """The store did not answer usefully; ``reason`` names the endpoint and, for a
    configuration fault, the setting to fix (never a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Changed(Exception):
    """The object's version no longer matches the one the headers were planned from."""


class RemoteObject:
    """One version of one stored object: what a HEAD returned."""

    __slots__ = ("key", "meta", "prefetched", "version")

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

    def discard(self) -> None:
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
