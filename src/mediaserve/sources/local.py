"""Traversal-safe lookup under a root directory on the local filesystem.

The name is checked as text first (``safe_parts``), then opened one component at a
time relative to the previous directory's descriptor with ``O_NOFOLLOW``. That walk is
what makes containment hold even when the tree changes during the request: a component
swapped for a symlink after any check is refused by the kernel, not by a string test.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
from collections.abc import Sequence

from ..http.plan import FileMeta
from .base import NotFound, OpenFile, Refused

__all__ = ["LocalSource", "safe_parts"]

_DRIVE = re.compile(r"^[A-Za-z]:")
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted in the media tree must not hang the worker.
_FILE_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK | _O_NOCTTY
# Linux and the BSDs return ELOOP for O_NOFOLLOW on a symlink; FreeBSD uses EMLINK.
_SYMLINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})


def safe_parts(name: str, *, allow_dotfiles: bool = False) -> tuple[str, ...]:
    """Split a decoded, mount-relative name into path components, or raise ``Refused``.

    The name must already be percent-decoded exactly once (the adapters do that and
    refuse encoded slashes); what remains is checked component by component.
    """
    if not name:
        raise NotFound("the mount itself (a directory)")
    if "\x00" in name:
        raise Refused("NUL byte in path")
    if "\\" in name:
        raise Refused("backslash in path")
    if name.startswith("/"):
        raise Refused("absolute path")
    parts = name.split("/")
    if parts[-1] == "":
        raise NotFound("directory path (trailing slash)")
    for part in parts:
        if part == "":
            raise Refused("empty path segment (//)")
        if part in (".", ".."):
            raise Refused(f"{part!r} segment")
        if _DRIVE.match(part):
            raise Refused("drive letter")
        if part.startswith(".") and not allow_dotfiles:
            raise Refused("dotfile or dot-directory")
    return tuple(parts)


class LocalSource:
    """Files under ``root``; symlinks refused unless ``follow_symlinks`` (then only inside)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        allow_dotfiles: bool = False,
        follow_symlinks: bool = False,
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.allow_dotfiles = allow_dotfiles
        self.follow_symlinks = follow_symlinks

    def __repr__(self) -> str:
        return f"LocalSource({self.root!r})"

    def open(self, name: str) -> OpenFile:
        parts = safe_parts(name, allow_dotfiles=self.allow_dotfiles)
        if self.follow_symlinks:
            parts = self._resolve_inside(parts)
        try:
            dir_fd = os.open(self.root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            raise NotFound(f"media root unavailable: {exc.strerror}") from None
        try:
            for part in parts[:-1]:
                next_fd = self._open_component(part, _DIR_FLAGS, dir_fd)
                os.close(dir_fd)
                dir_fd = next_fd
            fd = self._open_component(parts[-1], _FILE_FLAGS, dir_fd)
        finally:
            os.close(dir_fd)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise NotFound("directory")
            if not stat.S_ISREG(st.st_mode):
                raise Refused("not a regular file (device, FIFO or socket)")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        rel = "/".join(parts)
        meta = FileMeta(
            name=rel,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            identity=f"{st.st_dev}:{st.st_ino}",
        )
        return OpenFile(
            io.FileIO(fd, "rb", closefd=True), meta, os.path.join(self.root, *parts), st
        )

    @staticmethod
    def _open_component(part: str, flags: int, dir_fd: int) -> int:
        try:
            return os.open(part, flags, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in _SYMLINK_ERRNOS:
                raise Refused("symlink") from None
            if exc.errno == errno.ENOTDIR:
                # A file used as a directory, or (with O_DIRECTORY|O_NOFOLLOW on some
                # systems) a symlink to a directory: absent either way.
                raise NotFound("not a directory") from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise Refused("permission denied (check file and directory modes)") from None
            raise NotFound(exc.strerror or "cannot open") from None

    def _resolve_inside(self, parts: Sequence[str]) -> tuple[str, ...]:
        """Resolve symlinks, then require the target to be inside the root.

        The resolved path is then walked with O_NOFOLLOW like any other, so a link
        changed between this check and the open is refused rather than followed.
        """
        real_root = os.path.realpath(self.root)
        target = os.path.realpath(os.path.join(real_root, *parts))
        try:
            inside = os.path.commonpath([real_root, target]) == real_root
        except ValueError:
            inside = False
        if not inside or target == real_root:
            raise Refused("symlink leaves the media root")
        rel = os.path.relpath(target, real_root).replace(os.sep, "/")
        # Opening self.root follows the root's own symlinks, so these parts, relative to
        # the real root, line up with the walk in open().
        return safe_parts(rel, allow_dotfiles=self.allow_dotfiles)
