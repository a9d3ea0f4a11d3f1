"""``--scan``: every file the site references, each through the whole diagnosis.

Two sources: the FileField/ImageField values of every installed model (what the database
says exists), or the ``image_link`` column of a Meta catalog feed (what Meta is told to
fetch). The summary table lists each target's verdict and the first hop that broke.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from .fetch import FetchOptions, fetch
from .report import Report

__all__ = ["links_in_feed", "names_from_models", "render_table", "run_scan", "urls_from_feed"]

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
    """The media URLs of a catalog feed (CSV or TSV), or why it could not be read."""
    result = fetch(feed_url, options=options)
    final = result.final
    if final is None:
        return [], f"cannot fetch the feed: {result.error}"
    if final.status != 200:
        return [], f"the feed answered {final.status} {final.reason}"
    if final.truncated or final.length > len(final.head):
        return [], "the feed is larger than 512 KiB; scan it in parts"
    return links_in_feed(final.head.decode("utf-8-sig", errors="replace"))


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
    targets: Sequence[str], diagnose: Callable[[str], Report], progress: TextIO | None = None
) -> list[Report]:
    """Diagnose each target; a progress bar goes to ``progress`` (a terminal) when given."""
    reports: list[Report] = []
    total = len(targets)
    for index, target in enumerate(targets, 1):
        if progress is not None:
            width = 30
            done = int(width * (index - 1) / max(total, 1))
            shown = target if len(target) <= 50 else "..." + target[-47:]
            progress.write(f"\r[{'#' * done}{'.' * (width - done)}] {index}/{total} {shown:<50}")
            progress.flush()
        reports.append(diagnose(target))
    if progress is not None:
        progress.write("\r" + " " * 100 + "\r")
        progress.flush()
    return reports


def render_table(reports: Sequence[Report]) -> str:
    """One row per target: verdict, first broken hop, what broke."""
    rows = [("VERDICT", "HOP", "TARGET", "PROBLEM")]
    for report in reports:
        first = report.first("fail") or report.first("warn")
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
    counts = {v: sum(1 for r in reports if r.verdict == v) for v in ("pass", "warn", "fail")}
    lines.append("")
    lines.append(
        f"{len(reports)} checked: {counts['pass']} pass, {counts['warn']} warn, "
        f"{counts['fail']} fail"
    )
    return "\n".join(lines) + "\n"


def stderr_if_tty() -> TextIO | None:
    return sys.stderr if sys.stderr.isatty() else None
