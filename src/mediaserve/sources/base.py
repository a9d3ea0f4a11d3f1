"""The source protocol and the two ways a lookup fails.

Both failures become the same 404 on the wire, so a client cannot tell "absent" from
"refused"; they differ in the log: a refusal is a probe or a misconfiguration worth a
WARNING, absence is ordinary.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Protocol

from ..http.plan import FileMeta

__all__ = ["LookupError_", "NotFound", "OpenFile", "Refused", "Resource", "Source"]


class LookupError_(Exception):
    """A name that does not lead to a servable file; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(LookupError_):
    """Nothing there (or a directory, which is never listed)."""


class Refused(LookupError_):
    """Something there or asked for that must not be served: traversal, dotfile, symlink."""


class OpenFile:
    """An open file and the metadata read from the same descriptor.

    Headers are planned from ``meta`` and the body is read from ``fd``: both come from
    one descriptor, so a file replaced by rename mid-request still yields the old
    file's headers with the old file's bytes.
    """

    __slots__ = ("_file", "fd", "meta", "path", "stat")

    def __init__(self, fd: int, meta: FileMeta, path: str, stat: os.stat_result) -> None:
        self.fd = fd
        self.meta = meta
        self.path = path  # absolute path at open time, for pathsend and proxy offload
        self.stat = stat
        self._file: io.FileIO | None = None

    @property
    def file(self) -> io.FileIO:
        """A file object owning the descriptor (for ``wsgi.file_wrapper`` and zerocopysend).

        Made on first use: most requests only need the bare descriptor.
        """
        if self._file is None:
            self._file = io.FileIO(self.fd, "rb", closefd=True)
        return self._file

    def read(self, offset: int, length: int, chunk_size: int) -> Iterator[bytes]:
        """``length`` bytes from ``offset`` in chunks, read with ``pread``; ends early if the
        file was truncated under the download (the caller sees fewer bytes: a short body).

        ``pread`` reads at an explicit offset, so nothing depends on the descriptor's
        position, which ``wsgi.file_wrapper`` users may have moved.
        """
        fd = self.fd
        while length > 0:
            data = os.pread(fd, min(chunk_size, length), offset)
            if not data:
                return
            offset += len(data)
            length -= len(data)
            yield data

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        elif self.fd >= 0:
            os.close(self.fd)
        self.fd = -1

    def __enter__(self) -> OpenFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenFile({self.path!r}, size={self.meta.size})"


class Resource(Protocol):
    """One version of one file, found by a source: what the planner needs (``meta``) and
    where the planned slices are read from.

    A local file (:class:`OpenFile`) and a stored object (``sources.remote.RemoteObject``)
    both are one: the pipeline plans from ``meta`` and the delivery adapters read slices,
    so neither knows where the bytes live. Adapters that can send a local file without
    copying it (sendfile, zerocopysend, pathsend) check for an :class:`OpenFile`.
    """

    meta: FileMeta

    def read(self, offset: int, length: int, chunk_size: int) -> Iterator[bytes]:
        """Yield up to ``length`` bytes from ``offset``, in chunks of at most ``chunk_size``.

        Never raises for a file that changed or a store that failed after the headers were
        planned: it stops early instead, and the reader reports the body as short.
        """
        ...

    def close(self) -> None:
        """Release the descriptor or the store connection (idempotent)."""
        ...


class Source(Protocol):
    """Anything that can find a mount-relative name (``"products/42.jpg"``)."""

    def lookup(self, name: str, *, whole: bool = False) -> Resource:
        """Find ``name`` or raise :class:`NotFound` / :class:`Refused` (a remote source also
        ``sources.remote.Unavailable``). ``whole``: the whole body will be sent (a plain
        GET), so a store may start fetching it in the same round trip."""
        ...
