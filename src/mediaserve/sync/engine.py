"""Copy a media directory to a bucket, or a bucket to a directory, safely and resumably.

The comparison is size plus checksum: the S3 ETag of an object uploaded in one piece is the
MD5 of its bytes, and of a multipart upload the MD5 of its parts' MD5s followed by ``-N``.
Uploads here use the same layout as the AWS CLI (one piece up to 8 MiB, then 8 MiB parts),
so a local file's expected ETag can be computed and compared without downloading anything.

Safety:

* every upload carries ``Content-MD5`` (per part for multipart), so the store rejects a body
  that arrived damaged or cut short, and the ETag it returns is checked again afterwards;
* downloads go to a temporary file beside the target, are checked against the ETag, and are
  renamed into place: a run killed halfway leaves complete files or none;
* a rerun skips every file already equal at the destination, which is how an interrupted
  run resumes; nothing is deleted unless ``delete=True``;
* keys that could escape the directory (``..``, leading ``/``, backslashes, NUL) are refused,
  and names that collide after Unicode normalisation are reported instead of overwriting
  each other.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal

from ..http.content_types import guess_type, is_active
from ..http.disposition import content_disposition
from ..sources.base import LookupError_
from ..sources.remote import object_key

__all__ = [
    "PART_SIZE",
    "Action",
    "Bucket",
    "Entry",
    "RateLimit",
    "SyncResult",
    "expected_etag",
    "list_local",
    "list_remote",
    "plan_sync",
    "run_sync",
]

#: One PUT up to this size, multipart with parts of this size above it (the AWS CLI's
#: defaults, so objects it uploaded compare equal too).
PART_SIZE = 8 * 1024 * 1024
_READ = 1024 * 1024
_TEMP_MARK = ".mediaserve-sync-"


@dataclass(frozen=True)
class Bucket:
    """``s3://name/location`` and the client to reach it."""

    name: str
    location: str
    client: Any

    def key(self, name: str) -> str:
        return f"{self.location.strip('/')}/{name}" if self.location.strip("/") else name


@dataclass(frozen=True)
class Entry:
    """A file or object: its name relative to the root/location, size and ETag (if known)."""

    name: str
    size: int
    etag: str = ""  # remote only: the ETag without quotes


@dataclass(frozen=True)
class Action:
    op: Literal["copy", "skip", "delete"]
    name: str
    size: int
    why: str = ""


@dataclass
class SyncResult:
    copied: list[str] = field(default_factory=list)
    skipped: int = 0
    deleted: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # at the destination only, kept
    failed: dict[str, str] = field(default_factory=dict)  # name -> reason
    bytes_copied: int = 0
    seconds: float = 0.0


class RateLimit:
    """A token bucket shared by the workers: at most ``rate`` bytes per second overall."""

    def __init__(self, rate: int | None) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def take(self, nbytes: int) -> None:
        if not self.rate or nbytes <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + nbytes / self.rate
            wait = start - now
        if wait > 0:
            time.sleep(wait)


# -- listing ---------------------------------------------------------------------------------


def list_local(root: str) -> tuple[dict[str, Entry], list[str]]:
    """Regular files under ``root`` by relative POSIX name, and what was left out (why).

    Symlinks are not followed (a link out of MEDIA_ROOT must not upload what it points
    at); dotfiles and our own temporary files are skipped, as serving skips them.
    """
    entries: dict[str, Entry] = {}
    ignored: list[str] = []
    root = os.path.abspath(root)
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        kept = []
        for sub in sorted(dirs):
            path = os.path.join(directory, sub)
            if sub.startswith(".") or os.path.islink(path):
                ignored.append(_rel(rel_dir, sub) + "/ (dot-directory or symlink)")
            else:
                kept.append(sub)
        dirs[:] = kept
        for name in sorted(files):
            rel = _rel(rel_dir, name)
            path = os.path.join(directory, name)
            if name.startswith("."):
                if _TEMP_MARK not in name:
                    ignored.append(rel + " (dotfile)")
                continue
            try:
                st = os.lstat(path)
            except OSError as exc:
                ignored.append(f"{rel} ({exc.strerror})")
                continue
            if not _is_regular(st.st_mode):
                ignored.append(rel + " (symlink or not a regular file)")
                continue
            entries[rel] = Entry(rel, st.st_size)
    return entries, ignored


