"""Renditions benchmark: build time and peak RSS per rendition, mediaserve against the Django
thumbnail libraries, on the same 12 MP phone photo in the same run.

    python -m bench.renditions                      # 5 rounds, every subject (~3 min quiet)
    python -m bench.renditions --quick              # smoke: 1 round, every subject
    python -m bench.renditions --subjects mediaserve,sorl-thumbnail --rounds 9 --json out.json
    python -m bench.renditions --source heic        # another corpus item as the source

Each build runs in a fresh child process (:mod:`bench.renditions.child`) on its own media root
and SQLite file, pinned to core 0 when ``taskset`` exists: every measured build is a first
build of its source (nothing cached), and import and set-up time is not build time. Before it,
each child builds another photo to the same target (not measured; ``--cold`` skips it), so
one-time costs (Pillow's plugin registration, an encoder's first use) are not charged to the
build, as they are not in a server that builds many. Rounds interleave the subjects (a
different order each round) so a burst of other load hits every subject alike. Every output
is decoded and checked (size, orientation, colour after ICC) before its number counts: a
library that wrote nothing, or the wrong picture, is an error row, not a fast one.

Memory: the peak RSS of the measured build (``VmHWM``, reset after the warm-up) and that peak
above the idle process (set-up done, nothing built), which is what the goal ratio uses: the
interpreter, Django and the library are resident in every row and in every real server.

The serving half (``--serve``, on by default) serves a built rendition and a plain media file of
the same size through ``mediaserve serve`` and compares requests per second with ``wrk``.
See bench/README.md and docs/benchmarks.md ("Renditions").
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.renditions.capabilities import load_corpus_module
from bench.renditions.subjects import SUBJECTS, TARGETS, Target

REPO = Path(__file__).resolve().parents[2]

#: Every subject but mediaserve-pyvips, which needs ``RENDITION_ENGINE = "pyvips"`` support in
#: the engine (ask for it with --subjects ...,mediaserve-pyvips).
DEFAULT_SUBJECTS = [key for key in SUBJECTS if key != "mediaserve-pyvips"]

#: The issue's goal for mediaserve against the best competitor (issue 12, "bench/").
GOAL_SPEEDUP = 2.0
GOAL_MEMORY = 0.5


@dataclass
class Sample:
    seconds: float
    peak_kb: int
    rss_before_kb: int
    output: Path

    @property
    def growth_kb(self) -> int:
        """The build's peak above the idle process (set-up done, nothing built yet)."""
        return self.peak_kb - self.rss_before_kb


@dataclass
class Row:
    subject: str
    target: str
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    verdict: str = ""  # what the decoded output showed ("ok" or the problem)
    out_bytes: int = 0

    def median(self, attr: str) -> float:
        return statistics.median(float(getattr(s, attr)) for s in self.samples)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, short serve run")
    p.add_argument("--rounds", type=int, default=5, help="builds per subject and target")
    p.add_argument(
        "--subjects",
        default=",".join(DEFAULT_SUBJECTS),
        help=f"comma-separated, from: {', '.join(SUBJECTS)}",
    )
    p.add_argument("--targets", default=",".join(TARGETS), help=f"from: {', '.join(TARGETS)}")
    p.add_argument("--source", default="photo", help="corpus item to build from (default photo)")
    p.add_argument("--no-serve", action="store_true", help="skip the serving comparison")
    p.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up build: measure the first build of a fresh process",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--tmpdir", type=Path, help="parent of the temporary directory")
    args = p.parse_args(argv)
    args.subject_list = [s.strip() for s in args.subjects.split(",") if s.strip()]
    args.target_list = [t.strip() for t in args.targets.split(",") if t.strip()]
    for key in args.subject_list:
        if key not in SUBJECTS:
            p.error(f"unknown subject {key!r}: choose from {', '.join(SUBJECTS)}")
    for key in args.target_list:
        if key not in TARGETS:
            p.error(f"unknown target {key!r}: choose from {', '.join(TARGETS)}")
    if args.quick:
        args.rounds = 1
    return args


def pin(argv: list[str]) -> list[str]:
    """Pin to core 0 (the load generator, when there is one, gets core 1)."""
    return ["taskset", "-c", "0", *argv] if shutil.which("taskset") else argv


