"""Start a server process, wait until it serves, and stop it without leaving anything behind.

A :class:`ServerProcess` runs its command in a new session (so a new process group), with
stdout and stderr going to one log file. Starting waits until the TCP port accepts a
connection *and*, when asked, until an HTTP readiness URL answers. Stopping sends SIGTERM to
the whole group, then SIGKILL to whatever is left, including workers that outlived their
master. Every started process is registered, so :func:`stop_all` (called at the end of the
pytest session and at interpreter exit) stops whatever a failing test did not.

On Linux the command is wrapped in ``setpriv --pdeathsig TERM`` when started from the main
thread, so a server also goes away if the test process itself is killed (SIGKILL, OOM).
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit

from .ports import LOOPBACK, port_accepts

_S = TypeVar("_S", bound="ServerProcess")

#: Log lines that mean the port was taken between :func:`free_port` and the bind; the server
#: factories retry with another port when they see one of these.
ADDRESS_IN_USE = re.compile(r"address already in use|os error 98|errno 98", re.IGNORECASE)


class ServerStartError(RuntimeError):
    """The server exited, or did not become ready in time. The message carries its log tail."""

    def __init__(self, message: str, *, logs: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.logs = logs
        self.returncode = returncode

    @property
    def address_in_use(self) -> bool:
        """True when the log says the port was already taken (worth a retry on another port)."""
        return bool(ADDRESS_IN_USE.search(self.logs))


_live: set[ServerProcess] = set()
_live_lock = threading.Lock()


def stop_all() -> None:
    """Stop every server started through this module that is still running."""
    with _live_lock:
        servers = list(_live)
    for server in servers:
        server.stop()


atexit.register(stop_all)


def process_group_members(pgid: int) -> list[int]:
    """PIDs of live (non-zombie) processes whose process group is ``pgid``, read from /proc."""
    members: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces or parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _pdeathsig_prefix() -> list[str]:
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so only use it from
    # the main thread, which lives as long as the test process.
    if threading.current_thread() is not threading.main_thread():
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class ServerProcess:
    """A command that serves TCP on ``host:port``; a context manager.

    ``ready_url`` is optional: a path (``"/health"``, taken against :attr:`base_url`) or a full
    URL. Readiness then also needs an HTTP answer whose status is in ``ready_statuses``
    (default: any status below 500, so a 404 from an app without ``/`` still counts).
    """

    #: Seconds between SIGTERM and SIGKILL when stopping.
    stop_timeout: float = 5.0
    #: Lines of output quoted in error messages.
    tail_lines: int = 80

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        port: int,
        host: str = LOOPBACK,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        ready_url: str | None = None,
        ready_statuses: Iterable[int] | None = None,
        timeout: float = 30.0,
        name: str | None = None,
        extra_logs: Sequence[Path] = (),
        cleanup_paths: Sequence[Path] = (),
    ) -> None:
        self.argv = [os.fspath(a) for a in argv]
        self.host = host
        self.port = port
        self.env = dict(env) if env is not None else None
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.ready_url = ready_url
        self.ready_statuses = frozenset(ready_statuses) if ready_statuses is not None else None
        self.timeout = timeout
        self.name = name or Path(self.argv[0]).name
        self.extra_logs = list(extra_logs)
        self.cleanup_paths = list(cleanup_paths)
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"mediaserve-{self.name}-log-"))
        self.log_path = self.log_dir / "output.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._final_logs: str | None = None

    # -- addresses -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """``base_url`` joined with ``path`` (which should start with ``/``)."""
        return self.base_url + path

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- logs ------------------------------------------------------------------------------
    def logs(self) -> str:
        """Everything the process printed, followed by any extra log files (e.g. nginx's)."""
        if self._final_logs is not None:
            return self._final_logs
        parts = [_read_text(self.log_path)]
        for extra in self.extra_logs:
            text = _read_text(extra)
            if text:
                parts.append(f"--- {extra.name} ---\n{text}")
        return "\n".join(p for p in parts if p)

    def log_tail(self, lines: int | None = None) -> str:
        n = lines or self.tail_lines
        return "\n".join(self.logs().splitlines()[-n:])

    # -- lifecycle -------------------------------------------------------------------------
    def start(self: _S) -> _S:
        """Start the command and wait until it is ready; :class:`ServerStartError` otherwise."""
        if self.proc is not None:
            raise RuntimeError(f"{self.name} was already started")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*_pdeathsig_prefix(), *self.argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        with _live_lock:
            _live.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _fail(self, why: str) -> ServerStartError:
        logs = self.logs()
        tail = "\n".join(logs.splitlines()[-self.tail_lines :]) or "(no output)"
        return ServerStartError(
            f"{self.name} {why}\n  command: {' '.join(self.argv)}\n"
            f"--- last {self.tail_lines} lines of output ---\n{tail}",
            logs=logs,
            returncode=self.returncode,
        )

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.timeout
        last_http = "no HTTP answer yet"
        port_open = False
        while True:
            code = self.proc.poll()
            if code is not None:
                raise self._fail(f"exited with code {code} before it was ready")
            if not port_open:
                port_open = port_accepts(self.host, self.port, timeout=0.5)
            if port_open:
                ok = True
                if self.ready_url is not None:
                    ok, last_http = self._http_ready()
                # Someone else may hold the port while our bind failed: confirm we still run.
                if ok and self.proc.poll() is None:
                    return
            if time.monotonic() > deadline:
                state = (
                    f"port open, readiness URL not ready ({last_http})"
                    if port_open
                    else f"{self.host}:{self.port} never accepted a connection"
                )
                raise self._fail(f"was not ready within {self.timeout:.1f}s: {state}")
            time.sleep(0.05)

    def _http_ready(self) -> tuple[bool, str]:
        assert self.ready_url is not None
        url = self.ready_url if "://" in self.ready_url else self.url(self.ready_url)
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or self.host, parts.port, timeout=2.0)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            return False, f"GET {url}: {exc!r}"
        finally:
            conn.close()
        status = response.status
        ok = status in self.ready_statuses if self.ready_statuses is not None else status < 500
        return ok, f"GET {url} -> {status}"

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL what is left; idempotent."""
        proc = self.proc
        if proc is None or self._final_logs is not None:
            return
        pgid = proc.pid  # start_new_session: the process leads its own group
        if proc.poll() is None:
            _signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                proc.wait(5)
        # Workers can outlive their master (or ignore SIGTERM): give them a moment, then kill.
        deadline = time.monotonic() + min(self.stop_timeout, 2.0)
        while process_group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in process_group_members(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with _live_lock:
            _live.discard(self)
        self._final_logs = self.logs()
        for path in [self.log_dir, *self.cleanup_paths]:
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self: _S) -> _S:
        return self if self.proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else f"returncode={self.returncode}"
        return f"<ServerProcess {self.name} {self.base_url} pid={self.pid} {state}>"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
