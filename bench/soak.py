#!/usr/bin/env python3
"""Soak: a server under mixed traffic for minutes, its memory sampled as a curve.

    python bench/soak.py [--minutes 10] [--interval 10] [--warmup 60] [--server granian]

Starts ``mediaserve serve`` (one worker, pinned to core 0) on a tree of 400 small files
(1-64 KiB, the hot-cache range), 20 files of 1 MiB and one of 100 MiB, then runs for the whole
duration, on core 1:

* ``wrk -t1 -c8`` whose Lua script picks every request at random: small files (most of
  them), 1 MiB files, one in ten with a ``Range`` and one in twenty with ``If-None-Match``;
* 4 looped, rate-limited ``curl`` downloads of the 100 MiB file (slow clients).

Every ``--interval`` seconds it prints the server processes' VmRSS, their open descriptors
and the elapsed time: the curve. Growth is measured from the end of the warm-up (the first
``--warmup`` seconds fill the page cache, the allocator's arenas and the hot cache), and the
slope of the second half tells a plateau from a leak. Not part of the test suite; the
numbers are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import metrics, procs
from harness.loadgen import Downloads, expect
from harness.servers import HOST, mediaserve_cli

REPO = Path(__file__).resolve().parent.parent
SMALL_COUNT, SLICE_COUNT = 400, 20
KIB, MIB = 1024, 1024 * 1024

# One request per call: a random small file (85 %) or 1 MiB file, sometimes ranged or
# conditional. wrk calls request() for every request; done() prints one JSON line.
LUA = r"""
local small, slices = %(small)d, %(slices)d
local prefix = "%(prefix)s"
math.randomseed(os.time())
request = function()
  local r = math.random()
  local path
  if r < 0.85 then
    path = prefix .. "s/" .. math.random(0, small - 1) .. ".jpg"
  else
    path = prefix .. "m/" .. math.random(0, slices - 1) .. ".bin"
  end
  local headers = {}
  local k = math.random()
  if k < 0.10 then
    headers["Range"] = "bytes=100-" .. (100 + math.random(0, 900))
  elseif k < 0.15 then
    headers["If-None-Match"] = '"not-this-one"'
  end
  return wrk.format("GET", path, headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"status":%%d,"timeout":%%d,"p99_us":%%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(99)))
