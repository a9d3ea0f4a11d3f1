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
from dataclasses import dataclass
from typing import Any

from ..http.plan import FileMeta
from .base import NotFound, OpenFile, Refused

__all__ = ["DEFAULT_HOT", "HotCache", "HotFile", "HotLimits", "LocalSource", "safe_parts"]

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


# --- the hot cache: small public files kept in memory ----------------------------------------

#: File systems whose stat() may answer from a client-side attribute cache (NFS's actimeo,
#: FUSE's attr_timeout, SMB's cache=) while open() revalidates (close-to-open): a stat there
#: can miss a change made on another machine, so the hot cache is off for roots on them.
_NETWORK_FS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs", "lustre",
     "gpfs", "beegfs", "virtiofs", "fuse", "fuseblk"}
)  # fmt: skip


def filesystem_type(path: str) -> str | None:
    """The type of the file system holding ``path`` (``/proc/self/mounts``), or None."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best, found = -1, None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        # Spaces in mount points are written as \040.
        point = fields[1].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, found = len(point), fields[2]
    return found


def _network_fs(fstype: str | None) -> bool:
    return fstype is not None and (fstype in _NETWORK_FS or fstype.startswith("fuse."))


@dataclass(frozen=True)
class HotLimits:
    """How much the hot cache may hold (per process): ``max_bytes`` in all, files up to
    ``max_file`` bytes each. ``racy_margin``: seconds a file must have been left alone
    (by its ctime and mtime) before its bytes are trusted (see :class:`HotCache`)."""

    max_bytes: int = 32 * 1024 * 1024
    max_file: int = 256 * 1024
    racy_margin: float = 2.0

    def __post_init__(self) -> None:
        if self.max_bytes < 0 or self.max_file < 0:
            raise ValueError("hot cache limits must be >= 0 bytes")
        if self.racy_margin < 0:
            raise ValueError("the hot cache's racy margin must be >= 0 seconds")


#: The limits a LocalSource gets unless told otherwise.
DEFAULT_HOT = HotLimits()

# (st_ino, st_dev, st_size, st_mtime_ns, st_ctime_ns, st_mode): the version of a file.
Signature = tuple[int, int, int, int, int, int]


def signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


class HotFile:
    """One cached version of one file: its metadata (as a lookup makes it), its bytes, the
    signature it is validated against, and what the mount precomputed for it (``memo``:
    the options it was made for and its outcomes per method)."""

    __slots__ = ("data", "memo", "meta", "name", "signature", "used")

    def __init__(self, name: str, meta: FileMeta, data: bytes, sig: Signature) -> None:
        self.name = name
        self.meta = meta
        self.data = data
        self.signature = sig
        self.used = False  # CLOCK's reference bit: set on every hit, cleared by eviction
        self.memo: tuple[object, dict[str, Any]] = (None, {})  # see Mount._memo

    def __repr__(self) -> str:
        return f"HotFile({self.name!r}, size={len(self.data)})"


class HotCache:
    """Small files' bytes in memory, validated on every hit by one ``lstat``.

    A hit costs a dictionary lookup and one ``stat`` of the name under the root's descriptor
    (no ``open``, ``fstat``, ``read`` or ``close``). The entry is used only when the name
    still leads to the same inode with the same size, mtime, ctime and mode; anything else
    drops it and the request takes the ordinary lookup:

    * replaced (rename over it, a new upload): another inode;
    * truncated, rewritten, ``touch``-ed back (``cp -p``, ``rsync -t``): the ctime moves
      whatever the mtime says, the kernel sets it on every data or metadata change;
    * ``chmod``, ``chown``: the mode or the ctime;
    * deleted, or a directory on the way removed or made unsearchable: the stat fails;
    * the last component swapped for a symlink: ``lstat`` sees the link, not the file; a
      directory on the way swapped for a symlink leads to another inode, unless it leads to
      this very file, whose unchanged bytes are then what the cache holds anyway.

    **The same-tick write** ("racy git"): a file system stamps ctime/mtime with a clock
    that advances in ticks (a few ms on Linux, 1-2 s on some file systems), so a write in
    the same tick as the read that filled the cache, keeping the size, would leave the
    signature unchanged. A file is therefore admitted only when both its times are older
    than ``racy_margin`` (2 s, above every local file system's granularity) at the moment
    its bytes are read, and its signature is the same after the read as before: any later
    write then gets a newer ctime. Fresh uploads take the ordinary path until they settle.

    Not used on network file systems (see ``_NETWORK_FS``), where ``stat`` may answer from
    a client-side cache. Writes through a shared ``mmap`` may update the times only at
    ``msync``: serve such files with ``HOT_CACHE`` off.

    Memory: at most ``max_bytes`` of file bytes (plus ``entry_overhead`` per entry for the
    headers and plans), files of at most ``max_file`` bytes; evicted by CLOCK (an entry hit
    since the last sweep gets a second chance). Hits take no lock.
    """

    #: Bytes counted per entry beyond the file's: the metadata, headers and plans.
    entry_overhead = 1024

    def __init__(self, limits: HotLimits) -> None:
        self.limits = limits
        self.max_bytes = limits.max_bytes
        self.max_file = limits.max_file
        self._margin_ns = int(limits.racy_margin * 1e9)
        self._entries: dict[str, HotFile] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        # Counters (approximate under threads: plain increments, no lock on the hit path).
        self.hits = 0
        self.admitted = 0
        self.evicted = 0
        self.invalidated = 0
        self.too_fresh = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes accounted for (file bytes plus the per-entry overhead)."""
        return self._bytes

    def __repr__(self) -> str:
        return f"HotCache({len(self._entries)} files, {self._bytes} of {self.max_bytes} bytes)"

    def get(self, name: str, dir_fd: int) -> HotFile | None:
        """The entry for ``name`` if its file is unchanged, else None (and it is dropped)."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except (OSError, ValueError):
            self._drop(entry)
            return None
        if (
            st.st_ino,
            st.st_dev,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_mode,
        ) != entry.signature:
            self._drop(entry)
            return None
        entry.used = True
        self.hits += 1
        return entry

    def admit(self, name: str, opened: OpenFile) -> HotFile | None:
        """Read ``opened`` (found for ``name`` by a full lookup) into the cache, or None when
        it is too large, too fresh to trust, or changed while it was read."""
        size = opened.meta.size
        cost = size + self.entry_overhead
        if size > self.max_file or cost > self.max_bytes:
            return None
        before = signature(opened.stat)
        now = time.time_ns()
        if max(before[3], before[4]) >= now - self._margin_ns:
            self.too_fresh += 1
            return None
        try:
            data = os.pread(opened.fd, size, 0) if size else b""
            after = signature(os.fstat(opened.fd))
        except OSError:
            return None
        if len(data) != size or after != before:
            return None
        entry = HotFile(name, opened.meta, data, before)
        with self._lock:
            old = self._entries.pop(name, None)
            if old is not None:
                self._bytes -= len(old.data) + self.entry_overhead
            self._make_room(cost)
            self._entries[name] = entry
            self._bytes += cost
            self.admitted += 1
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, entry: HotFile) -> None:
        with self._lock:
            if self._entries.get(entry.name) is entry:
                del self._entries[entry.name]
                self._bytes -= len(entry.data) + self.entry_overhead
                self.invalidated += 1

    def _make_room(self, cost: int) -> None:
        """Evict (CLOCK) until ``cost`` more bytes fit; called with the lock held."""
        entries = self._entries
        guard = 2 * len(entries) + 1  # one sweep clears every reference bit
        while entries and self._bytes + cost > self.max_bytes:
            guard -= 1
            name = next(iter(entries))
            entry = entries.pop(name)
            if entry.used and guard > 0:
                entry.used = False
                entries[name] = entry  # second chance: to the back of the queue
                continue
            self._bytes -= len(entry.data) + self.entry_overhead
            self.evicted += 1


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
        hot: HotLimits | None = DEFAULT_HOT,
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.allow_dotfiles = allow_dotfiles
        self.follow_symlinks = follow_symlinks
        self.hot: HotCache | None = None
        if (
            hot is not None
            and hot.max_bytes
            and hot.max_file
            and not follow_symlinks
            and not _network_fs(filesystem_type(self.root))
        ):
            self.hot = HotCache(hot)
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

    def hot_get(self, name: str) -> HotFile | None:
        """The hot cache's unchanged entry for ``name`` (already a name ``open`` accepted),
        or None: the caller then looks it up with :meth:`lookup`."""
        hot = self.hot
        if hot is None:
            return None
        return hot.get(name, self._root_fd())

    def hot_admit(self, name: str, opened: OpenFile) -> HotFile | None:
        """Keep the file ``open`` just returned for ``name`` in the hot cache, if it qualifies.

        ``opened`` stays open (the caller closes it); its bytes are read here when admitted.
        """
        hot = self.hot
        if hot is None or opened.meta.name != name:
            return None
        return hot.admit(name, opened)

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