def run_child(
    subject: str, target: str, source: Path, work: Path, warmup: Path | None = None
) -> Sample:
    """One build in a fresh process, on a fresh media root holding only the source (and the
    warm-up source, built first and not measured)."""
    media = work / "media"
    media.mkdir(parents=True)
    name = "photos/" + source.name
    (media / "photos").mkdir()
    shutil.copyfile(source, media / name)
    names = [name]
    if warmup is not None:
        names.append("photos/warmup-" + warmup.name)
        shutil.copyfile(warmup, media / names[1])
    env = dict(
        os.environ,
        RBENCH_MEDIA_ROOT=str(media),
        RBENCH_DB=str(work / "db.sqlite3"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
    )
    argv = pin([sys.executable, "-m", "bench.renditions.child", subject, target, *names])
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"exit {done.returncode}: {tail}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(
        result["seconds"], result["peak_kb"], result["rss_before_kb"], Path(result["output"])
    )


def verify(output: Path, target: Target, item: Any, corpus_mod: Any) -> str:
    """Decode the output: it must exist, be the target format and size, and look right."""
    from PIL import Image

    if not output.is_file():
        return "no output file"
    with Image.open(io.BytesIO(output.read_bytes())) as im:
        im.load()
        problems = []
        if im.format != target.pil_format:
            problems.append(f"format {im.format}")
        w, h = item.display_size
        scale = min(target.box / w, target.box / h, 1.0)
        want = (round(w * scale), round(h * scale))
        if abs(im.width - want[0]) > 1 or abs(im.height - want[1]) > 1:
            problems.append(f"size {im.width}x{im.height}, want {want[0]}x{want[1]}")
        if item.mark_top_left is not None and not problems:
            got = im.convert("RGB").getpixel((3, 3))
            if corpus_mod.max_channel_distance(got, item.mark_top_left) <= 14 and (
                item.icc_profile is not None
            ):
                problems.append("ICC profile ignored (colours shifted)")
            elif corpus_mod.max_channel_distance(got, item.expected_srgb(item.mark_top_left)) > 14:
                problems.append(f"top-left {got}: orientation wrong")
        if im.getexif().get(0x8825):
            problems.append("GPS kept")
    return "ok" if not problems else "; ".join(problems)


def measure(args: argparse.Namespace, tmp: Path) -> tuple[dict[tuple[str, str], Row], Any]:
    corpus_mod = load_corpus_module()
    corpus = corpus_mod.build_corpus(tmp / "corpus")
    item = getattr(corpus, args.source, None)
    if item is None:
        sys.exit(f"--source {args.source}: not in the corpus (or its encoder is missing)")
    # The warm-up source: another phone photo (3 MP JPEG, Display P3, Orientation 8), so the
    # decoder, ICC code and encoder paths are all exercised once before the measured build.
    warmup = None if args.cold else corpus.photo_p3.path
    rows = {(s, t): Row(s, t) for t in args.target_list for s in args.subject_list}
    n = 0
    for round_no in range(args.rounds):
        order = args.subject_list[round_no % len(args.subject_list) :]
        order += args.subject_list[: round_no % len(args.subject_list)]
        for target in args.target_list:
            for subject in order:
                row = rows[(subject, target)]
                if row.error:
                    continue
                n += 1
                work = tmp / f"build-{n}"
                try:
                    sample = run_child(subject, target, item.path, work, warmup)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    row.error = str(exc)
                    print(f"  {subject} {target}: ERROR {exc}", file=sys.stderr)
                    continue
                verdict = verify(sample.output, TARGETS[target], item, corpus_mod)
                if not row.verdict or verdict != "ok":
                    row.verdict = verdict
                if sample.output.is_file():
                    row.out_bytes = sample.output.stat().st_size
                row.samples.append(sample)
                print(
                    f"  round {round_no + 1} {target:<10} {subject:<18}"
                    f" {sample.seconds * 1000:7.0f} ms"
                    f"  peak {sample.peak_kb / 1024:6.1f} MB  (+{sample.growth_kb / 1024:.1f})"
                    f"  {verdict}",
                    file=sys.stderr,
                )
                shutil.rmtree(work, ignore_errors=True)
    return rows, item


