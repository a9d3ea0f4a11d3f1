"""``mediaserve config KIND``: print (or write) proxy config for this project.

Values come from the command line, and -- when Django settings are available (``manage.py
mediaserve config``, ``--settings``, or ``DJANGO_SETTINGS_MODULE``) -- from MEDIA_URL,
MEDIA_ROOT and MEDIASERVE, so the proxy and the app cannot disagree on the prefix, the
offload method or Cache-Control.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..cli.argtypes import positive
from ..pipeline.offload import METHODS
from . import KINDS, ConfigError, ProxySetup, Upstream, render

__all__ = ["add_parser", "run", "settings_defaults"]

# Where each proxy's offload comes from when the settings do not say.
DEFAULT_OFFLOAD = {
    "nginx": "x-accel-redirect",
    "npm": "x-accel-redirect",
    "caddy": "x-accel-redirect",
    "apache": "x-sendfile",
    "traefik": None,
}


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "config",
        help="print proxy config (nginx, npm, caddy, apache, traefik) for the media",
        description="Print ready-to-use proxy config: public media served by the proxy from "
        "the media directory, private prefixes checked by the app and sent by the proxy.",
    )
    parser.add_argument("kind", choices=KINDS, help="which proxy")
    parser.add_argument(
        "--media-url", help="URL prefix of the media (default: MEDIA_URL or /media/)"
    )
    parser.add_argument(
        "--media-root",
        help="the media directory as the PROXY sees it (default: MEDIA_ROOT, or /srv/media)",
    )
    parser.add_argument(
        "--upstream", help="the app server, http://HOST:PORT (default http://127.0.0.1:8000)"
    )
    parser.add_argument("--server-name", default="_", help="server_name / site domain")
    parser.add_argument("--listen", default="80", help="port or address:port to listen on")
    parser.add_argument(
        "--offload",
        choices=(*METHODS, "none"),
        help="how the app hands private files to the proxy (default: MEDIASERVE['OFFLOAD'], "
        "else x-accel-redirect; x-sendfile for apache; none for traefik)",
    )
    parser.add_argument("--internal-prefix", help="offload URI prefix (default /_mediaserve/)")
    parser.add_argument(
        "--private",
        action="append",
        default=None,
        metavar="PREFIX",
        help="a prefix under MEDIA_URL that goes to the app (repeatable; '' for all media; "
        "default: the non-public prefixes of MEDIASERVE['ACCESS'])",
    )
    parser.add_argument("--cache-control", help="Cache-Control for public media")
    parser.add_argument("--limit-req", help="nginx rate limit for public media, e.g. 20r/s")
    parser.add_argument(
        "--max-body", help="largest upload (default: WhatsApp's largest document, 100m)"
    )
    parser.add_argument(
        "--max-ranges", type=positive, help="ranges per request (default: MAX_RANGES, or 16)"
    )
    parser.add_argument("--volume", default="media", help="compose volume name (npm, traefik)")
    parser.add_argument(
        "--app-media-root", help="MEDIA_ROOT inside the app container (default /app/media)"
    )
    parser.add_argument("--output", metavar="DIR", help="write the files into DIR")
    parser.add_argument("--settings", help="Django settings module to read (optional)")
    parser.set_defaults(handler=run)
    return parser


def settings_defaults() -> dict[str, Any]:
    """MEDIA_URL, MEDIA_ROOT and the MEDIASERVE values of the configured Django project."""
    import django
    from django.conf import settings

    if not settings.configured:
        django.setup()
    from ..django.conf import read_values

    values = read_values()
    result: dict[str, Any] = {
        "media_url": str(getattr(settings, "MEDIA_URL", "") or "/media/"),
        "media_root": str(getattr(settings, "MEDIA_ROOT", "") or "") or None,
        "offload": values["OFFLOAD"],
        "internal_prefix": values["OFFLOAD_PREFIX"],
        "cache_control": values["CACHE_CONTROL"],
        "max_ranges": values["MAX_RANGES"],
        "content_types": tuple((str(k), str(v)) for k, v in values["CONTENT_TYPES"].items()),
        "neutralise_active": values["NEUTRALISE_ACTIVE"],
        # Every prefix that is not public must be judged by the app.
        "private": _restricted_spellings(values),
        "offload_set": True,
        "renditions": values["RENDITION_DIRECTORY"],
    }
    if result["media_root"]:
        result["app_media_root"] = result["media_root"]
    if values["OFFLOAD_ROOT"]:
        result["media_root"] = values["OFFLOAD_ROOT"]
    storage = values.get("STORAGE")
    if isinstance(storage, dict) and str(storage.get("MODE", "")).lower() == "offload":
        from ..django.storage import read_storage
        from .store import nginx_offload_location

        store = read_storage(storage)
        if store.get("ENDPOINT_URL"):
            # Media are in the bucket: everything under MEDIA_URL goes to the app.
            result["store_block"] = nginx_offload_location(
                store["ENDPOINT_URL"], store["OFFLOAD_LOCATION"]
            )
            result["private"] = ("",)
            result["offload"] = "x-accel-redirect"
    return result


def _restricted_spellings(values: dict[str, Any]) -> tuple[str, ...]:
    """The prefixes the app must judge, as Access answers it (``restricted_prefixes``), each
    spelled as MEDIASERVE['ACCESS'] spells it.

    Access folds case; the folder on disk, and so the URLs, have the settings' spelling, which
    is what a proxy's case-sensitive location must match (``Straße/`` folds to ``strasse/``:
    routing only the folded form would let the proxy read ``/media/Straße/`` from disk).
    """
    from ..access.rules import PRIVATE, Access
    from ..django.access import build_access

    # The permission callable decides who reads, not what is restricted: not imported here.
    access = build_access({**values, "PERMISSION": None})
    if access is None:
        return ()
    restricted = set(access.restricted_prefixes())
    spelled = (str(prefix) for prefix in values["ACCESS"])
    return tuple(
        prefix
        for prefix in spelled
        if Access({prefix: PRIVATE}).restricted_prefixes()[0] in restricted
    )


def _want_django(args: argparse.Namespace) -> bool:
    if getattr(args, "django_configured", False):
        return True
    if args.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
        return True
    return bool(os.environ.get("DJANGO_SETTINGS_MODULE"))


def run(args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"mediaserve config: {message}", file=sys.stderr)
        return 2

    found: dict[str, Any] = {}
    if _want_django(args):
        try:
            found = settings_defaults()
        except ImportError as exc:
            return fail(f"cannot import the Django settings ({exc}); check --settings / PYTHONPATH")
        except Exception as exc:  # ImproperlyConfigured, SettingsError: name the problem
            return fail(f"cannot read the Django settings: {exc}")
    if args.offload is not None:
        offload = None if args.offload == "none" else args.offload
    elif found.get("offload_set"):
        offload = found["offload"]
    else:
        offload = DEFAULT_OFFLOAD[args.kind]
    try:
        # Whatever neither the command line nor the settings give is ProxySetup's default
        # (itself derived from ServeOptions and the platform limits), never spelled here.
        given = {
            "media_url": args.media_url or found.get("media_url"),
            "media_root": args.media_root or found.get("media_root"),
            "internal_prefix": args.internal_prefix or found.get("internal_prefix"),
            "cache_control": args.cache_control or found.get("cache_control"),
            "max_body": args.max_body,
            "max_ranges": args.max_ranges or found.get("max_ranges"),
            "app_media_root": args.app_media_root or found.get("app_media_root"),
            "content_types": found.get("content_types"),
            "neutralise_active": found.get("neutralise_active"),
            "renditions": found.get("renditions"),
        }
        setup = ProxySetup(
            upstream=Upstream.parse(args.upstream or "http://127.0.0.1:8000"),
            server_name=args.server_name,
            listen=args.listen,
            offload=offload,
            private=tuple(args.private if args.private is not None else found.get("private", ())),
            limit_req=args.limit_req,
            volume=args.volume,
            store_block=found.get("store_block", "") if args.kind in ("nginx", "npm") else "",
            **{key: value for key, value in given.items() if value is not None},
        )
        rendered = render(args.kind, setup)
    except ConfigError as exc:
        return fail(str(exc))
    if setup.private and offload is None:
        rendered.notes.append(
            "private prefixes go to the app, which sends the files itself; set "
            "MEDIASERVE['OFFLOAD'] (and --offload) to let the proxy send them."
        )
    if args.output:
        out = Path(args.output)
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, text in rendered.files.items():
                (out / name).write_text(text, encoding="utf-8")
                print(out / name)
        except OSError as exc:
            return fail(f"cannot write to {out}: {exc.strerror or exc}")
    else:
        many = len(rendered.files) > 1
        for name, text in rendered.files.items():
            if many:
                print(f"# ==> {name} <==")
            sys.stdout.write(text)
            if many:
                print()
    for note in rendered.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
