#!/usr/bin/env python3
"""mediaserve benchmarks against nginx, Django's static serve, WhiteNoise and the bare server.

    python bench/run.py [--quick] [--only NAME[,NAME]] [--json out.json]
    python bench/run.py --baseline REV [--rounds N] ...   # REV's package vs the working tree

Starts every server itself on free 127.0.0.1 ports (pinned to core 0, wrk/curl to core 1),
creates the files in a world-readable temporary directory, prints per scenario the commands,
raw numbers, ratios measured in the same run, targets and PASS/MISS, and removes everything
it started or created on exit. Not part of the test suite. See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from harness import baseline, procs
from harness.fixtures import MediaDir
from harness.report import comparison_summary, format_scenario, verdict_summary, write_json
from harness.scenarios import (
    BY_NAME,
    FULL,
    QUICK,
    SCENARIOS,
    ABPlan,
    ScenarioResult,
    run_scenario,
)
from harness.servers import ExampleConfig, RunContext
from harness.subjects import BY_KEY, SUBJECTS, environment_summary

REPO = Path(__file__).resolve().parent.parent


def names(kind: str, valid: Mapping[str, object]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [t for t in items if t not in valid]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(unknown)} (choose from {', '.join(valid)})"
            )
        return items

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short durations, for smoke-checking")
    p.add_argument(
        "--only",
        type=names("scenario", BY_NAME),
        metavar="NAME[,NAME]",
        help=f"scenarios to run: {', '.join(BY_NAME)} (default: all)",
    )
    p.add_argument(
        "--subjects",
        type=names("subject", BY_KEY),
        metavar="KEY[,KEY]",
        help=f"subjects to run: {', '.join(BY_KEY)} (default: all)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--list", action="store_true", help="list scenarios and subjects, then exit")
    ab = p.add_argument_group("before/after (see bench/README.md)")
    ab.add_argument(
        "--baseline",
        metavar="REV",
        help="also run every candidate on REV's src/ and example/ (git archive), interleaved "
        "with the working tree's, and compare after/before",
    )
    ab.add_argument(
        "--rounds",
        type=positive_int,
        default=3,
        help="with --baseline: windows per side and candidate (default 3)",
    )
    ab.add_argument(
        "--floor",
        type=floor_value,
        default=0.95,
        help="with --baseline: after/before must be >= FLOOR (<= 1/FLOOR for CPU per request "
        "or per GB and latency; default 0.95)",
    )
    ex = p.add_argument_group("example Django project (a candidate)")
    ex.add_argument(
        "--example-dir",
        type=Path,
        default=Path(os.environ.get("BENCH_EXAMPLE_DIR", REPO / "example")),
        help="working directory of the example project (default: example/)",
    )
    ex.add_argument(
        "--example-wsgi",
        default=os.environ.get("BENCH_EXAMPLE_WSGI", "shop.wsgi:application"),
        help="its WSGI entry point, module:attribute (default: shop.wsgi:application)",
    )
    ex.add_argument(
        "--example-media-subdir",
        default="",
        metavar="DIR",
        help="sub-folder of MEDIA_ROOT/MEDIA_URL that is public (default: none)",
    )
    ex.add_argument(
        "--example-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the example project (repeatable)",
    )
    tune = p.add_argument_group("tuning (defaults are documented in bench/README.md)")
    tune.add_argument("--gunicorn-worker", choices=("gthread", "sync"), default="gthread")
    tune.add_argument("--gunicorn-threads", type=int, default=16)
    tune.add_argument(
        "--download-rate",
        default="50M",
        help="curl --limit-rate of each long download; 0 = unlimited (default 50M)",
    )
    tune.add_argument("--tmpdir", type=Path, help="parent of the temporary media directory")
    tune.add_argument("--keep-logs", action="store_true", help="keep server logs and configs")
    return p.parse_args(argv)  # fmt: skip


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def floor_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def preflight(ctx_cpus: int) -> list[str]:
    """Missing system tools, as messages (the Python servers are checked per subject)."""
    problems = [f"{tool} is not installed" for tool in ("taskset", "wrk", "curl")
                if shutil.which(tool) is None]  # fmt: skip
    if ctx_cpus < 2:
        problems.append("needs at least 2 CPUs: core 0 for servers, core 1 for load generators")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for sc in SCENARIOS:
            print(f"scenario {sc.name:8} {sc.title}")
        for su in SUBJECTS:
            print(f"subject  {su.key:18} {su.role:9} {su.label}")
        return 0
    problems = preflight(os.cpu_count() or 1)
    if problems:
        print("bench: cannot run:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    env_pairs = [e.partition("=") for e in args.example_env]
    if any(not sep or not key for key, sep, _ in env_pairs):
        print("bench: --example-env takes KEY=VALUE", file=sys.stderr)
        return 2

    procs.install_cleanup()
    durations = QUICK if args.quick else FULL
    scenarios = [BY_NAME[n] for n in args.only] if args.only else list(SCENARIOS)
    subjects = [BY_KEY[k] for k in args.subjects] if args.subjects else list(SUBJECTS)
    workdir = Path(tempfile.mkdtemp(prefix="mediaserve-bench-run-"))
    media: MediaDir | None = None
    base: baseline.Tree | None = None
    results: list[ScenarioResult] = []
    keep = args.keep_logs
    try:
        if args.baseline:
            base = baseline.export(REPO, args.baseline, args.tmpdir)
        media = MediaDir.create(args.tmpdir)
        ctx = RunContext(
            repo=REPO,
            venv_bin=Path(sys.executable).parent,
            workdir=workdir,
            media=media,
            example=ExampleConfig(
                directory=args.example_dir.resolve(),
                wsgi=args.example_wsgi,
                media_subdir=args.example_media_subdir,
                env={k: v for k, _, v in env_pairs},
            ),
            gunicorn_worker=args.gunicorn_worker,
            gunicorn_threads=args.gunicorn_threads,
            download_rate=None if args.download_rate in ("", "0") else args.download_rate,
        )
        plan = ab_plan(ctx, base, args) if base is not None else None
        meta: dict[str, object] = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": sys.argv,
            "quick": args.quick,
            "durations_s": durations.__dict__,
            "server_core": ctx.server_core,
            "client_core": ctx.client_core,
            "gunicorn": f"{ctx.gunicorn_worker} worker, 1 process"
            + (f", {ctx.gunicorn_threads} threads" if ctx.gunicorn_worker == "gthread" else ""),
            "download_rate": ctx.download_rate or "unlimited",
            "media_dir": str(media.root),
            "versions": environment_summary(ctx),
        }
        if plan is not None and base is not None:
            after = baseline.working_tree(REPO)
            meta["before_after"] = {
                "before": {**dataclasses.asdict(base), "root": str(base.root),
                           "mediaserve": environment_summary(plan.before).get("mediaserve")},
                "after": {**dataclasses.asdict(after), "root": str(after.root)},
                "rounds": plan.rounds,
                "floor": plan.floor,
            }  # fmt: skip
        print(_header(meta), flush=True)
        for scenario in scenarios:
            res = run_scenario(ctx, scenario, durations, subjects, progress=_progress, ab=plan)
            results.append(res)
            keep = keep or any(r.status.startswith("error") for r in res.rows)
            print(format_scenario(res), flush=True)
        print(f"summary: {verdict_summary(results)}")
        if plan is not None:
            summary = comparison_summary(results)
            print(f"before/after: {summary}")
            ab_meta = meta["before_after"]
            assert isinstance(ab_meta, dict)
            ab_meta["summary"] = summary
        if args.json:
            write_json(args.json, meta, results)
            print(f"json: {args.json}")
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except procs.HarnessError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        keep = True
        return 1
    finally:
        procs.stop_all()
        if media is not None:
            media.cleanup()
        if base is not None:
            baseline.remove(base)
        if keep:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def ab_plan(ctx: RunContext, base: baseline.Tree, args: argparse.Namespace) -> ABPlan:
    """The two sides: the baseline export's src/ (and its example/, when the example is the
    repository's own) against the working tree's."""
    example = ctx.example
    own_example = example.directory == (REPO / "example").resolve()
    if own_example and (base.root / "example").is_dir():
        example = dataclasses.replace(example, directory=base.root / "example")
    before = dataclasses.replace(ctx, tree=base.root, example=example)
    return ABPlan(before, ctx, args.rounds, args.floor)


def _header(meta: dict[str, object]) -> str:
    versions = meta["versions"]
    assert isinstance(versions, dict)
    lines = ["mediaserve benchmarks" + (" (--quick)" if meta["quick"] else "")]
    lines.append("  " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    lines.append(
        f"  servers pinned to core {meta['server_core']}, load generators to core "
        f"{meta['client_core']}; every server runs 1 worker; gunicorn: {meta['gunicorn']}; "
        f"long downloads limited to {meta['download_rate']} each"
    )
    ab = meta.get("before_after")
    if isinstance(ab, dict):
        before, after = ab["before"], ab["after"]
        lines.append(
            f'  before: {before["revision"]} {before["commit"][:12]} "{before["subject"]}" '
            f"from {before['root']}/src; after: the working tree at {after['commit'][:12]}"
            f"{' with uncommitted changes' if after['commit'].endswith('+changes') else ''} "
            f"from {after['root']}/src"
        )
        lines.append(
            f"  candidates run under both, {ab['rounds']} interleaved window(s) each "
            f"(before, after, before, after...); anchors once; floor {ab['floor']:g}"
        )
    return "\n".join(lines) + "\n"


def _progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