def _rel(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def list_remote(bucket: Bucket) -> dict[str, Entry]:
    """Objects under the location, by name relative to it."""
    prefix = bucket.location.strip("/")
    prefix = prefix + "/" if prefix else ""
    entries: dict[str, Entry] = {}
    paginator = bucket.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket.name, Prefix=prefix):
        for item in page.get("Contents", ()):
            key = str(item["Key"])
            if key.endswith("/"):
                continue  # a "folder" marker object
            name = key[len(prefix) :]
            entries[name] = Entry(name, int(item["Size"]), str(item.get("ETag", "")).strip('"'))
    return entries


# -- checksums -------------------------------------------------------------------------------


def _chunks(path: str, size: int = _READ) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while data := handle.read(size):
            yield data


def expected_etag(path: str, size: int) -> str:
    """The ETag an upload by :func:`run_sync` (or the AWS CLI) gives this file."""
    if size <= PART_SIZE:
        digest = hashlib.md5(usedforsecurity=False)
        for data in _chunks(path):
            digest.update(data)
        return digest.hexdigest()
    parts = [hashlib.md5(part, usedforsecurity=False).digest() for part in _chunks(path, PART_SIZE)]
    combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(parts)}"


# -- planning (pure) -------------------------------------------------------------------------


def plan_sync(
    source: dict[str, Entry],
    dest: dict[str, Entry],
    same: Callable[[Entry, Entry], bool],
    *,
    delete: bool,
) -> tuple[list[Action], list[str]]:
    """What to do for each name, and destination-only names kept (``delete=False``)."""
    actions: list[Action] = []
    for name in sorted(source):
        src = source[name]
        dst = dest.get(name)
        if dst is None:
            actions.append(Action("copy", name, src.size, "new"))
        elif dst.size != src.size:
            actions.append(Action("copy", name, src.size, "size differs"))
        elif same(src, dst):
            actions.append(Action("skip", name, src.size, "unchanged"))
        else:
            actions.append(Action("copy", name, src.size, "checksum differs"))
    extra = sorted(set(dest) - set(source))
    if delete:
        actions.extend(Action("delete", name, dest[name].size) for name in extra)
        extra = []
    return actions, extra


def normalisation_collisions(names: Iterable[str]) -> dict[str, str]:
    """Names whose NFC form equals another name's: name -> the reason to refuse it.

    "café" typed on macOS (NFD) and on Linux (NFC) are two files here and two keys in the
    bucket, but one name on macOS or after any tool that normalises: copying both would let
    one silently overwrite the other somewhere down the line.
    """
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(unicodedata.normalize("NFC", name), []).append(name)
    refused: dict[str, str] = {}
    for group in groups.values():
        if len(group) > 1:
            for name in group:
                # ascii(): the two names look identical when printed as they are.
                others = ", ".join(ascii(o) for o in group if o != name)
                refused[name] = (
                    f"{name!a} collides with {others} after Unicode normalisation (NFC); rename one"
                )
    return refused


# -- transfers -------------------------------------------------------------------------------


class Progress:
    """Bytes done of a total, shared by the workers; prints a line every ``interval``."""

    def __init__(self, total: int, files: int, out: Any, interval: float = 0.5) -> None:
        self.total = total
        self.files = files
        self.done = 0
        self.files_done = 0
        self.out = out
        self.interval = interval
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        if not self._tty:
            self.interval = max(interval, 1.0)  # a log file needs fewer lines than a terminal

    def add(self, nbytes: int, file_done: bool = False) -> None:
        with self._lock:
            self.done += nbytes
            self.files_done += int(file_done)

    def line(self) -> str:
        with self._lock:
            done, files_done = self.done, self.files_done
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = done / elapsed
        remaining = max(self.total - done, 0)
        eta = _duration(remaining / rate) if rate > 0 else "--:--"
        percent = 100 * done / self.total if self.total else 100.0
        return (
            f"{_size(done)} / {_size(self.total)} {percent:5.1f}%  {_size(rate)}/s  "
            f"ETA {eta}  ({files_done}/{self.files} files)"
        )

    def __enter__(self) -> Progress:
        if self.out is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._print()

    def _print(self, end: str = "") -> None:
        if self._tty:
            self.out.write("\r" + self.line() + "\x1b[K" + end)
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._print("\n" if self._tty else "")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _object_headers(name: str) -> dict[str, str]:
    """Content-Type (and, for active content, attachment) stored with the object, so a
    redirect straight to the store answers like mediaserve would."""
    content_type = guess_type(name, {})
    headers = {"ContentType": content_type}
    if is_active(content_type):
        headers["ContentDisposition"] = content_disposition("attachment", name.rsplit("/", 1)[-1])
    return headers


