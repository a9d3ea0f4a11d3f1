"""Text tables and JSON for scenario results."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from harness.scenarios import Comparison, Row, ScenarioResult

STATUS_WIDTH = 60


def _fmt(value: float | None, digits: int) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _table(header: Sequence[str], body: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in body)]


def _status(row: Row) -> str:
    first = row.status.splitlines()[0]
    if row.status == "ok":
        first = "; ".join(row.notes) if row.notes else "ok"
    return first if len(first) <= STATUS_WIDTH else first[: STATUS_WIDTH - 3] + "..."


def format_scenario(res: ScenarioResult) -> str:
    out = [f"== {res.name}: {res.title} ({res.seconds:.0f} s)", f"load: {res.load}", ""]
    header = ["subject", "role", *(c.header for c in res.columns), "status"]
    body = [
        [_label(r), r.role, *(_fmt(r.metrics.get(c.key), c.digits) for c in res.columns),
         _status(r)]
        for r in res.rows
    ]  # fmt: skip
    out += _table(header, body, right=set(range(2, 2 + len(res.columns))))
    if res.comparisons:
        out += ["", *format_comparisons(res.comparisons)]
    if res.ratios:
        out.append("")
        ratio_rows = [
            [q.label, _fmt(q.value, 3), q.target, q.verdict, q.detail] for q in res.ratios
        ]
        out += _table(["ratio", "value", "target", "result", ""], ratio_rows, right={1})
    details = [r for r in res.rows if r.status != "ok" and "\n" in r.status]
    for r in details:
        out += ["", f"{_key(r)}: {r.status}"]
    imported = [r for r in res.rows if r.imports]
    if imported:
        out += ["", "imported (announced by each server, checked against its tree):"]
        for r in imported:
            out += [f"  [{_key(r)}] {m} from {f}" for m, f in r.imports.items()]
    out += ["", "commands:"]
    for r in res.rows:
        for cmd in r.commands:
            out.append(f"  [{_key(r)}] {cmd}")
    return "\n".join(out) + "\n"


def _label(row: Row) -> str:
    return f"{row.label} [{row.tree}]" if row.tree else row.label


def _key(row: Row) -> str:
    return f"{row.subject} {row.tree}" if row.tree else row.subject


def _spread(values: Sequence[float]) -> str:
    """The widest window's distance from the median, in % of the median."""
    if len(values) < 2:
        return "-"
    mid = statistics.median(values)
    if not mid:
        return "-"
    return f"±{100 * max(abs(v - mid) for v in values) / abs(mid):.1f}%"


def format_comparisons(comparisons: Sequence[Comparison]) -> list[str]:
    """The before/after table: medians, after/before, the floor and PASS/MISS."""
    windows = max((len(c.before_windows) for c in comparisons), default=0)
    out = [f"before/after (median of {windows} interleaved window(s) each; spread = widest "
           "window from the median):"]  # fmt: skip
    body = [
        [c.label, c.header, _fmt(c.before, c.digits), _fmt(c.after, c.digits), _fmt(c.ratio, 3),
         c.target, c.verdict, f"{_spread(c.before_windows)} / {_spread(c.after_windows)}",
         c.detail]
        for c in comparisons
    ]  # fmt: skip
    header = ["subject", "metric", "before", "after", "after/before", "target", "result",
              "spread before / after", ""]  # fmt: skip
    return out + _table(header, body, right={2, 3, 4})


def verdict_summary(results: Sequence[ScenarioResult]) -> str:
    counts: dict[str, int] = {}
    for res in results:
        for q in res.ratios:
            counts[q.verdict] = counts.get(q.verdict, 0) + 1
    order = ("PASS", "MISS", "n/a", "info")
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in order)


def comparison_summary(results: Sequence[ScenarioResult]) -> str:
    """PASS/MISS counts of the before/after comparisons, then each MISS by name."""
    counts: dict[str, int] = {}
    misses = []
    for res in results:
        for c in res.comparisons:
            counts[c.verdict] = counts.get(c.verdict, 0) + 1
            if c.verdict == "MISS":
                misses.append(f"{res.name}/{c.subject}/{c.metric} {_fmt(c.ratio, 3)}")
    order = ("PASS", "MISS", "n/a", "info")
    line = ", ".join(f"{counts.get(k, 0)} {k}" for k in order)
    return line + (f" (MISS: {'; '.join(misses)})" if misses else "")


def write_json(path: Path, meta: dict[str, object], results: Sequence[ScenarioResult]) -> None:
    doc = {"meta": meta, "scenarios": [dataclasses.asdict(r) for r in results]}
    path.write_text(json.dumps(_finite(doc), indent=2, allow_nan=False) + "\n")


def _finite(obj: object) -> object:
    """NaN/inf become null so the file stays valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
