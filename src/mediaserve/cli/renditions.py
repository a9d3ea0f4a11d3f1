"""``mediaserve renditions build|clean``: renditions made (or removed) off the request path.

``build`` makes every declared preset's renditions of every image in MEDIA_ROOT (or the
bucket), or of the names given; ``--missing`` skips those already there (they are
content-addressed, so one that exists is the right one). ``clean`` removes renditions no
longer reachable: their source is gone or changed, or their preset was withdrawn or edited
(every URL a template prints today is kept). Both run under the project's Django settings
(``manage.py mediaserve renditions ...``, or ``--settings``), show a progress bar on a
terminal and end with a summary; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["add_parser"]

#: What is considered an image source when no names are given (by extension: reading
#: every file's first bytes to find out would cost a bucket one GET per object).
IMAGE_EXTENSIONS = frozenset(
    {"jpg", "jpeg", "png", "webp", "avif", "gif", "heic", "heif", "tif", "tiff", "bmp"}
)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "renditions",
        help="build or clean image renditions (Meta catalog, WhatsApp, thumbnails)",
        description="Build the declared renditions of media images, or remove stale ones "
        "(see docs/renditions.md). Runs with the project's Django settings.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    helps = {
        "build": "build renditions (every declared preset of every image, or those named)",
        "clean": "remove renditions of changed or deleted photos and withdrawn presets",
        "list": "print each source's rendition names, building nothing",
    }
    for action, text in helps.items():
        sub = actions.add_parser(action, help=text, description=text)
        if action != "clean":
            sub.add_argument(
                "names", nargs="*", metavar="NAME", help="media names (default: every image)"
            )
        sub.add_argument(
            "--preset",
            action="append",
            default=None,
            metavar="PRESET",
            help="only this preset (repeatable; default: every declared preset)",
        )
        if action == "build":
            sub.add_argument(
                "--missing",
                action="store_true",
                help="only renditions not there yet (default: rebuild every one)",
            )
        if action == "clean":
            sub.add_argument(
                "--all",
                action="store_true",
                help="remove every rendition (of --preset), not only stale ones",
            )
        sub.add_argument("--settings", help="Django settings module (else DJANGO_SETTINGS_MODULE)")
        sub.add_argument("--quiet", action="store_true", help="no progress bar, summary only")
        sub.set_defaults(handler=handle)
    return parser


def _setup_django(args: argparse.Namespace) -> str | None:
    """None once Django is set up, else why not (a message naming the fix)."""
    if getattr(args, "django_configured", False):
        return None
    if args.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return (
            "renditions need the project's settings: run `manage.py mediaserve renditions"
            " ...`, or pass --settings / set DJANGO_SETTINGS_MODULE"
        )
    try:
        import django

        django.setup()
    except Exception as exc:
        return f"cannot load the Django settings: {type(exc).__name__}: {exc}"
    return None


class Progress:
    """One line redrawn on a terminal; silent elsewhere (logs, CI)."""

    width = 30

    def __init__(self, total: int, out: TextIO, enabled: bool) -> None:
        self.total = max(total, 1)
        self.out = out
        self.enabled = enabled and out.isatty()
        self.done = 0

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = self.width * self.done // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        shown = label if len(label) <= 40 else "..." + label[-37:]
        self.out.write(f"\r[{bar}] {self.done}/{self.total} {shown:<40}")
        self.out.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.write("\n")
            self.out.flush()


def _sources(renditions: Any) -> Iterator[str]:
    """Every image name in the media store, outside the rendition directory."""
    directory = renditions.directory
    store = renditions.store
    if hasattr(store, "root"):
        root = store.root
        for folder, dirs, files in os.walk(root):
            rel = os.path.relpath(folder, root)
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and not (rel == "." and d == directory)
            )
            for file in sorted(files):
                if file.startswith(".") or file.rpartition(".")[2].lower() not in IMAGE_EXTENSIONS:
                    continue
                path = os.path.join(rel, file) if rel != "." else file
                yield path.replace(os.sep, "/")
        return
    for name in store.names(""):
        if name.startswith(directory + "/") or name.rsplit("/", 1)[-1].startswith("."):
            continue
        if name.rpartition(".")[2].lower() in IMAGE_EXTENSIONS:
            yield name


def handle(args: argparse.Namespace) -> int:
    problem = _setup_django(args)
    if problem is not None:
        print(f"mediaserve renditions: {problem}", file=sys.stderr)
        return 2
    from ..django.conf import SettingsError
    from ..django.renditions import RenditionUnavailable, get_renditions

    try:
        renditions = get_renditions()
        presets = [renditions.preset(p).name for p in args.preset] if args.preset else None
    except (RenditionUnavailable, SettingsError) as exc:
        print(f"mediaserve renditions: {exc}", file=sys.stderr)
        return 2
    if args.action == "clean":
        return _clean(renditions, presets, args)
    names = list(args.names) if getattr(args, "names", None) else list(_sources(renditions))
    if args.action == "list":
        for name in names:
            for preset in presets or sorted(renditions.presets):
                chosen = renditions.preset(preset)
                for fmt in chosen.formats:
                    try:
                        print(f"{name}\t{preset}\t{renditions.name_for(name, chosen, fmt)}")
                    except Exception as exc:
                        print(f"{name}\t{preset}\t! {exc}", file=sys.stderr)
        return 0
    return _build(renditions, names, presets, args)


def _build(renditions: Any, names: list[str], presets: list[str] | None, args: Any) -> int:
    progress = Progress(len(names), sys.stderr, not args.quiet)
    counts = {"built": 0, "present": 0, "failed": 0}
    failures: list[str] = []
    for name in names:
        for result in renditions.build(name, presets, force=not args.missing):
            counts[result.status] += 1
            if result.status == "failed":
                failures.append(f"{name} [{result.preset} {result.fmt}]: {result.detail}")
        progress.step(name)
    progress.close()
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    print(
        f"{len(names)} source(s): {counts['built']} rendition(s) built,"
        f" {counts['present']} already there, {counts['failed']} failed"
    )
    return 1 if counts["failed"] else 0


def _current(renditions: Any, name: str, parse_name: Any) -> bool:
    """Whether ``name`` is a rendition of a source's current bytes under a declared preset
    (what ``rendition_url`` prints today). A source that is gone makes it stale."""
    from ..sources.base import NotFound, Refused

    for reading in parse_name(name, renditions.presets, renditions.directory):
        try:
            digest = renditions.digest(reading.source_name)
        except (NotFound, Refused):
            continue
        if reading.matches(digest):
            return True
    return False


def _clean(renditions: Any, presets: list[str] | None, args: Any) -> int:
    from ..renditions.keys import parse_name
    from ..sources.base import LookupError_
    from ..sources.remote import Unavailable

    names = list(renditions.store.names(renditions.directory))
    progress = Progress(len(names), sys.stderr, not args.quiet)
    removed = kept = failed = 0
    for name in names:
        preset_name = name.split("/", 2)[1] if name.count("/") >= 2 else ""
        progress.step(name)
        if presets is not None and preset_name not in presets:
            continue
        stale = True
        if not args.all:
            try:
                stale = not _current(renditions, name, parse_name)
            except (LookupError_, Unavailable) as exc:
                # The store did not answer: never delete what cannot be judged.
                failed += 1
                print(f"\nfailed: cannot judge {name}: {exc}", file=sys.stderr)
                continue
        if not stale:
            kept += 1
            continue
        try:
            renditions.store.delete(name)
            removed += 1
        except Exception as exc:
            failed += 1
            print(f"\nfailed: cannot remove {name}: {exc}", file=sys.stderr)
    progress.close()
    print(f"{removed} rendition(s) removed, {kept} kept, {failed} failed")
    return 1 if failed else 0
