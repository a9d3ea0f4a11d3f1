"""``--scan``: every file the site references, each through the whole diagnosis.

Two sources: the FileField/ImageField values of every installed model (what the database
says exists), or the image links of a Meta catalog feed -- a URL or a file, CSV/TSV (the
``image_link`` and ``additional_image_link`` columns) or XML (RSS 2.0 or Atom with the
``g:`` namespace, as Meta's and Google's feed specs define them): what Meta is told to fetch.

Targets are diagnosed concurrently (``--concurrency N``, 4 by default: each target is a few
requests to the same site, and a crawler-sized burst is what the site will see anyway),
reported in the input order. On a terminal a progress bar counts them on stderr; the table
then lists the targets that did not pass and a summary: how many pass, which hop fails most,
the first five failures with their fixes. ``--json`` adds the same summary to the reports.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from .fetch import FetchOptions, fetch
from .report import EXIT_CODES, Finding, Report, worst

__all__ = [
    "cause_of",
    "feed_links",
    "links_in_feed",
    "links_in_xml_feed",
    "load_feed",
    "names_from_models",
    "render_table",
    "run_scan",
    "scan_json",
    "scan_summary",
    "urls_from_feed",
]

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
#: Failures shown in full under the summary.
FIRST_FAILURES = 5
#: Above this many targets, the table lists only those that did not pass.
ALL_ROWS_UP_TO = 50
FEED_COLUMNS = ("image_link", "additional_image_link", "video_link")


def names_from_models() -> list[str]:
    """Every distinct non-empty FileField value in the database, sorted."""
    from django.apps import apps
    from django.db import models

    names: set[str] = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.FileField):
                values = (
                    model._default_manager.exclude(**{field.name: ""})
                    .exclude(**{f"{field.name}__isnull": True})
                    .values_list(field.name, flat=True)
                    .distinct()
                )
                names.update(str(v) for v in values if v)
    return sorted(names)


def urls_from_feed(feed_url: str, options: FetchOptions) -> tuple[list[str], str | None]:
    """The media URLs of a catalog feed at a URL, or why it could not be read."""
    result = fetch(feed_url, options=options)
    final = result.final
    if final is None:
        return [], f"cannot fetch the feed: {result.error}"
    if final.status != 200:
        return [], f"the feed answered {final.status} {final.reason}"
    if final.truncated or final.length > len(final.head):
        return [], (
            "the feed is larger than 512 KiB: download it (curl -o feed.csv URL) and pass "
            "the file: mediaserve doctor --scan feed.csv"
        )
    return feed_links(final.head.decode("utf-8-sig", errors="replace"))


def load_feed(source: str, options: FetchOptions) -> tuple[list[str], str | None]:
    """The media URLs of the feed ``source``: a local file when one exists at that path,
    else an http(s) URL."""
    path = Path(source)
    if "://" not in source:
        if not path.is_file():
            return [], f"--scan {source}: no such file (give a feed file or an http(s) URL)"
        try:
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
        except OSError as exc:
            return [], f"cannot read the feed {source}: {exc}"
        return feed_links(text)
    if not source.startswith(("http://", "https://")):
        return [], f"--scan {source}: only http(s) feed URLs (or a file) can be read"
    return urls_from_feed(source, options)


def feed_links(text: str) -> tuple[list[str], str | None]:
    """The media URLs of a feed's text, XML or CSV/TSV by its first character."""
    if text.lstrip().startswith("<"):
        return links_in_xml_feed(text)
    return links_in_feed(text)


def links_in_xml_feed(text: str) -> tuple[list[str], str | None]:
    """The ``image_link``/``additional_image_link``/``video_link`` values of an RSS or Atom
    feed (any namespace: ``g:image_link`` is the usual one), in document order."""
    try:
        root = ET.fromstring(text)  # noqa: S314 (expat expands no external entities)
    except ET.ParseError as exc:
        return [], f"the feed is not valid XML: {exc}"
    urls: list[str] = []
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if local in FEED_COLUMNS:
            for value in (element.text or "").split(","):
                value = value.strip()
                if value and value not in urls:
                    urls.append(value)
    if not urls:
        return [], "the XML feed has no image_link element (g:image_link in each item)"
    return urls, None


def links_in_feed(text: str) -> tuple[list[str], str | None]:
    """The media URLs in a feed's text (CSV or TSV, the first row naming the columns)."""
    dialect = "excel-tab" if "\t" in text.split("\n", 1)[0] else "excel"
    rows = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = [c for c in FEED_COLUMNS if c in (rows.fieldnames or [])]
    if not columns:
        return (
            [],
            f"the feed has no image_link column (columns: {', '.join(rows.fieldnames or [])})",
        )
    urls: list[str] = []
    for row in rows:
        for column in columns:
            for value in (row.get(column) or "").split(","):
                value = value.strip()
                if value and value not in urls:
                    urls.append(value)
    return urls, None