def report(rows: dict[tuple[str, str], Row], args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    for target in args.target_list:
        lines.append(
            f"\n### {target} ({TARGETS[target].box} px box, quality {TARGETS[target].quality})"
        )
        lines.append("")
        lines.append(
            "| subject | kind | build ms (median) | peak RSS MB | peak above idle MB"
            " | out KB | output |"
        )
        lines.append("|---|---|---:|---:|---:|---:|---|")
        competitors = []
        for subject in args.subject_list:
            row = rows[(subject, target)]
            kind = SUBJECTS[subject].kind
            if row.error or not row.samples:
                lines.append(f"| {subject} | {kind} | error | | | | {row.error} |")
                continue
            lines.append(
                f"| {subject} | {kind} | {row.median('seconds') * 1000:.0f} | "
                f"{row.median('peak_kb') / 1024:.1f} | {row.median('growth_kb') / 1024:.1f} | "
                f"{row.out_bytes / 1024:.0f} | {row.verdict} |"
            )
            if kind == "competitor":
                competitors.append(row)
        if not competitors:
            continue
        best_time = min(competitors, key=lambda r: r.median("seconds"))
        best_mem = min(competitors, key=lambda r: r.median("growth_kb"))
        lines.append("")
        for subject in args.subject_list:
            row = rows[(subject, target)]
            if SUBJECTS[subject].kind == "competitor" or row.error or not row.samples:
                continue
            speedup = best_time.median("seconds") / row.median("seconds")
            memory = row.median("growth_kb") / max(1.0, best_mem.median("growth_kb"))
            ok_t = "PASS" if speedup >= GOAL_SPEEDUP else "MISS"
            ok_m = "PASS" if memory <= GOAL_MEMORY else "MISS"
            lines.append(
                f"- {subject}: {speedup:.2f}x faster than {best_time.subject} (goal ≥ "
                f"{GOAL_SPEEDUP:g}x: {ok_t}); peak above idle {memory:.2f}x {best_mem.subject}'s "
                f"(goal ≤ {GOAL_MEMORY:g}x: {ok_m})"
            )
    return lines


def environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    info = {"python": platform.python_version(), "machine": platform.machine()}
    for dist in (
        "mediaserve",
        "Pillow",
        "pillow-heif",
        "pyvips",
        "pyvips-binary",
        "Django",
        "sorl-thumbnail",
        "easy-thumbnails",
        "django-imagekit",
    ):
        try:
            info[dist] = version(dist)
        except PackageNotFoundError:
            info[dist] = "not installed"
    info["cpus"] = str(os.cpu_count())
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment()
    print("renditions bench: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    shown = argv if argv is not None else sys.argv[1:]
    print(f"command: python -m bench.renditions {' '.join(shown)}")
    tmp = Path(tempfile.mkdtemp(prefix="rbench-", dir=args.tmpdir))
    try:
        rows, item = measure(args, tmp)
        print(
            f"\nsource: corpus item {item.name!r}, {item.size_bytes / 1e6:.1f} MB, "
            f"{item.display_size[0]}x{item.display_size[1]} displayed; {args.rounds} round(s)"
        )
        lines = report(rows, args)
        serve_lines: list[str] = []
        serve_json: dict[str, Any] = {}
        if not args.no_serve:
            from bench.renditions.serve import compare_serving

            serve_lines, serve_json = compare_serving(item.path, tmp / "serve", quick=args.quick)
        print("\n".join(lines + serve_lines))
        if args.json:
            data = {
                "environment": env,
                "rounds": args.rounds,
                "source": item.name,
                "builds": [
                    {
                        "subject": r.subject,
                        "target": r.target,
                        "error": r.error,
                        "verdict": r.verdict,
                        "out_bytes": r.out_bytes,
                        "samples": [
                            {
                                "seconds": s.seconds,
                                "peak_kb": s.peak_kb,
                                "rss_before_kb": s.rss_before_kb,
                            }
                            for s in r.samples
                        ],
                    }
                    for r in rows.values()
                ],
                "serve": serve_json,
            }
            args.json.write_text(json.dumps(data, indent=2))
        failed = [r for r in rows.values() if r.error or not r.samples]
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
