"""Starting and stopping child processes.

Every process the harness starts goes through :func:`spawn`: it gets its own session
(so its whole group can be signalled), is optionally pinned to a CPU core with
``taskset``, and is recorded so that :func:`stop_all` (registered with ``atexit`` and
run on SIGTERM/SIGHUP/SIGINT through ``SystemExit``/``KeyboardInterrupt``) kills it and
its descendants, by process id, whatever way the run ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from harness.metrics import process_tree

_live: dict[int, subprocess.Popen[bytes]] = {}


class HarnessError(RuntimeError):
    """A clear, user-facing failure of the harness (bad tool, server that won't start...)."""


def pinned(argv: Sequence[str], core: int | None) -> list[str]:
    """``argv`` prefixed with ``taskset -c CORE`` (taskset execs, so the pid stays the same)."""
    return list(argv) if core is None else ["taskset", "-c", str(core), *argv]


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    core: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a tracked process in its own session; stdout and stderr go to ``log_path``."""
    full = pinned(argv, core)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(full)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                full,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise HarnessError(f"cannot start {full[0]!r}: {exc.strerror}") from exc
    _live[proc.pid] = proc
    return proc


def live_pids() -> list[int]:
    """Process ids of the tracked processes still running (their descendants not included)."""
    return [pid for pid, proc in _live.items() if proc.poll() is None]


def _signal_pids(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM the process and its descendants, SIGKILL whatever is left after ``timeout``."""
    _live.pop(proc.pid, None)
    if proc.poll() is not None:
        _signal_pids(process_tree(proc.pid), signal.SIGKILL)  # orphans of a dead leader
        return
    tree = process_tree(proc.pid)
    _signal_pids(tree, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    deadline = time.monotonic() + timeout
    leftovers = [pid for pid in tree if pid != proc.pid and _alive(pid)]
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.05)
        leftovers = [pid for pid in leftovers if _alive(pid)]
    if proc.poll() is None:
        leftovers.append(proc.pid)
    _signal_pids(leftovers, signal.SIGKILL)
    # Whatever is left in the session's process group we created (pgid == leader pid).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_all() -> None:
    """Stop every process still tracked (newest first)."""
    for proc in reversed(list(_live.values())):
        stop(proc, timeout=3.0)


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Kill tracked processes at interpreter exit and turn SIGTERM/SIGHUP into SystemExit."""
    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_exit)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
