"""Traversal-safe lookup under a root directory on the local filesystem.

The name is checked as text first (``safe_parts``), then opened one component at a
time relative to the previous directory's descriptor with ``O_NOFOLLOW``. That walk is
what makes containment hold even when the tree changes during the request: a component
swapped for a symlink after any check is refused by the kernel, not by a string test.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time

from ..http.plan import FileMeta
from .base import NotFound, OpenFile, Refused

__all__ = ["LocalSource", "safe_parts"]

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
        if len(part) > 1 and part[1] == ":" and part[0].isascii() and part[0].isalpha():
            raise Refused("drive letter")
        if part.startswith(".") and not allow_dotfiles:
            raise Refused("dotfile or dot-directory")
    return tuple(parts)


def _proc_fd_dir() -> str | None:
    """``/proc/self/fd`` when it maps descriptors to paths (Linux), else ``None``."""
    candidate = "/proc/self/fd"
    try:
        fd = os.open("/", os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    except OSError:
        return None
    try:
        return candidate if os.readlink(f"{candidate}/{fd}") == "/" else None
    except OSError:
        return None
    finally:
        os.close(fd)


_PROC_FD = _proc_fd_dir()


class LocalSource:
    """Files under ``root``; symlinks refused unless ``follow_symlinks`` (then only inside).

    By default every component is opened relative to its parent's descriptor with
    ``O_NOFOLLOW``, starting from a descriptor of the root kept open for the process
    (re-checked every second, so a root re-pointed by a deploy is picked up).

    With ``follow_symlinks`` on Linux the full path is opened and the kernel is asked
    which file the descriptor really is (``/proc/self/fd/N``): the resolved path must lie
    inside the root. The check is on the opened file itself, so no rename race can slip
    between check and use. Elsewhere the path is resolved first and then walked.
    """

    # How long a root descriptor is trusted before the root path is stat()ed again.
    root_check_interval = 1.0
    # A replaced root descriptor is closed this much later: an in-flight walk may
    # still be using it, and walks take microseconds, not a minute.
    retired_grace = 60.0

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
        self._real_root = os.path.realpath(self.root)
        self._lock = threading.Lock()
        self._root: tuple[int, int, int] | None = None  # (fd, st_dev, st_ino)
        self._root_checked = 0.0
        self._retired: list[tuple[int, float]] = []

    def __repr__(self) -> str:
        return f"LocalSource({self.root!r})"

    def lookup(self, name: str, *, whole: bool = False) -> OpenFile:
        """The :class:`~mediaserve.sources.base.Source` interface: see :meth:`open`."""
        return self.open(name)

    def open(self, name: str) -> OpenFile:
        """Open ``name`` under the root, or raise NotFound / Refused (see the class)."""
        parts = safe_parts(name, allow_dotfiles=self.allow_dotfiles)
        if self.follow_symlinks and _PROC_FD is not None:
            fd, path = self._open_checked(parts)
        else:
            if self.follow_symlinks:
                parts = self._resolve_inside(parts)
            fd = self._open_walk(parts)
            path = self._real_root + "/" + "/".join(parts)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise NotFound("directory")
            if not stat.S_ISREG(st.st_mode):
                raise Refused("not a regular file (device, FIFO or socket)")
            # O_NONBLOCK has no effect on regular files, so it is left set (saves two
            # fcntl calls per request).
        except BaseException:
            os.close(fd)
            raise
        if self.follow_symlinks:
            # Type and download name come from the file actually opened, so a link named
            # "photo.jpg" to an HTML file is still neutralised as HTML.
            name = path[len(self._real_root) + 1 :] if path.startswith(self._real_root) else name
        meta = FileMeta(
            name=name,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            identity=f"{st.st_dev}:{st.st_ino}",
        )
        return OpenFile(fd, meta, path, st)

    def _open_checked(self, parts: tuple[str, ...]) -> tuple[int, str]:
        """Open by full path and verify, through /proc, what was opened."""
        # The root's real path is cached; re-check it like the walk re-checks its root
        # descriptor, or a root re-pointed by a deploy (symlink swap) would keep serving
        # the old release, which still exists and so never fails the /proc comparison.
        self._root_fd()
        literal = self._real_root + "/" + "/".join(parts)
        flags = _FILE_FLAGS if not self.follow_symlinks else _FILE_FLAGS & ~_O_NOFOLLOW
        try:
            fd = os.open(literal, flags)
        except OSError as exc:
            raise _classify(exc) from None
        try:
            actual = os.readlink(f"{_PROC_FD}/{fd}")
        except OSError:
            os.close(fd)
            raise NotFound("descriptor path unavailable") from None
        if actual == literal:
            return fd, actual
        if self._root_moved():
            os.close(fd)
            return self._open_checked(parts)
        if self.follow_symlinks and actual.startswith(self._real_root + "/"):
            rel = actual[len(self._real_root) + 1 :]
            try:
                safe_parts(rel, allow_dotfiles=self.allow_dotfiles)
            except (NotFound, Refused) as exc:
                os.close(fd)
                raise Refused(f"symlink target is {exc.reason}") from None
            return fd, actual
        os.close(fd)
        if self.follow_symlinks:
            raise Refused("symlink leaves the media root")
        raise Refused("symlink in path")

    def _root_moved(self) -> bool:
        """Whether the root's own real path changed (a deploy re-pointed a symlink)."""
        current = os.path.realpath(self.root)
        if current == self._real_root:
            return False
        self._real_root = current
        return True

    def _root_fd(self) -> int:
        now = time.monotonic()
        current = self._root
        if current is not None and now - self._root_checked < self.root_check_interval:
            return current[0]
        with self._lock:
            try:
                st = os.stat(self.root)
            except OSError as exc:
                raise NotFound(f"media root unavailable: {exc.strerror}") from None
            current = self._root
            if current is None or (current[1], current[2]) != (st.st_dev, st.st_ino):
                try:
                    fd = os.open(self.root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
                except OSError as exc:
                    raise NotFound(f"media root unavailable: {exc.strerror}") from None
                opened = os.fstat(fd)
                if current is not None:
                    self._retired.append((current[0], now))
                current = self._root = (fd, opened.st_dev, opened.st_ino)
                self._real_root = os.path.realpath(self.root)
            self._root_checked = now
            while self._retired and now - self._retired[0][1] > self.retired_grace:
                os.close(self._retired.pop(0)[0])
            return current[0]

    def _open_walk(self, parts: tuple[str, ...]) -> int:
        root_fd = self._root_fd()
        if len(parts) == 1:
            return self._open_component(parts[0], _FILE_FLAGS, root_fd)
        dir_fd = self._open_component(parts[0], _DIR_FLAGS, root_fd)
        try:
            for part in parts[1:-1]:
                next_fd = self._open_component(part, _DIR_FLAGS, dir_fd)
                os.close(dir_fd)
                dir_fd = next_fd
            return self._open_component(parts[-1], _FILE_FLAGS, dir_fd)
        finally:
            os.close(dir_fd)

    @staticmethod
    def _open_component(part: str, flags: int, dir_fd: int) -> int:
        try:
            return os.open(part, flags, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ENOTDIR and flags & _O_DIRECTORY and _is_symlink(part, dir_fd):
                # Linux answers O_DIRECTORY|O_NOFOLLOW on a symlink with ENOTDIR, not
                # ELOOP: still a symlink refusal, to be logged as one.
                raise Refused("symlink") from None
            raise _classify(exc) from None

    def _resolve_inside(self, parts: tuple[str, ...]) -> tuple[str, ...]:
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
        # the real root, line up with the walk.
        return safe_parts(rel, allow_dotfiles=self.allow_dotfiles)


def _is_symlink(part: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(part, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _classify(exc: OSError) -> NotFound | Refused:
    if exc.errno in _SYMLINK_ERRNOS:
        return Refused("symlink")
    if exc.errno == errno.ENOTDIR:
        # A file used as a directory, or (with O_DIRECTORY|O_NOFOLLOW on some systems)
        # a symlink to a directory: absent either way.
        return NotFound("not a directory")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Refused("permission denied (check file and directory modes)")
    return NotFound(exc.strerror or "cannot open")
