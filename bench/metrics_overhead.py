#!/usr/bin/env python3
"""Metrics overhead: per-request server CPU with metrics off, record-only and on, in one run.

    python bench/metrics_overhead.py [--duration 8] [--rounds 3] [--connections 8]
    python bench/metrics_overhead.py --smoke      # a second per row: checks it runs, no numbers

Three gunicorn servers (gthread, 1 worker, pinned to core 0) serve the same 10 KiB file
through ``WSGIMedia`` (bench/metrics_app.py): ``off`` (no observer), ``record`` (the observer
without Prometheus: event lines for failures, which is Django's default) and ``on``
(Prometheus in multiprocess mode, the costlier storage, as under gunicorn in production).
wrk (core 1) sends a Meta crawler User-Agent, so the consumer family is classified on every
request. Rounds are interleaved (off, record, on, off, ...) so drift on a shared machine hits
every mode alike. Prints requests/s and server CPU microseconds per request (the worker's
tree, from /proc) with the overhead against ``off``. The issue's goal: ``on`` within 5 %.
A small file is the worst case: the per-request work is smallest there.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from harness import ServerProcess, start_gunicorn  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "bench_metrics", Path(__file__).resolve().parent / "harness" / "metrics.py"
)
if _spec is None or _spec.loader is None:
    raise SystemExit("bench/harness/metrics.py is missing")
proc_metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proc_metrics)

MODES = ("off", "record", "on")
AGENT = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def start(mode: str, root: Path, multiproc: Path) -> ServerProcess:
    env = {"MS_METRICS_MODE": mode, "MS_METRICS_ROOT": str(root)}
    if mode == "on":
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    server = start_gunicorn(
        "metrics_app:app", env=env, pythonpath=[REPO / "bench"], workers=1,
        worker_class="gthread", threads=4, ready_path="/media/small.bin",
        extra_args=["--access-logfile", "/dev/null"],
    )  # fmt: skip
    if shutil.which("taskset") and server.pid:  # the server on core 0, wrk on core 1
        for pid in proc_metrics.process_tree(server.pid):
            subprocess.run(["taskset", "-a", "-p", "-c", "0", str(pid)], capture_output=True)
    return server


def wrk(url: str, duration: float, connections: int) -> int:
    """Requests completed (wrk -d, one thread on core 1)."""
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    out = subprocess.run(
        [*pin, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s",
         "-H", f"User-Agent: {AGENT}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    done = re.search(r"(\d+) requests in", out)
    if not done or "Non-2xx" in out:
        raise SystemExit(f"wrk failed or saw errors for {url}:\n{out}")
    return int(done.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per row (8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--smoke", action="store_true", help="1 s, 1 round: does it run?")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.rounds = 1.0, 1
    if not shutil.which("wrk"):
        raise SystemExit("bench/metrics_overhead.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="mediaserve-bench-metrics-") as scratch:
        root, multiproc = Path(scratch) / "media", Path(scratch) / "multiproc"
        root.mkdir()
        multiproc.mkdir()
        (root / "small.bin").write_bytes(b"x" * 10 * 1024)
        servers = {mode: start(mode, root, multiproc) for mode in MODES}
        per_request: dict[str, list[float]] = {mode: [] for mode in MODES}
        rates: dict[str, list[float]] = {mode: [] for mode in MODES}
        try:
            for _ in range(args.rounds):
                for mode, server in servers.items():
                    assert server.pid is not None
                    before = proc_metrics.tree_cpu_seconds(server.pid)
                    done = wrk(server.url("/media/small.bin"), args.duration, args.connections)
                    spent = proc_metrics.tree_cpu_seconds(server.pid) - before
                    per_request[mode].append(spent / done * 1e6)
                    rates[mode].append(done / max(1, round(args.duration)))
        finally:
            for server in servers.values():
                server.stop()
    base = statistics.median(per_request["off"])
    print(f"10 KiB GET, gunicorn gthread 1 worker, {args.rounds} round(s) x {args.duration:g} s")
    print(f"{'mode':8} {'req/s':>9} {'CPU us/req':>11} {'vs off':>8}")
    for mode in MODES:
        cpu = statistics.median(per_request[mode])
        print(
            f"{mode:8} {statistics.median(rates[mode]):9.0f} {cpu:11.1f} "
            f"{(cpu / base - 1) * 100:+7.1f}%"
        )
    if args.smoke:
        print("(smoke run: too short for numbers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
