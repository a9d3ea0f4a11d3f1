"""The source protocol and the two ways a lookup fails.

Both failures become the same 404 on the wire, so a client cannot tell "absent" from
"refused"; they differ in the log: a refusal is a probe or a misconfiguration worth a
WARNING, absence is ordinary.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
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


@dataclass(eq=False)
class OpenFile:
    """An open file and the metadata read from the same descriptor.

    Headers are planned from ``meta`` and the body is read from ``file``: both come
    from one descriptor, so a file replaced by rename mid-request still yields the
    old file's headers with the old file's bytes.
    """

    file: io.FileIO
    meta: FileMeta
    path: str  # absolute path at open time, for pathsend and proxy offload
    stat: os.stat_result = field(repr=False)

    @property
    def fd(self) -> int:
        return self.file.fileno()

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> OpenFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Source(Protocol):
    """Anything that can open a mount-relative name (``"products/42.jpg"``)."""

    def open(self, name: str) -> OpenFile:
        """Open ``name`` or raise :class:`NotFound` / :class:`Refused`."""
        ...
