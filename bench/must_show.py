#!/usr/bin/env python3
"""Every timing number of issue 16's "Must show" list, in one command (~20 minutes).

    .venv/bin/python bench/must_show.py [--baseline 969d934] [--rounds 2] [--out DIR]

Runs, one after the other on the same machine:

1. ``bench/run.py --baseline REV``, twice: the example as shipped, its ceiling and the server
   settings behind it, and 10 KiB on granian; then 100 MiB on the default standalone server,
   ranges and latency; each candidate interleaved before/after: the "no regression" rows;
2. ``bench/offload.py`` (private media via offload against the in-process path);

then prints the list, each line with its measured value, target and PASS/MISS. The soak (RSS,
not time) is ``bench/soak.py``, run on its own. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Two bench/run.py invocations, so each scenario runs only the subjects it needs (~20 min).
RUNS = (
    ("shipped,servers,small",
     "nginx,ceiling-granian,ceiling-gunicorn,ceiling-shipped,example-shipped,ms-serve,"
     "ms-serve-gunicorn,example-granian,example-gunicorn,ms-asgi-uvicorn,"
     "gthread-2x8-log,gthread-2x8-log-ceiling,gthread-1x8,gthread-1x8-ceiling,gthread-1x32,"
     "granian-2-log,granian-2-log-ceiling,granian-1,granian-1-ceiling"),
    ("large,range,latency",
     "nginx,ms-serve,ms-serve-default,ms-serve-gunicorn,example-granian"),
)  # fmt: skip


def metric(results: dict[str, object], scenario: str, subject: str, key: str) -> float | None:
    for sc in results["scenarios"]:  # type: ignore[attr-defined]  # (both runs' scenarios)
        if sc["name"] != scenario:
            continue
        for row in sc["rows"]:
            if row["subject"] == subject and row.get("tree", "") in ("", "after"):
                value = row["metrics"].get(key)
                return float(value) if value is not None else None
    return None


def line(label: str, value: float | None, op: str, target: float, unit: str = "") -> str:
    if value is None:
        return f"  {label}: not measured"
    ok = value >= target if op == ">=" else value <= target
    return f"  {label}: {value:.3f}{unit} (target {op} {target:g}) {'PASS' if ok else 'MISS'}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", default="969d934", help="git revision for before/after")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("."), help="where the logs and JSON go")
    p.add_argument("--quick", action="store_true", help="smoke-run durations")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"scenarios": [], "summaries": []}
    for index, (scenarios, subjects) in enumerate(RUNS, 1):
        ab_json = args.out / f"must-show-ab{index}.json"
        run = [sys.executable, str(BENCH / "run.py"), "--baseline", args.baseline, "--rounds",
               str(args.rounds), "--only", scenarios, "--subjects", subjects, "--json",
               str(ab_json)]  # fmt: skip
        run += ["--quick"] if args.quick else []
        print(f"$ {' '.join(run)}", flush=True)
        log_path = args.out / f"must-show-ab{index}.txt"
        with log_path.open("w") as log:
            done = subprocess.run(run, stdout=log, stderr=subprocess.STDOUT, check=False)
        print(log_path.read_text(), flush=True)
        if done.returncode != 0:
            return done.returncode
        part = json.loads(ab_json.read_text())
        results["scenarios"] += part["scenarios"]  # type: ignore[operator]
        summary = part["meta"].get("before_after", {}).get("summary", "?")
        results["summaries"].append(f"{scenarios}: {summary}")  # type: ignore[attr-defined]
    offload = [sys.executable, str(BENCH / "offload.py"), "--duration", "2" if args.quick else "6"]
    print(f"$ {' '.join(offload)}", flush=True)
    out = subprocess.run(offload, capture_output=True, text=True, check=False)
    (args.out / "must-show-offload.txt").write_text(out.stdout + out.stderr)
    print(out.stdout + out.stderr)

    m = lambda *k: metric(results, *k)  # noqa: E731
    shipped_cpu = ratio(m("shipped", "ceiling-shipped", "cpu_us"),
                        m("shipped", "example-shipped", "cpu_us"))  # fmt: skip
    serve_req = ratio(m("small", "ms-serve", "req_s"), m("small", "ceiling-granian", "req_s"))
    serve_cpu = ratio(m("small", "ceiling-granian", "cpu_us_req"),
                      m("small", "ms-serve", "cpu_us_req"))  # fmt: skip
    offload_x = re.search(r"10 KiB offload CPU/request: ([\d.]+)x in-process", out.stdout)
    gb = ratio(m("large", "ms-serve-default", "cpu_s_gb"), m("large", "nginx", "cpu_s_gb"))
    gb_granian = ratio(m("large", "ms-serve", "cpu_s_gb"), m("large", "nginx", "cpu_s_gb"))
    image = ratio(m("shipped", "example-shipped", "req_s_product"),
                  m("shipped", "nginx", "req_s_product"))  # fmt: skip
    summary = "; ".join(results["summaries"])  # type: ignore[arg-type]
    print("issue 16, must show:")
    print(line("example as shipped, ceiling CPU/req / example CPU/req", shipped_cpu, ">=", 0.7))
    print(line("mediaserve serve 10 KiB / granian ceiling, req/s", serve_req, ">=", 0.8))
    print(line("mediaserve serve 10 KiB / granian ceiling, CPU/req (inverse)", serve_cpu, ">=",
               0.8))  # fmt: skip
    print(line("offload 10 KiB CPU/req / in-process", float(offload_x[1]) if offload_x else None,
               "<=", 1.3, "x"))  # fmt: skip
    print(line("100 MiB default standalone server / nginx CPU per GB", gb, "<=", 1.3, "x"))
    print(line("  (granian, no sendfile) / nginx CPU per GB", gb_granian, "<=", 1.3, "x"))
    print(line("example product image / nginx req/s", image, ">=", 0.25))
    print(f"  no regression elsewhere (before/after): {summary}")
    print("  soak: bench/soak.py (RSS curve), run separately")
    return 0


def ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


if __name__ == "__main__":
    sys.exit(main())
