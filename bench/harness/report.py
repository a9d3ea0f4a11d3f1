"""Text tables and JSON for scenario results."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path

from harness.scenarios import Row, ScenarioResult

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
        [r.label, r.role, *(_fmt(r.metrics.get(c.key), c.digits) for c in res.columns), _status(r)]
        for r in res.rows
    ]
    out += _table(header, body, right=set(range(2, 2 + len(res.columns))))
    if res.ratios:
        out.append("")
        ratio_rows = [
            [q.label, _fmt(q.value, 3), q.target, q.verdict, q.detail] for q in res.ratios
        ]
        out += _table(["ratio", "value", "target", "result", ""], ratio_rows, right={1})
    details = [r for r in res.rows if r.status != "ok" and "\n" in r.status]
    for r in details:
        out += ["", f"{r.subject}: {r.status}"]
    out += ["", "commands:"]
    for r in res.rows:
        for cmd in r.commands:
            out.append(f"  [{r.subject}] {cmd}")
    return "\n".join(out) + "\n"


def verdict_summary(results: Sequence[ScenarioResult]) -> str:
    counts: dict[str, int] = {}
    for res in results:
        for q in res.ratios:
            counts[q.verdict] = counts.get(q.verdict, 0) + 1
    order = ("PASS", "MISS", "n/a", "info")
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in order)


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