def upload(bucket: Bucket, root: str, entry: Entry, limit: RateLimit, progress: Progress) -> None:
    """Upload one file with Content-MD5, then check the ETag the store computed."""
    path = os.path.join(root, *entry.name.split("/"))
    key = bucket.key(entry.name)
    client = bucket.client
    if entry.size <= PART_SIZE:
        with open(path, "rb") as handle:
            data = handle.read(PART_SIZE + 1)
        if len(data) != entry.size:
            raise RuntimeError("the file changed size while being copied; run sync again")
        limit.take(len(data))
        response = client.put_object(
            Bucket=bucket.name, Key=key, Body=data, ContentMD5=_md5_b64(data),
            **_object_headers(entry.name),
        )  # fmt: skip
        expected = hashlib.md5(data, usedforsecurity=False).hexdigest()
        progress.add(len(data), file_done=True)
    else:
        created = client.create_multipart_upload(
            Bucket=bucket.name, Key=key, **_object_headers(entry.name)
        )
        upload_id = created["UploadId"]
        parts: list[dict[str, Any]] = []
        digests: list[bytes] = []
        sent = 0
        try:
            for number, data in enumerate(_chunks(path, PART_SIZE), start=1):
                limit.take(len(data))
                part = client.upload_part(
                    Bucket=bucket.name, Key=key, UploadId=upload_id, PartNumber=number,
                    Body=data, ContentMD5=_md5_b64(data),
                )  # fmt: skip
                parts.append({"ETag": part["ETag"], "PartNumber": number})
                digests.append(hashlib.md5(data, usedforsecurity=False).digest())
                sent += len(data)
                progress.add(len(data))
            if sent != entry.size:
                raise RuntimeError("the file changed size while being copied; run sync again")
            response = client.complete_multipart_upload(
                Bucket=bucket.name, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )  # fmt: skip
        except BaseException:
            client.abort_multipart_upload(Bucket=bucket.name, Key=key, UploadId=upload_id)
            raise
        combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
        expected = f"{combined}-{len(digests)}"
        progress.add(0, file_done=True)
    got = str(response.get("ETag", "")).strip('"')
    if got and got != expected:
        raise RuntimeError(f"verification failed: the store's ETag {got} is not {expected}")


def download(bucket: Bucket, root: str, entry: Entry, limit: RateLimit, progress: Progress) -> None:
    """Download one object to a temporary file, verify it, then rename it into place."""
    parts = entry.name.split("/")
    directory = os.path.join(root, *parts[:-1])
    os.makedirs(directory, mode=0o755, exist_ok=True)
    response = bucket.client.get_object(Bucket=bucket.name, Key=bucket.key(entry.name))
    body = response["Body"]
    whole = hashlib.md5(usedforsecurity=False)
    part_digests: list[bytes] = []
    part = hashlib.md5(usedforsecurity=False)
    part_fill = 0
    size = 0
    fd, temp = tempfile.mkstemp(prefix="." + parts[-1][:40] + _TEMP_MARK, dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            while data := body.read(_READ):
                limit.take(len(data))
                out.write(data)
                whole.update(data)
                size += len(data)
                view = memoryview(data)
                while view:  # per-part digests, for multipart ETags
                    take = min(len(view), PART_SIZE - part_fill)
                    part.update(view[:take])
                    part_fill += take
                    view = view[take:]
                    if part_fill == PART_SIZE:
                        part_digests.append(part.digest())
                        part = hashlib.md5(usedforsecurity=False)
                        part_fill = 0
                progress.add(len(data))
        if part_fill:
            part_digests.append(part.digest())
        if size != entry.size:
            raise RuntimeError(f"verification failed: got {size} bytes, expected {entry.size}")
        etag = entry.etag
        if etag and "-" not in etag and etag != whole.hexdigest():
            raise RuntimeError("verification failed: the MD5 does not match the ETag")
        if etag.endswith(f"-{len(part_digests)}"):
            combined = hashlib.md5(b"".join(part_digests), usedforsecurity=False).hexdigest()
            if etag != f"{combined}-{len(part_digests)}":
                raise RuntimeError("verification failed: the parts do not match the ETag")
        os.chmod(temp, 0o644)
        os.replace(temp, os.path.join(directory, parts[-1]))
    except BaseException:
        with _suppress():
            os.unlink(temp)
        raise
    progress.add(0, file_done=True)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)


