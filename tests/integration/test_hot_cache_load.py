"""The hot cache under load: files changed while threads request them are never answered stale.

Readers request one file in a loop while a writer replaces it (rename over, sometimes with
the same size), truncates it, chmods it and deletes it, at random intervals around the racy
margin, so the file is sometimes cached, sometimes too fresh to be. Every change is logged
with the moment it began and the moment it was done. An answer is correct when its bytes are
one whole version of the file (or its 404 a moment without the file) that was current at
some instant between the request being sent and the answer being read: never a mix, never
a version already replaced or deleted when the request began. A body shorter than its
Content-Length is a download the server ended (the ordinary path's answer to a file truncated
under it), which the client sees as failed, not as wrong bytes.

Run in-process (threads calling the WSGI callable) and through gunicorn gthread (as
``nobody`` when the tests run as root, so that ``chmod 000`` really makes the file
unreadable), plus a property test comparing every answer with the answer of the same
mediaserve without the cache after each of a random sequence of changes.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hot_support import Pair, call
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import require, start_gunicorn
from mediaserve.delivery.wsgi import WSGIMedia
from mediaserve.sources.local import HotLimits, LocalSource

MARGIN = 0.02
ROOT = os.geteuid() == 0


@dataclass
class History:
    """The file's versions: (began, done, bytes or None for "no readable file")."""

    changes: list[tuple[float, float, bytes | None]] = field(default_factory=list)

    def could_answer(self, sent: float, read: float, body: bytes | None) -> bool:
        """Whether ``body`` was the file's content at some instant of [sent, read]."""
        for i, (began, _done, content) in enumerate(self.changes):
            replaced = self.changes[i + 1][1] if i + 1 < len(self.changes) else float("inf")
            if content == body and began <= read and replaced >= sent:
                return True
        return False


@dataclass
class Seen:
    sent: float
    read: float
    status: int
    body: bytes
    declared: int | None  # Content-Length


class Writer:
    """Changes ``path`` at random intervals and logs each version in ``history``."""

    def __init__(self, path: Path, seed: int, unreadable_is_absent: bool) -> None:
        self.path = path
        self.rng = random.Random(seed)
        self.unreadable_is_absent = unreadable_is_absent
        self.history = History()
        self.current: bytes | None = None
        self.mode = 0o644
        self.stop = threading.Event()

    def _new_content(self) -> bytes:
        size = self.rng.choice([len(self.current or b"x" * 4000), self.rng.randint(1, 20_000)])
        return self.rng.randbytes(size)

    def change(self, action: Callable[[], bytes | None]) -> None:
        began = time.monotonic()
        content = action()
        self.current = content if self.path.exists() else None
        visible = None if (self.mode == 0 and self.unreadable_is_absent) else self.current
        self.history.changes.append((began, time.monotonic(), visible))

    def replace(self) -> bytes | None:
        data = self._new_content()
        tmp = self.path.with_name(".staged")
        tmp.write_bytes(data)
        tmp.chmod(self.mode)
        os.replace(tmp, self.path)
        return data

    def truncate(self) -> bytes | None:
        if self.current is None:
            return self.replace()
        n = self.rng.randint(0, len(self.current))
        os.truncate(self.path, n)
        return self.current[:n]

    def chmod(self) -> bytes | None:
        if self.current is None:
            return self.replace()
        self.mode = 0o644 if self.mode == 0 else 0
        self.path.chmod(self.mode)
        return self.current

    def delete(self) -> bytes | None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.mode = 0o644
        return None

    def run(self) -> None:
        self.change(self.replace)
        actions = [self.replace, self.replace, self.truncate, self.chmod, self.delete]
        while not self.stop.is_set():
            # Around the margin: sometimes the file settles and is cached, sometimes not.
            time.sleep(self.rng.uniform(0, 3 * MARGIN))
            self.change(self.rng.choice(actions))


def check(seen: list[Seen], history: History) -> None:
    ok = wrong = short = 0
    for s in seen:
        if s.status == 200 and s.declared is not None and len(s.body) < s.declared:
            short += 1  # the server ended a download whose file was truncated under it
            continue
        body = s.body if s.status == 200 else None
        assert s.status in (200, 404), s.status
        if history.could_answer(s.sent, s.read, body):
            ok += 1
        else:
            wrong += 1
    assert wrong == 0, f"{wrong} answers were no version current during their request"
    assert ok > 100, (ok, short)


def hammer(request: Callable[[], tuple[int, bytes, int | None]], seconds: float) -> list[Seen]:
    seen: list[Seen] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sent = time.monotonic()
        status, body, declared = request()
        seen.append(Seen(sent, time.monotonic(), status, body, declared))
    return seen


def run_load(
    path: Path, request_factory: Callable[[], Callable[[], tuple[int, bytes, int | None]]],
    seconds: float, unreadable_is_absent: bool, readers: int = 4,
) -> History:  # fmt: skip
    writer = Writer(path, seed=16, unreadable_is_absent=unreadable_is_absent)
    results: list[list[Seen]] = [[] for _ in range(readers)]
    writer.change(writer.replace)
    time.sleep(2 * MARGIN)

    def read(i: int) -> None:
        results[i] = hammer(request_factory(), seconds)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(readers)]
    changer = threading.Thread(target=writer.run)
    for t in [*threads, changer]:
        t.start()
    for t in threads:
        t.join()
    writer.stop.set()
    changer.join()
    check([s for r in results for s in r], writer.history)
    return writer.history


