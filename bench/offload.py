#!/usr/bin/env python3
"""Proxy offload benchmark: what moving the bytes to nginx buys, measured in one run.

    python bench/offload.py [--duration 8] [--connections 16] [--server granian|gunicorn]

Starts the example app (granian as example/run.sh runs it, or gunicorn gthread with 8
threads; 1 worker, no access log, pinned to core 0) and real nginx (1
worker, core 0) configured by ``mediaserve config nginx``, on the same 10 KiB and 1 MiB files;
wrk runs on core 1. Rows:

* ``nginx-direct``: public media served by nginx from the directory (the anchor);
* ``offload``: a private file: nginx -> app (lookup, headers, X-Accel-Redirect) -> nginx sends;
* ``in-process``: the same private file with offload off: the app sends the bytes;
* ``app-direct``: the app server alone, no proxy in front;

plus the latency of unaligned ranges (``bytes=1000-66535``) over one keep-alive connection with
``tcp_nopush`` on and off. Prints requests/s, server CPU per request (both processes' trees)
and ratios against nginx-direct and in-process. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The test harness starts the servers (the same way the tests do); bench/harness/metrics.py
# reads CPU time. Both folders are called "harness", so metrics is loaded by path.
sys.path.insert(0, str(REPO / "tests"))

from harness import ServerProcess, start_granian, start_gunicorn, start_nginx  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "bench_metrics", Path(__file__).resolve().parent / "harness" / "metrics.py"
)
if _spec is None or _spec.loader is None:
    raise SystemExit("bench/harness/metrics.py is missing")
metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(metrics)


def cpu_of(servers: list[ServerProcess]) -> float:
    return sum(metrics.tree_cpu_seconds(s.pid) for s in servers if s.pid)


def wrk(url: str, duration: int, connections: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not match or errors:
        raise SystemExit(f"wrk failed or saw errors for {url}:\n{out}")
    return float(match.group(1))


def measure(
    url: str, servers: list[ServerProcess], args: argparse.Namespace
) -> tuple[float, float]:
    wrk(url, 1, args.connections)  # warm-up
    before = cpu_of(servers)
    rate = wrk(url, args.duration, args.connections)
    used = cpu_of(servers) - before
    return rate, used / (rate * args.duration) * 1e6  # req/s, CPU us per request


def range_latency(url: str, count: int = 40) -> float:
    argv = ["curl", "-s", "--http1.1"]
    for _ in range(count):
        argv += ["-H", "Range: bytes=1000-66535", "-o", "/dev/null", "-w", "%{time_total}\n", url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    times = [float(t) for t in out[1:]]  # the first opens the connection
    return sum(times) / len(times) * 1000


# The example's WSGI entry point called directly, no server: what mediaserve's Python costs
# per 10 KiB media request, so the server's and the proxy's share of the rows is visible.
_PYTHON_COST = """
import time
from shop.wsgi import application
env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/media/private/small.bin", "SERVER_NAME": "b",
       "SERVER_PORT": "80", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
       "SERVER_SOFTWARE": "gunicorn/bench", "QUERY_STRING": ""}
def start_response(status, headers, exc_info=None):
    assert status.startswith("200"), status
for _ in range(500):
    b"".join(application(dict(env), start_response))
n = 5000
t = time.perf_counter()
for _ in range(n):
    b"".join(application(dict(env), start_response))
