"""``mediaserve health``: the recent failed fetches by Meta and WhatsApp, from the record the
Django project keeps in its cache (``manage.py mediaserve health``, or ``--settings``).

A table on a terminal, ``--json`` for scripts; the exit code is 0 when the record is empty,
1 when it holds failures (a cron job can alert on it), 2 when it cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

from .argtypes import positive

__all__ = ["add_parser", "run"]

WATCHED = ("meta_crawler", "meta_preview", "whatsapp")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "health",
        help="recent failed fetches by Meta and WhatsApp (from the Django cache)",
        description="The last failed fetches by Meta's crawlers and WhatsApp recorded by the"
        " Django project (MEDIASERVE['HEALTH_RECORD']), newest first. Run it as"
        " `manage.py mediaserve health`, or give --settings.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--consumer", choices=WATCHED, help="only this consumer family")
    parser.add_argument("--limit", type=positive, default=50, help="rows at most (default 50)")
    parser.add_argument("--settings", help="DJANGO_SETTINGS_MODULE, when not run by manage.py")
    parser.add_argument(
        "--pythonpath", action="append", default=[], help="a folder to import the project from"
    )
    parser.set_defaults(handler=run)


def _setup(args: argparse.Namespace) -> str | None:
    """Set Django up; the problem as one line, or None."""
    for folder in reversed(args.pythonpath):
        sys.path.insert(0, os.path.abspath(folder))
    if args.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    try:
        import django
        from django.apps import apps
    except ImportError:
        return "Django is not installed: the record lives in a Django project's cache"
    if apps.ready:
        return None
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return (
            "no Django settings: run `manage.py mediaserve health`, or pass --settings"
            " myproject.settings (and --pythonpath if needed)"
        )
    try:
        django.setup()
    except Exception as exc:
        return f"cannot load the Django settings: {type(exc).__name__}: {exc}"
    return None


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    else:
        print(f"mediaserve health: {message}", file=sys.stderr)
    return 2


def _when(entry: dict[str, Any]) -> str:
    return datetime.fromtimestamp(float(entry.get("time", 0)), timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


def _table(entries: list[dict[str, Any]]) -> str:
    header = ("time (UTC)", "consumer", "status", "reason", "path")
    rows = [
        (_when(e), str(e.get("consumer", "")), str(e.get("status", "")),
         str(e.get("reason") or e.get("outcome", "")), str(e.get("path", "")))
        for e in entries
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    problem = None if args.django_configured else _setup(args)
    if problem:
        return _fail(problem, args.json)
    from ..django.conf import SettingsError
    from ..django.observability import health_record

    try:
        record = health_record()
    except SettingsError as exc:
        return _fail(str(exc), args.json)
    if record is None:
        return _fail("the record is off: MEDIASERVE['HEALTH_RECORD'] is 0", args.json)
    try:
        entries = record.recent(args.consumer)[: args.limit]
    except Exception as exc:
        return _fail(f"cannot read cache {record.alias!r}: {type(exc).__name__}: {exc}", args.json)
    if args.json:
        sys.stdout.write(json.dumps({"failures": entries, "kept": record.size}, indent=2) + "\n")
    elif entries:
        sys.stdout.write(_table(entries))
    else:
        print("No failed fetches by Meta or WhatsApp recorded.")
    return 1 if entries else 0