def run_scan(
    targets: Sequence[str],
    diagnose: Callable[[str], Report],
    progress: TextIO | None = None,
    *,
    concurrency: int = 1,
) -> list[Report]:
    """Diagnose each target, ``concurrency`` at a time, in the targets' order; a progress
    bar goes to ``progress`` (a terminal) when given. A target whose diagnosis raises gets
    a report with that failure instead of ending the scan."""
    total = len(targets)
    reports: list[Report | None] = [None] * total
    lock = threading.Lock()
    done = 0
    failed = 0

    def one(index: int) -> None:
        nonlocal done, failed
        target = targets[index]
        try:
            report = diagnose(target)
        except Exception as exc:  # one broken target must not end a scan of thousands
            from .report import Finding

            report = Report(target=target)
            report.add(
                [Finding("input", "fail", f"the doctor failed: {type(exc).__name__}: {exc}")]
            )
        with lock:
            reports[index] = report
            done += 1
            failed += report.verdict == "fail"
            if progress is not None:
                _bar(progress, done, total, failed, target)

    workers = max(1, min(concurrency, MAX_CONCURRENCY, total or 1))
    if workers == 1:
        for index in range(total):
            one(index)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="doctor-scan") as pool:
            list(pool.map(one, range(total)))
    if progress is not None:
        progress.write("\r" + " " * 100 + "\r")
        progress.flush()
    return [r for r in reports if r is not None]


def _bar(stream: TextIO, done: int, total: int, failed: int, target: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    shown = target if len(target) <= 40 else "..." + target[-37:]
    fails = f" ({failed} failed)" if failed else " " * 12
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {shown:<40}{fails}")
    stream.flush()


def cause_of(report: Report) -> Finding | None:
    """The failure to fix first: the report's causal failure when its model names one
    (``Report.cause()``: a loopback URL fails at ``url`` first, the cause is elsewhere),
    else the first failing hop in order."""
    cause = getattr(report, "cause", None)
    if callable(cause):
        found = cause()
        if isinstance(found, Finding) and found.verdict == "fail":
            return found
    return report.first("fail")


def scan_summary(reports: Sequence[Report]) -> dict[str, Any]:
    """Counts, the hops that fail most (the broken hop to fix first, per target), and the
    first failures with their fixes."""
    counts = {v: sum(1 for r in reports if r.verdict == v) for v in ("pass", "warn", "fail")}
    first_hops: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    for report in reports:
        first = cause_of(report)
        if first is None:
            continue
        first_hops[first.hop] += 1
        if len(failures) < FIRST_FAILURES:
            failures.append(
                {"target": report.target, "hop": first.hop, "summary": first.summary,
                 "fix": first.fix}
            )  # fmt: skip
    return {
        "checked": len(reports),
        "counts": counts,
        "failing_hops": dict(first_hops.most_common()),
        "first_failures": failures,
    }


def scan_json(reports: Sequence[Report], *, elapsed: float | None = None) -> str:
    """The scan as JSON: overall verdict and exit code, the summary, every report."""
    overall = worst(r.verdict for r in reports)
    summary = scan_summary(reports)
    if elapsed is not None:
        summary["seconds"] = round(elapsed, 2)
    data = {
        "verdict": overall,
        "exit_code": EXIT_CODES[overall],
        "counts": summary["counts"],
        "summary": summary,
        "reports": [r.to_dict() for r in reports],
    }
    return json.dumps(data, indent=2) + "\n"


def render_table(reports: Sequence[Report]) -> str:
    """One row per target: verdict, first broken hop, what broke."""
    rows = [("VERDICT", "HOP", "TARGET", "PROBLEM")]
    listed = reports
    if len(reports) > ALL_ROWS_UP_TO:
        listed = [r for r in reports if r.verdict != "pass"]
    for report in listed:
        first = cause_of(report) or report.first("warn")
        rows.append(
            (
                report.verdict.upper(),
                first.hop if first else "-",
                report.target,
                first.summary if first else "every hop passed",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
    summary = scan_summary(reports)
    counts = summary["counts"]
    if len(listed) < len(reports):
        lines.append(f"({len(reports) - len(listed)} passing targets not listed; --json has them)")
    if summary["failing_hops"]:
        lines.append("")
        lines.append("Failing hops (the hop to fix first, per target):")
        hop_width = max(len(h) for h in summary["failing_hops"])
        for hop, number in summary["failing_hops"].items():
            lines.append(f"  {hop:<{hop_width}}  {number}")
        lines.append("")
        shown = summary["first_failures"]
        lines.append(f"First {len(shown)} failure(s):")
        for number, failure in enumerate(shown, 1):
            lines.append(f"  {number}. {failure['target']}")
            lines.append(f"     {failure['hop']}: {failure['summary']}")
            if failure["fix"]:
                lines.extend("     fix: " * (i == 0) + "          " * (i > 0) + line
                             for i, line in enumerate(failure["fix"].splitlines()))  # fmt: skip
    lines.append("")
    lines.append(
        f"{len(reports)} checked: {counts['pass']} pass, {counts['warn']} warn, "
        f"{counts['fail']} fail"
    )
    return "\n".join(lines) + "\n"


def stderr_if_tty() -> TextIO | None:
    return sys.stderr if sys.stderr.isatty() else None