print((time.perf_counter() - t) / n * 1e6)
"""


def python_cost(env: dict[str, str]) -> float:
    """Microseconds per request of the example's WSGI callable alone (on core 0)."""
    done = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", _PYTHON_COST],
        capture_output=True, text=True, check=True, cwd=REPO / "example",
        env={**os.environ, **env, "PYTHONPATH": str(REPO / "example")},
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def pin(server: ServerProcess) -> None:
    for pid in metrics.process_tree(server.pid):
        subprocess.run(["taskset", "-pc", "0", str(pid)], capture_output=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--server", choices=("granian", "gunicorn"), default="granian",
        help="the app server (default granian, as example/run.sh runs the example)",
    )  # fmt: skip
    args = parser.parse_args()
    for tool in ("wrk", "taskset", "curl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/bench.sh (it installs it)")
    base = Path(tempfile.mkdtemp(prefix="mediaserve-bench-offload-"))
    base.chmod(0o755)
    media = base / "media"
    (media / "private").mkdir(parents=True)
    for folder in (media, media / "private"):
        folder.chmod(0o755)
    files = {"small.bin": 10 * 1024, "slice.bin": 1024 * 1024}
    for name, size in files.items():
        for where in (media, media / "private"):
            (where / name).write_bytes(os.urandom(size))
            (where / name).chmod(0o644)
    started: list[ServerProcess] = []
    try:
        cost_us = python_cost(
            {"EXAMPLE_VAR_DIR": str(base / "var"), "MEDIA_ROOT": str(media),
             "DJANGO_SETTINGS_MODULE": "shop.settings", "DJANGO_ALLOWED_HOSTS": "b"}
        )  # fmt: skip
        rows: dict[str, dict[str, tuple[float, float]]] = {}
        for offload in ("x-accel-redirect", None):
            env = {
                "EXAMPLE_VAR_DIR": str(base / "var"), "MEDIA_ROOT": str(media),
                "DJANGO_SETTINGS_MODULE": "shop.settings", "MEDIASERVE_OFFLOAD": offload or "",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            }  # fmt: skip
            if args.server == "granian":
                app = start_granian(
                    "shop.wsgi:application", env=env, cwd=REPO / "example",
                    pythonpath=[REPO / "example"], extra_args=["--no-access-log"],
                    ready_path="/healthz",
                )  # fmt: skip
            else:
                app = start_gunicorn(
                    "shop.wsgi:application", env=env, cwd=REPO / "example",
                    pythonpath=[REPO / "example"], worker_class="gthread", threads=8,
                    ready_path="/healthz", extra_args=["--access-logfile", "/dev/null"],
                )  # fmt: skip
            started.append(app)
            conf_args = ["--media-root", str(media), "--upstream", f"127.0.0.1:{app.port}",
                         "--private", "private",
                         "--offload", offload or "none"]  # fmt: skip

            def conf(site: object, extra: list[str] = conf_args) -> str:
                port = getattr(site, "port")  # noqa: B009
                out = subprocess.run(
                    [sys.executable, "-m", "mediaserve.cli", "config", "nginx",
                     "--listen", f"127.0.0.1:{port}", *extra],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                return out.replace("access_log", "#access_log")

            nginx = start_nginx(conf, http_extra="access_log off;")
            started.append(nginx)
            pin(app)
            pin(nginx)
            label = "offload" if offload else "in-process"
            for name in files:
                rows.setdefault(name, {})[label] = measure(
                    nginx.url(f"/media/private/{name}"), [app, nginx], args
                )
                if not offload:
                    # No proxy at all: what the app server does alone.
                    rows[name]["app-direct"] = measure(
                        app.url(f"/media/private/{name}"), [app], args
                    )
                    # The in-process public path: a public file, the app alone.
                    rows[name]["public-app"] = measure(app.url(f"/media/{name}"), [app], args)
                if offload:
                    rows[name]["nginx-direct"] = measure(
                        nginx.url(f"/media/{name}"), [app, nginx], args
                    )
            if offload:
                latency_off = range_latency(nginx.url("/media/slice.bin"))
                nopush = start_nginx(lambda s: conf(s).replace("tcp_nopush off;", "tcp_nopush on;"),
                                     http_extra="access_log off;")  # fmt: skip
                started.append(nopush)
                latency_on = range_latency(nopush.url("/media/slice.bin"))
                nopush.stop()
            nginx.stop()
            app.stop()
        print(
            f"# mediaserve offload benchmark: wrk -t1 -c{args.connections} -d{args.duration}s "
            f"on core 1; app ({args.server}, 1 worker, no access log) and nginx (1 worker) on "
            "core 0"
        )
        print(f"{'file':<10} {'path':<13} {'req/s':>9} {'CPU us/req':>11} "
              f"{'vs nginx':>9} {'vs in-proc':>10} {'CPU/in-proc':>11}")  # fmt: skip
        for name, by in rows.items():
            for label in ("nginx-direct", "offload", "in-process", "app-direct", "public-app"):
                rate, cpu = by[label]
                print(
                    f"{name:<10} {label:<13} {rate:>9.0f} {cpu:>11.1f} "
                    f"{rate / by['nginx-direct'][0]:>9.2f} {rate / by['in-process'][0]:>10.2f} "
                    f"{cpu / by['in-process'][1]:>11.2f}"
                )
        small = rows["small.bin"]
        print(
            "\n10 KiB offload CPU/request: "
            f"{small['offload'][1] / small['in-process'][1]:.2f}x in-process through nginx, "
            f"{small['offload'][1] / small['public-app'][1]:.2f}x the app alone on a public file"
            " (target <= 1.3x the in-process path)"
        )
        print("\nunaligned range bytes=1000-66535, 40 requests on one keep-alive connection:")
        print(f"  tcp_nopush off (generated): {latency_off:.2f} ms/request")
        print(f"  tcp_nopush on:              {latency_on:.2f} ms/request")
        print(f"\nthe example's WSGI callable alone, 10 KiB: {cost_us:.1f} us/request")
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