def remove_stale_temporaries(root: str) -> int:
    """Delete temporary files a killed download left behind; returns how many."""
    removed = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".") and _TEMP_MARK in name:
                with _suppress():
                    os.unlink(os.path.join(directory, name))
                    removed += 1
    return removed


# -- the run ---------------------------------------------------------------------------------


def run_sync(
    root: str,
    bucket: Bucket,
    *,
    upload_direction: bool,
    dry_run: bool = False,
    delete: bool = False,
    concurrency: int = 4,
    rate: int | None = None,
    progress_out: Any = None,
    log: Callable[[str], None] = lambda line: None,
) -> SyncResult:
    """Make the destination equal to the source (without deleting unless ``delete``)."""
    started = time.monotonic()
    result = SyncResult()
    local, ignored = list_local(root) if os.path.isdir(root) else ({}, [])
    for note in ignored:
        log(f"ignored {note}")
    remote = list_remote(bucket)
    source, dest = (local, remote) if upload_direction else (remote, local)
    refused: dict[str, str] = {}
    for name in source:
        # The same checks as serving: a key with "..", a leading "/" or a backslash would
        # be written outside the directory, or be unreachable through a URL.
        try:
            object_key(name, allow_dotfiles=False)
        except LookupError_ as exc:
            refused[name] = f"unsafe name ({exc.reason}); not copied"
    refused.update(normalisation_collisions(n for n in source if n not in refused))
    result.failed.update(refused)
    source = {name: entry for name, entry in source.items() if name not in refused}

    def same(src: Entry, dst: Entry) -> bool:
        local_entry, remote_entry = (src, dst) if upload_direction else (dst, src)
        path = os.path.join(root, *local_entry.name.split("/"))
        try:
            return expected_etag(path, local_entry.size) == remote_entry.etag
        except OSError:
            return False

    actions, result.extra = plan_sync(source, dest, same, delete=delete)
    # A refused source name is still a source name: its copy at the destination (from an
    # earlier run, or another tool) is not "extra", and --delete must not remove it.
    actions = [a for a in actions if not (a.op == "delete" and a.name in refused)]
    result.extra = [name for name in result.extra if name not in refused]
    copies = [a for a in actions if a.op == "copy"]
    result.skipped = sum(1 for a in actions if a.op == "skip")
    if dry_run:
        for action in actions:
            if action.op != "skip":
                log(f"would {action.op} {action.name} ({action.why or action.op})")
        result.copied = [a.name for a in copies]
        result.deleted = [a.name for a in actions if a.op == "delete"]
        result.bytes_copied = sum(a.size for a in copies)
        result.seconds = time.monotonic() - started
        return result
    if not upload_direction:
        stale = remove_stale_temporaries(root)
        if stale:
            log(f"removed {stale} temporary file(s) left by an interrupted run")
    limit = RateLimit(rate)
    transfer = upload if upload_direction else download
    total = sum(a.size for a in copies)
    shown = progress_out if copies else None
    with (
        Progress(total, len(copies), shown) as progress,
        ThreadPoolExecutor(
            max_workers=max(1, concurrency), thread_name_prefix="mediaserve-sync"
        ) as pool,
    ):
        futures = {
            pool.submit(transfer, bucket, root, source[a.name], limit, progress): a for a in copies
        }
        for future in as_completed(futures):
            action = futures[future]
            try:
                future.result()
            except Exception as exc:
                result.failed[action.name] = describe_error(exc)
            else:
                result.copied.append(action.name)
                result.bytes_copied += action.size
                log(f"copied {action.name} ({action.why})")
    for action in actions:
        if action.op != "delete":
            continue
        try:
            if upload_direction:
                bucket.client.delete_object(Bucket=bucket.name, Key=bucket.key(action.name))
            else:
                os.unlink(os.path.join(root, *action.name.split("/")))
        except Exception as exc:
            result.failed[action.name] = "delete failed: " + describe_error(exc)
        else:
            result.deleted.append(action.name)
            log(f"deleted {action.name}")
    result.copied.sort()
    result.seconds = time.monotonic() - started
    return result


def describe_error(exc: BaseException) -> str:
    """One line for a failed file; store errors by code, never with credentials."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, RuntimeError) else text