def test_in_process_readers_never_see_a_stale_or_mixed_file(tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    source = LocalSource(root, hot=HotLimits(racy_margin=MARGIN))
    app = WSGIMedia(source, prefix="/media/")

    def factory() -> Callable[[], tuple[int, bytes, int | None]]:
        def request() -> tuple[int, bytes, int | None]:
            status, headers, body = call(app, "/media/f.bin")
            length = dict(headers).get("Content-Length")
            return int(status[:3]), body, int(length) if length is not None else None

        return request

    run_load(root / "f.bin", factory, seconds=3.0, unreadable_is_absent=not ROOT)
    assert source.hot is not None
    assert source.hot.admitted > 0, "the file never settled: the cache was not exercised"
    assert source.hot.hits > 0


APP = """
import os
from mediaserve.delivery.wsgi import WSGIMedia
from mediaserve.sources.local import HotLimits, LocalSource

source = LocalSource(os.environ["HOT_ROOT"], hot=HotLimits(racy_margin={margin}))
media = WSGIMedia(source, prefix="/media/")


def app(environ, start_response):
    if environ["PATH_INFO"] == "/stats":
        hot = source.hot
        body = f"{{hot.admitted}} {{hot.hits}}".encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    return media(environ, start_response)
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory ``nobody`` can reach (tmp_path lives under root's 0700 home on CI)."""
    base = Path(tempfile.mkdtemp(prefix="mediaserve-hot-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_gunicorn_readers_never_see_a_stale_or_mixed_file(shared_dir: Path) -> None:
    require("gunicorn")
    root = shared_dir / "media"
    root.mkdir(mode=0o755)
    (shared_dir / "hot_app.py").write_text(APP.format(margin=MARGIN))
    # As root, the workers drop to nobody (after --preload imported everything as root), so
    # chmod 000 makes the file unreadable to the server, as it would be in production.
    user = ["--preload", "--user", "nobody", "--group", str(os.getgid() and 65534)] if ROOT else []
    server = start_gunicorn(
        "hot_app:app", env={"HOT_ROOT": str(root)}, cwd=shared_dir, pythonpath=[shared_dir],
        worker_class="gthread", threads=8, extra_args=user, ready_path="/stats",
    )  # fmt: skip
    with server:

        def factory() -> Callable[[], tuple[int, bytes, int | None]]:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)

            def request() -> tuple[int, bytes, int | None]:
                nonlocal conn
                try:
                    conn.request("GET", "/media/f.bin")
                    resp = conn.getresponse()
                    length = resp.getheader("Content-Length")
                    try:
                        body = resp.read()
                    except http.client.IncompleteRead as exc:
                        body = exc.partial
                        conn.close()
                    return resp.status, body, int(length) if length is not None else None
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
                    return 200, b"", 1  # a connection the server ended: a failed download

            return request

        run_load(root / "f.bin", factory, seconds=4.0, unreadable_is_absent=True)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", "/stats")
        admitted, hits = map(int, conn.getresponse().read().split())
    assert admitted > 0, "the file never settled: the cache was not exercised"
    assert hits > 0


# --- the property: after any sequence of changes, the same answer as without the cache ----

CHANGES = st.sampled_from(
    ["replace", "replace-same-size", "rewrite-in-place", "rewrite-mtime-back", "truncate",
     "chmod-000", "chmod-644", "delete", "settle", "settle"]
)  # fmt: skip
ASKS = st.sampled_from(
    [{}, {"method": "HEAD"}, {"Range": "bytes=0-9"}, {"Range": "bytes=-5"},
     {"Range": "bytes=3-"}, {"If-None-Match": "*"}]
)  # fmt: skip


def apply(path: Path, change: str, rng: random.Random) -> None:
    exists = path.exists()
    current = path.read_bytes() if exists and os.access(path, os.R_OK) else b"seed"
    if change == "settle":
        time.sleep(MARGIN * 1.5)
    elif change in ("replace", "replace-same-size") or not exists:
        size = len(current) if change == "replace-same-size" else rng.randint(0, 3000)
        tmp = path.with_name(".staged")
        tmp.write_bytes(rng.randbytes(size))
        tmp.chmod(0o644)
        os.replace(tmp, path)
    elif change in ("rewrite-in-place", "rewrite-mtime-back"):
        before = path.stat()
        with path.open("r+b") as f:
            f.write(rng.randbytes(before.st_size))
        if change == "rewrite-mtime-back":
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    elif change == "truncate":
        os.truncate(path, rng.randint(0, path.stat().st_size))
    elif change.startswith("chmod"):
        path.chmod(0 if change == "chmod-000" else 0o644)
    elif change == "delete":
        path.unlink()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(CHANGES, ASKS), min_size=1, max_size=10), seed=st.integers(0, 99))
def test_any_sequence_of_changes_answers_as_without_the_cache(
    tmp_path: Path, steps: list[tuple[str, dict[str, str]]], seed: int
) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    path = root / "f.bin"
    rng = random.Random(seed)
    apply(path, "replace", rng)
    time.sleep(MARGIN * 1.5)
    pair = Pair(root, HotLimits(racy_margin=MARGIN))
    pair.both("f.bin")
    for change, ask in steps:
        apply(path, change, rng)
        pair.both("f.bin", **ask)
        pair.both("f.bin")
        if path.exists() and stat.S_IMODE(path.stat().st_mode) == 0:
            path.chmod(0o644)


if sys.platform != "linux":  # pragma: no cover - the harness and /proc are Linux's
    pytestmark = pytest.mark.skip("Linux only")
