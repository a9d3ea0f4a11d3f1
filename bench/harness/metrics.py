"""Readings from /proc: process trees, CPU seconds and resident memory."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards), or None."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its living descendants (found through each process's ppid)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in tree:
            continue
        if pid == root and _stat_fields(pid) is None:
            return []
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system CPU seconds consumed so far by ``pids`` (all their threads)."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return ticks / CLOCK_TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of the whole process tree under ``root``."""
    return cpu_seconds(process_tree(root))


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    with (PROC / "stat").open() as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def harness_seconds() -> float:
    """CPU seconds of this process and of its children already reaped (wrk, curl)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _tree_times(roots: Iterable[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for root in roots for pid in process_tree(root)}


class CpuMeter:
    """CPU seconds a server's process tree spends inside a ``with`` block, and how busy the
    rest of the machine was meanwhile.

    ``foreign`` is the CPU time of processes this run did not start (other jobs on a shared
    machine): all cores' busy time minus the server, the harness, its reaped children and
    the still-running processes returned by ``ours`` (the tracked servers and downloaders).
    """

    def __init__(self, root: int, ours: Callable[[], Iterable[int]] = lambda: ()) -> None:
        self.root = root
        self.ours = ours
        self.seconds = 0.0
        self.wall = 0.0
        self.foreign = 0.0
        self._start: tuple[float, float, float, float, dict[int, float]] = (0, 0, 0, 0, {})

    def __enter__(self) -> CpuMeter:
        self._start = (
            time.monotonic(),
            tree_cpu_seconds(self.root),
            machine_busy_seconds(),
            harness_seconds(),
            _tree_times([self.root, *self.ours()]),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        wall0, server0, busy0, harness0, ours0 = self._start
        self.wall = time.monotonic() - wall0
        self.seconds = tree_cpu_seconds(self.root) - server0
        ours1 = _tree_times([self.root, *self.ours()])
        ours = sum(t - ours0.get(pid, 0.0) for pid, t in ours1.items())
        ours += harness_seconds() - harness0
        self.foreign = max(0.0, machine_busy_seconds() - busy0 - ours)

    @property
    def foreign_share(self) -> float:
        """Other processes' CPU as a fraction of one core over the block's wall time."""
        return self.foreign / self.wall if self.wall else 0.0


def _status_kib(pid: int, key: str) -> int | None:
    try:
        text = (PROC / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def rss_kib(pid: int) -> int | None:
    """Current resident set size (VmRSS) in KiB."""
    return _status_kib(pid, "VmRSS")


def hwm_kib(pid: int) -> int | None:
    """Peak resident set size (VmHWM) in KiB."""
    return _status_kib(pid, "VmHWM")


def reset_hwm(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/<pid>/clear_refs``); needs privileges."""
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def process_name(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return "?"


class RssSampler:
    """Samples VmRSS of every process in a tree in a background thread; keeps each maximum."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peak_kib: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in process_tree(self.root):
                rss = rss_kib(pid)
                if rss is not None and rss > self.peak_kib.get(pid, 0):
                    self.peak_kib[pid] = rss
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
