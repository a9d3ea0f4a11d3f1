"""Load generators and checks: wrk for request rates and latency, curl for long downloads,
and a plain HTTP client to verify each response before it is measured."""

from __future__ import annotations

import http.client
import json
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness import procs

WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body_bytes: int  # bytes read (bounded by ``read_limit``)


def fetch(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    read_limit: int | None = None,
    timeout: float = 30.0,
) -> Response:
    """GET ``url``; count (not keep) the body, stopping after ``read_limit`` bytes."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers=dict(headers or {}))
        resp = conn.getresponse()
        got = 0
        buf = memoryview(bytearray(1 << 20))
        while read_limit is None or got < read_limit:
            want = len(buf) if read_limit is None else min(len(buf), read_limit - got)
            n = resp.readinto(buf[:want])
            if not n:
                break
            got += n
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, got)
    finally:
        conn.close()


def fetch_head(url: str, timeout: float) -> Response | None:
    """Status and headers of a GET (body not read), or None when nothing answers."""
    try:
        return fetch(url, read_limit=0, timeout=timeout)
    except (OSError, http.client.HTTPException):
        return None


def expect(
    url: str, status: int, length: int, headers: Mapping[str, str] | None = None
) -> Response:
    """Fetch ``url`` and raise a clear error unless it has ``status`` and a ``length``-byte body."""
    read_limit = None if length <= 128 << 20 else 0  # don't pull 1 GB through Python
    resp = fetch(url, headers=headers, read_limit=read_limit)
    declared = resp.headers.get("content-length")
    problems = []
    if resp.status != status:
        problems.append(f"status {resp.status}, expected {status}")
    if declared is not None and int(declared) != length:
        problems.append(f"Content-Length {declared}, expected {length}")
    if read_limit is None and resp.body_bytes != length:
        problems.append(f"body of {resp.body_bytes} bytes, expected {length}")
    if problems:
        raise CheckFailed(f"GET {url} {dict(headers or {})}: " + "; ".join(problems), resp)
    return resp


class CheckFailed(procs.HarnessError):
    def __init__(self, message: str, response: Response) -> None:
        super().__init__(message)
        self.response = response


# --- wrk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    command: str
    requests: int
    duration_s: float
    bytes: int
    errors: dict[str, int]  # connect/read/write/timeout socket errors, status = non-2xx/3xx
    latency_ms: dict[str, float]  # mean, p50, p75, p90, p99, p99.9, max

    @property
    def req_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.duration_s / 1e6 if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def wrk(
    url: str,
    *,
    connections: int,
    duration: float,
    core: int,
    headers: Mapping[str, str] | None = None,
    threads: int = 1,
) -> WrkResult:
    """Run wrk pinned to ``core`` and return its summary (exact, via a Lua ``done`` hook)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "30s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv += ["--latency", "-s", str(WRK_SCRIPT), url]
    full = procs.pinned(argv, core)
    command = shlex.join(full)
    try:
        out = subprocess.run(
            full, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    except FileNotFoundError as exc:
        raise procs.HarnessError("wrk is not installed (apt-get install wrk)") from exc
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise procs.HarnessError(f"wrk failed ({command}):\n{out.stdout}{out.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        command=command,
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        bytes=data["bytes"],
        errors={k: data[k] for k in ("connect", "read", "write", "timeout", "status")},
        latency_ms={
            "mean": data["mean_us"] / 1e3,
            **{p: data[f"{p}_us"] / 1e3 for p in ("p50", "p75", "p90", "p99", "p999")},
            "max": data["max_us"] / 1e3,
        },
    )


# --- curl downloads -----------------------------------------------------------------------


@dataclass
class DownloadStats:
    completed: int = 0  # transfers that ended by themselves (full or cut by --max-time)
    bytes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.elapsed_s / 1e6 if self.elapsed_s else 0.0


class Downloads:
    """``count`` concurrent curl downloads of ``url`` for at most ``duration`` seconds.

    With ``loop`` each downloader starts again when its transfer ends; every transfer is
    bounded by ``--max-time`` so all of them end by themselves. ``rate`` is curl's
    ``--limit-rate`` (e.g. ``"50M"``) or None for full speed.
    """

    def __init__(
        self,
        url: str,
        count: int,
        *,
        duration: float,
        core: int,
        log_dir: Path,
        rate: str | None = None,
        loop: bool = False,
    ) -> None:
        self.url, self.count, self.duration, self.core = url, count, duration, core
        self.rate, self.loop, self.log_dir = rate, loop, log_dir
        self.stats = DownloadStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._current: dict[int, subprocess.Popen[bytes]] = {}
        self._threads: list[threading.Thread] = []
        self._deadline = 0.0
        self._started = 0.0
        self._run_id = uuid.uuid4().hex[:12]  # one log file per downloader and run

    def argv(self, max_time: float) -> list[str]:
        argv = ["curl", "-s", "-o", "/dev/null", "--max-time", f"{max_time:.1f}"]
        argv += ["-w", r"CURL %{http_code} %{size_download}\n"]
        if self.rate:
            argv += ["--limit-rate", self.rate]
        return [*argv, self.url]

    @property
    def command(self) -> str:
        args = shlex.join(procs.pinned(self.argv(self.duration), self.core))
        return f"{self.count} x {args}" + (" (looped)" if self.loop else "")

    def _worker(self, index: int) -> None:
        log = self.log_dir / f"curl-{self._run_id}-{index}.log"
        while not self._stop.is_set():
            remaining = self._deadline - time.monotonic()
            if remaining < 0.5:
                break
            with self._lock:
                if self._stop.is_set():
                    break
                proc = procs.spawn(self.argv(remaining), log_path=log, core=self.core)
                self._current[index] = proc
            proc.wait()
            procs.stop(proc)  # reaps and untracks it
            if not self.loop:
                break
        self._collect(log)

    def _collect(self, log: Path) -> None:
        try:
            lines = log.read_text().splitlines()
        except OSError:
            return
        with self._lock:
            for ln in lines:
                if ln.startswith("CURL "):
                    _, code, size = ln.split()
                    self.stats.completed += 1
                    self.stats.bytes += int(float(size))
                    self.stats.statuses[code] = self.stats.statuses.get(code, 0) + 1

    def __enter__(self) -> Downloads:
        self._started = time.monotonic()
        self._deadline = self._started + self.duration
        for i in range(self.count):
            t = threading.Thread(target=self._worker, args=(i,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def wait(self) -> None:
        """Wait until every downloader has finished by itself."""
        for t in self._threads:
            t.join(self.duration + 30)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            running = list(self._current.values())
        for proc in running:
            procs.stop(proc, timeout=2.0)
        self.wait()
        self.stats.elapsed_s = time.monotonic() - self._started
