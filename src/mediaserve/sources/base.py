"""The source protocol and the two ways a lookup fails.

Both failures become the same 404 on the wire, so a client cannot tell "absent" from
"refused"; they differ in the log: a refusal is a probe or a misconfiguration worth a
WARNING, absence is ordinary.
"""

from __future__ import annotations

import io
import os
from typing import Protocol

from ..http.plan import FileMeta

__all__ = ["LookupError_", "NotFound", "OpenFile", "Refused", "Source"]


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


class Source(Protocol):
    """Anything that can open a mount-relative name (``"products/42.jpg"``)."""

    def open(self, name: str) -> OpenFile:
        """Open ``name`` or raise :class:`NotFound` / :class:`Refused`."""
        ...
