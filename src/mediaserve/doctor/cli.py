"""``mediaserve doctor``: the subcommand's arguments and its handler.

``add_parser(subparsers)`` is all ``mediaserve.cli`` needs; ``manage.py mediaserve doctor``
reaches the same handler with Django already set up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .consumer import PROFILES
from .fetch import FetchOptions
from .report import EXIT_CODES, Finding, Report, render_json, render_text, worst
from .runner import DoctorOptions, diagnose
from .scan import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    load_feed,
    names_from_models,
    render_table,
    run_scan,
    scan_json,
    stderr_if_tty,
)
from .served import FIRST_BYTE_BUDGET

__all__ = ["add_parser", "run"]


def _resolve(text: str) -> tuple[tuple[str, int], str]:
    host, _, rest = text.partition(":")
    port, _, address = rest.partition(":")
    if not host or not port.isdigit() or not address:
        raise argparse.ArgumentTypeError(f"--resolve wants HOST:PORT:ADDRESS, not {text!r}")
    return (host.lower(), int(port)), address.strip("[]")


def _resolver(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"--resolver wants HOST:PORT (e.g. 1.1.1.1:53 or [2606:4700::1111]:53), not {text!r}"
        )
    return host, int(port)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("must be between 0 and 600 seconds")
    return value


def _concurrency(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_CONCURRENCY}")
    return int(text)


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "doctor",
        help="diagnose, hop by hop, why a media URL fails (file, Django, proxy, TLS, Meta)",
        description="Walk every hop between a file under MEDIA_ROOT and Meta's crawler; name "
        "the first broken one and print the fix. Exit 0 pass, 1 warnings, 2 failures.",
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="URL|NAME",
        help="the public URL, or the media name relative to MEDIA_ROOT; with "
        "--scan, a catalog feed (URL or file: its image links)",
    )
    parser.add_argument("--settings", help="Django settings module (else DJANGO_SETTINGS_MODULE)")
    parser.add_argument(
        "--pythonpath", action="append", default=[], help="add to sys.path (the project folder)"
    )
    parser.add_argument(
        "--upstream", help="the app server as the proxy reaches it, e.g. http://web:8000"
    )
    parser.add_argument(
        "--profile", choices=PROFILES, help="judge as Meta's catalog crawler or WhatsApp would"
    )
    parser.add_argument(
        "--base-url", help="public base URL to turn a name into a URL (https://shop.example.com)"
    )
    parser.add_argument(
        "--proxy-config",
        type=Path,
        metavar="PATH",
        help="the proxy's config: nginx.conf (or `nginx -T` output), a Caddyfile or Caddy "
        "JSON, Apache's config (or `apachectl -S` output), Traefik's file provider (YAML, "
        "TOML or its folder); the kind is recognised from the file",
    )
    parser.add_argument(
        "--npm-data",
        type=Path,
        metavar="DIR",
        help="Nginx Proxy Manager's data volume (the folder mounted at /data): its "
        "nginx/proxy_host/*.conf are replayed",
    )
    parser.add_argument("--media-root", type=Path, help="MEDIA_ROOT without Django")
    parser.add_argument("--media-url", help="MEDIA_URL without Django (default /media/)")
    parser.add_argument(
        "--resolve",
        type=_resolve,
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT (like curl --resolve)",
    )
    parser.add_argument(
        "--resolver",
        type=_resolver,
        metavar="HOST:PORT",
        help="ask this DNS server for the URL's host (e.g. 1.1.1.1:53: a public view) and "
        "connect to what it answers; default: the system resolver",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="check a set-up before it is public: a loopback/private URL or address and "
        "http:// are noted, not failures",
    )
    parser.add_argument(
        "--max-first-byte",
        type=_seconds,
        default=FIRST_BYTE_BUDGET,
        metavar="SECONDS",
        help=f"fail when the status line takes longer (warn over half; default "
        f"{FIRST_BYTE_BUDGET:g}: Meta wants media within a few seconds)",
    )
    parser.add_argument("--cafile", help="extra CA certificates to trust (PEM)")
    parser.add_argument(
        "--timeout", type=_seconds, default=10.0, help="seconds per connect/read (default 10)"
    )
    parser.add_argument(
        "--scan",
        action="store_true",
        help="check every FileField file (or every image link of the feed given as "
        "target: a URL or a file, CSV/TSV or XML)",
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"with --scan, targets checked at once (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (for CI)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.set_defaults(handler=run)
    return parser


def _django(args: argparse.Namespace) -> tuple[bool, str | None]:
    """Whether Django is configured (set up here if needed), or why loading failed."""
    for folder in reversed(args.pythonpath):
        sys.path.insert(0, os.path.abspath(folder))
    if args.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    try:
        from django.apps import apps
    except ImportError:
        return False, "Django is not installed" if args.settings else None
    if apps.ready:
        return True, None
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        return False, None
    try:
        import django

        django.setup()
    except Exception as exc:
        return False, f"cannot load Django settings {module!r}: {type(exc).__name__}: {exc}"
    return True, None


def _fail(message: str, as_json: bool) -> int:
    report = Report(target="(setup)")
    report.add([Finding("input", "fail", message, [], "")])
    if as_json:
        sys.stdout.write(render_json([report]))
    else:
        print(f"mediaserve doctor: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    use_django, problem = _django(args)
    if problem:
        return _fail(problem, args.json)
    if args.cafile and not os.path.isfile(args.cafile):
        return _fail(f"--cafile {args.cafile}: no such file", args.json)
    if args.proxy_config and not args.proxy_config.exists():
        return _fail(f"--proxy-config {args.proxy_config}: no such file", args.json)
    if args.npm_data:
        if args.proxy_config:
            return _fail("give --proxy-config or --npm-data, not both", args.json)
        if not (args.npm_data / "nginx" / "proxy_host").is_dir():
            return _fail(
                f"--npm-data {args.npm_data}: no nginx/proxy_host folder in it; pass the folder "
                "mounted at /data in the Nginx Proxy Manager container",
                args.json,
            )
        args.proxy_config = args.npm_data
    options = DoctorOptions(
        upstream=args.upstream,
        profile=args.profile,
        base_url=args.base_url,
        proxy_config=args.proxy_config,
        media_root=args.media_root,
        media_url=args.media_url or ("/media/" if args.media_root else None),
        use_django=use_django,
        local=args.local,
        resolver=args.resolver,
        max_first_byte=args.max_first_byte,
        fetch=FetchOptions(timeout=args.timeout, cafile=args.cafile, connect_to=dict(args.resolve)),
    )
    colour = args.color == "always" or (
        args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    )
    if args.scan:
        if args.target:
            targets, why = load_feed(args.target, options.fetch)
            if why:
                return _fail(why, args.json)
        elif use_django:
            targets = names_from_models()
        else:
            return _fail("--scan needs Django settings (--settings) or a feed URL", args.json)
        started = time.monotonic()
        reports = run_scan(
            targets,
            lambda t: diagnose(t, options),
            None if args.json else stderr_if_tty(),
            concurrency=args.concurrency,
        )
        if args.json:
            sys.stdout.write(scan_json(reports, elapsed=time.monotonic() - started))
        else:
            sys.stdout.write(render_table(reports))
        return EXIT_CODES[worst(r.verdict for r in reports)] if reports else 0
    if not args.target:
        return _fail("give a URL or a media name (or --scan)", args.json)
    report = diagnose(args.target, options)
    sys.stdout.write(render_json([report]) if args.json else render_text(report, colour=colour))
    return report.exit_code
