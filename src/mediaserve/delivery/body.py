"""What every adapter shares to move bytes: the status line, and the reader that walks a
plan's body over any source (a local file or a stored object) and notices a short body."""

from __future__ import annotations

from collections.abc import Generator
from http import HTTPStatus

from ..http.plan import Segment
from ..sources.base import Resource

__all__ = ["BodyReader", "ShortBody", "status_line"]

_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
# RFC 9110 renamed these; older Pythons still carry the RFC 7231 phrases.
_STATUS_LINES[416] = "416 Range Not Satisfiable"
_STATUS_LINES[413] = "413 Content Too Large"


def status_line(status: int) -> str:
    return _STATUS_LINES.get(status, f"{status} Unknown")


class ShortBody(Exception):
    """Raised from a response body that came up short where the adapter cannot otherwise
    make the server close the connection (Django under ASGI, WSGI servers without a way
    to ask): every server aborts the connection when the application fails after the
    headers went out, so the client sees a short read instead of a wrong body."""


class BodyReader:
    """Yields the plan's body: literal parts as they are, file slices read from ``source``
    in chunks of at most ``chunk_size``.

    A file truncated after the headers were planned, or a stored object replaced or lost
    mid-download, ends its slice early: reading stops there and ``short`` is set. The
    connection must then be closed (RFC 9112 §6.3: a client, or a proxy reusing the
    connection, would otherwise read the next response as the rest of this body); each
    adapter knows how to make its server do that.
    """

    __slots__ = ("chunk_size", "segments", "sent", "short", "source")

    def __init__(self, source: Resource, segments: tuple[Segment, ...], chunk_size: int) -> None:
        self.source = source
        self.segments = segments
        self.chunk_size = chunk_size
        self.short = False
        #: Bytes yielded so far (what the server was handed, for the metrics).
        self.sent = 0

    def chunks(self) -> Generator[bytes, None, None]:
        for segment in self.segments:
            if isinstance(segment, bytes):
                self.sent += len(segment)
                yield segment
                continue
            remaining = segment.length
            for data in self.source.read(segment.offset, segment.length, self.chunk_size):
                remaining -= len(data)
                self.sent += len(data)
                yield data
            if remaining > 0:
                self.short = True
                return
