"""Reading planned segments from an open file, shared by the WSGI and ASGI adapters."""

from __future__ import annotations

import os
from collections.abc import Iterator
from http import HTTPStatus

from ..http.plan import FilePart, Segment

__all__ = ["FileReader", "status_line"]

_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
# RFC 9110 renamed these; older Pythons still carry the RFC 7231 phrases.
_STATUS_LINES[416] = "416 Range Not Satisfiable"
_STATUS_LINES[413] = "413 Content Too Large"


def status_line(status: int) -> str:
    return _STATUS_LINES.get(status, f"{status} Unknown")


class FileReader:
    """Yields the plan's body in chunks of at most ``chunk_size``, read with ``pread``.

    ``pread`` reads at an explicit offset, so nothing depends on the descriptor's
    position (which ``wsgi.file_wrapper`` users may have moved). A file truncated
    after the headers were planned ends the body early and sets ``short``: the
    connection must then be closed (most servers do so when fewer bytes than
    Content-Length were sent; the WSGI adapter tells gunicorn explicitly).
    """

    __slots__ = ("chunk_size", "fd", "segments", "short")

    def __init__(self, fd: int, segments: tuple[Segment, ...], chunk_size: int) -> None:
        self.fd = fd
        self.segments = segments
        self.chunk_size = chunk_size
        self.short = False

    def chunks(self) -> Iterator[bytes]:
        for segment in self.segments:
            if isinstance(segment, bytes):
                yield segment
                continue
            yield from self.read_part(segment)

    def read_part(self, part: FilePart) -> Iterator[bytes]:
        offset, remaining = part.offset, part.length
        while remaining > 0:
            data = os.pread(self.fd, min(self.chunk_size, remaining), offset)
            if not data:
                self.short = True
                return
            offset += len(data)
            remaining -= len(data)
            yield data