end
"""


def make_tree(root: Path) -> None:
    rng = random.Random(16)
    block = os.urandom(MIB)
    for sub, count, size in (("s", SMALL_COUNT, None), ("m", SLICE_COUNT, MIB)):
        (root / sub).mkdir(mode=0o755)
        for i in range(count):
            n = size or rng.randint(1 * KIB, 64 * KIB)
            path = root / sub / (f"{i}.jpg" if sub == "s" else f"{i}.bin")
            path.write_bytes(block[:n])
            path.chmod(0o644)
    with (root / "large.bin").open("wb") as out:
        for _ in range(100):
            out.write(block)
    (root / "large.bin").chmod(0o644)


def sample(root_pid: int) -> dict[str, object]:
    procs_ = {}
    for pid in metrics.process_tree(root_pid):
        rss = metrics.rss_kib(pid)
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            fds = -1
        if rss is not None:
            procs_[str(pid)] = {"name": metrics.process_name(pid), "rss_kib": rss, "fds": fds}
    return procs_


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) in MB per minute."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before growth counts")
    p.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--downloads", type=int, default=4)
    p.add_argument("--download-rate", default="20M")
    p.add_argument("--extra", action="append", default=[], help="extra `serve` argument")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    for tool in ("wrk", "curl", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: run scripts/bench.sh (it installs it)")
    procs.install_cleanup()
    work = Path(tempfile.mkdtemp(prefix="mediaserve-soak-"))
    work.chmod(0o755)
    media = work / "media"
    media.mkdir(mode=0o755)
    try:
        make_tree(media)
        port = procs.free_port()
        prefix = "/media/"
        argv = [*mediaserve_cli_for_repo(), "serve", str(media), "--host", HOST, "--port",
                str(port), "--workers", "1", "--prefix", prefix, "--server", args.server,
                *args.extra]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'bench'}{os.pathsep}{REPO / 'src'}"}
        server = procs.spawn(argv, log_path=work / "server.log", env=env, core=0)
        base = f"http://{HOST}:{port}{prefix}"
        deadline = time.monotonic() + 30
        while True:
            try:
                expect(base + "s/0.jpg", 200, (media / "s" / "0.jpg").stat().st_size)
                break
            except (procs.HarnessError, OSError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(procs.log_tail(work / "server.log")) from None
                time.sleep(0.2)
        script = work / "soak.lua"
        script.write_text(LUA % {"small": SMALL_COUNT, "slices": SLICE_COUNT, "prefix": prefix})
        seconds = args.minutes * 60
        wrk_argv = ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds:g}s", "--timeout",
                    "30s", "-s", str(script), f"http://{HOST}:{port}/"]  # fmt: skip
        load = procs.spawn(wrk_argv, log_path=work / "wrk.log", core=1)
        downloads = Downloads(base + "large.bin", args.downloads, duration=seconds, core=1,
                              log_dir=work, rate=args.download_rate, loop=True)  # fmt: skip
        curve: list[dict[str, object]] = []
        started = time.monotonic()
        print(f"# soak: {' '.join(argv)}\n# load: {' '.join(wrk_argv)}\n# + {downloads.command}")
        print(f"{'t s':>6} {'RSS MB (per process)':<34} {'fds':>10} {'CPU s':>8}")
        with downloads:
            while True:
                now = time.monotonic() - started
                point = {"t": round(now, 1), "processes": sample(server.pid),
                         "cpu_s": round(metrics.tree_cpu_seconds(server.pid), 2)}  # fmt: skip
                curve.append(point)
                procs_ = point["processes"]
                assert isinstance(procs_, dict)
                rss = " ".join(f"{v['rss_kib'] / 1024:7.1f}" for v in procs_.values())
                fds = " ".join(str(v["fds"]) for v in procs_.values())
                print(f"{now:6.0f} {rss:<34} {fds:>10} {point['cpu_s']:>8}", flush=True)
                if load.poll() is not None or now >= seconds:
                    break
                time.sleep(max(0.0, args.interval - (time.monotonic() - started - now)))
        load.wait(timeout=60)
        wrk_out = (work / "wrk.log").read_text()
        line = next((ln for ln in wrk_out.splitlines() if ln.startswith("WRK_JSON ")), "")
        summary = json.loads(line.removeprefix("WRK_JSON ")) if line else {"raw": wrk_out}
        report = analyse(curve, args.warmup)
        report.update(wrk=summary, downloads=downloads.stats.__dict__, command=argv)
        print(f"\nwrk: {summary}")
        print(f"downloads: {downloads.stats.__dict__}")
        for pid, r in report["per_process"].items():
            print(
                f"pid {pid} ({r['name']}): RSS {r['first_mb']:.1f} MB at start, "
                f"{r['warm_mb']:.1f} after warm-up, max {r['max_after_mb']:.1f}, "
                f"final {r['final_mb']:.1f}; growth after warm-up {r['growth_mb']:+.1f} MB; "
                f"second-half slope {r['slope_mb_min']:+.2f} MB/min; fds {r['fds']}"
            )
        print(f"largest growth after warm-up: {report['growth_mb']:+.1f} MB (target < 20)")
        if args.json:
            args.json.write_text(json.dumps({"curve": curve, **report}, indent=1))
        procs.stop(server)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def mediaserve_cli_for_repo() -> list[str]:
    class _Ctx:
        python = Path(sys.executable)

    return mediaserve_cli(_Ctx())  # type: ignore[arg-type]


def analyse(curve: list[dict[str, object]], warmup: float) -> dict[str, object]:
    per: dict[str, dict[str, object]] = {}
    pids = {pid for pt in curve for pid in pt["processes"]}  # type: ignore[attr-defined]
    worst = 0.0
    for pid in sorted(pids):
        series = [(float(pt["t"]), pt["processes"][pid]) for pt in curve  # type: ignore[arg-type,index]
                  if pid in pt["processes"]]  # type: ignore[operator]  # fmt: skip
        mb = [(t, v["rss_kib"] / 1024) for t, v in series]
        after = [(t, m) for t, m in mb if t >= warmup] or mb[-1:]
        warm = after[0][1]
        half = [(t, m) for t, m in after if t >= (after[0][0] + after[-1][0]) / 2]
        growth = max(m for _, m in after) - warm
        worst = max(worst, growth)
        per[pid] = {
            "name": series[0][1]["name"], "first_mb": mb[0][1], "warm_mb": warm,
            "max_after_mb": max(m for _, m in after), "final_mb": mb[-1][1],
            "growth_mb": growth, "slope_mb_min": slope_mb_per_min(half),
            "fds": sorted({v["fds"] for _, v in series}),
        }  # fmt: skip
    return {"per_process": per, "growth_mb": worst}


if __name__ == "__main__":
    sys.exit(main())
