"""System checks: misconfigurations that would make media 404, 403 or leak, found at startup.

Ids are stable; each message says what is wrong and the hint says what to set.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import Resolver404, get_resolver
from django.utils.module_loading import import_string

from ..conf import SettingsError, media_prefix, read_values

__all__ = [
    "check_media_root",
    "check_routing",
    "check_settings",
    "check_upload_permissions",
    "media_entry_point",
]

MIDDLEWARE_PATH = "mediaserve.django.middleware.MediaMiddleware"


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        read_values()
        from ..conf import options_from

        options_from(read_values())
    except SettingsError as exc:
        return [Error(str(exc), hint="Fix the MEDIASERVE setting.", id="mediaserve.E001")]
    return []


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


@register(Tags.compatibility)
def check_media_root(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    root = str(getattr(settings, "MEDIA_ROOT", "") or "")
    media_url = str(getattr(settings, "MEDIA_URL", "") or "")
    user = getattr(settings, "MEDIASERVE", None)
    if not root and isinstance(user, dict) and user.get("STORAGE"):
        return []  # media live in object storage (checked by checks/storage.py)
    if not root:
        return [
            Error(
                "MEDIA_ROOT is not set, so uploads have nowhere to go and nothing can be served.",
                hint="Set MEDIA_ROOT to an absolute directory, e.g. BASE_DIR / 'media'.",
                id="mediaserve.E002",
            )
        ]
    if not os.path.exists(root):
        messages.append(_missing_media_root(root))
    elif not os.path.isdir(root):
        messages.append(
            Error(
                f"MEDIA_ROOT {root!r} is not a directory.",
                hint="Point MEDIA_ROOT at a directory.",
                id="mediaserve.E002",
            )
        )
    elif not os.access(root, os.R_OK | os.X_OK):
        messages.append(
            Error(
                f"MEDIA_ROOT {root!r} is not readable by this process (uid {os.getuid()}).",
                hint=f"chmod 755 {root!r}, or run the app as the directory's owner.",
                id="mediaserve.E002",
            )
        )
    static_root = str(getattr(settings, "STATIC_ROOT", "") or "")
    real_media, real_static = _real(root), _real(static_root)
    if static_root and (_inside(real_media, real_static) or _inside(real_static, real_media)):
        messages.append(
            Error(
                f"MEDIA_ROOT {root!r} and STATIC_ROOT {static_root!r} overlap: collectstatic "
                "can overwrite uploads, and uploads would be served with static file caching.",
                hint="Use two sibling directories, e.g. BASE_DIR / 'media' and "
                "BASE_DIR / 'static'.",
                id="mediaserve.E003",
            )
        )
    if media_url and not media_url.endswith("/"):
        messages.append(
            Error(
                f"MEDIA_URL {media_url!r} does not end with a slash.",
                hint=f"Set MEDIA_URL = {media_url + '/'!r}.",
                id="mediaserve.E004",
            )
        )
    elif media_prefix() == "/":
        messages.append(
            Error(
                "MEDIA_URL is '/': serving media at the site root would shadow every other URL.",
                hint="Set MEDIA_URL = '/media/'.",
                id="mediaserve.E004",
            )
        )
    return messages


def _missing_media_root(root: str) -> CheckMessage:
    """W060 when Django's storage will create MEDIA_ROOT itself, E002 when nothing will.

    ``FileSystemStorage`` creates the directory on the first upload (``os.makedirs``), and
    until then there is nothing to serve anyway: every media URL is an honest 404. A fresh
    clone (``media/`` is git-ignored) must be able to run ``migrate`` and ``test``, so that
    case is a Warning. When the parent is missing or not writable the first upload fails
    and the path is most likely wrong (a volume not mounted, a typo): that stays an Error.
    """
    parent = os.path.dirname(os.path.abspath(root).rstrip(os.sep)) or os.sep
    if os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK):
        return Warning(
            f"MEDIA_ROOT {root!r} does not exist yet; Django creates it on the first upload, "
            "and until then every media URL is a 404.",
            hint=f"Nothing to do on a fresh checkout. To create it now: mkdir -p {root!r} && "
            f"chmod 755 {root!r}; in Docker, check that the media volume is mounted there.",
            id="mediaserve.W060",
        )
    if not os.path.exists(parent):
        why = "does not exist"
    elif not os.path.isdir(parent):
        why = "is not a directory"
    else:
        why = f"is not writable by this process (uid {os.getuid()})"
    return Error(
        f"MEDIA_ROOT {root!r} does not exist, and Django cannot create it on the first upload: "
        f"its parent {parent!r} {why}.",
        hint=f"Create it (mkdir -p {root!r} && chmod 755 {root!r}) or fix MEDIA_ROOT; "
        "in Docker, check that the media volume is mounted at this path.",
        id="mediaserve.E002",
    )


@register(Tags.compatibility)
def check_upload_permissions(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    mode = getattr(settings, "FILE_UPLOAD_PERMISSIONS", 0o644)
    if mode is None or (isinstance(mode, int) and (mode & 0o044) != 0o044):
        shown = "None" if mode is None else oct(mode)
        return [
            Warning(
                f"FILE_UPLOAD_PERMISSIONS is {shown}: large uploads (streamed to a temporary "
                "file) land as 0600, and a proxy serving MEDIA_ROOT as another user answers 403.",
                hint="Set FILE_UPLOAD_PERMISSIONS = 0o644 and "
                "FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o755.",
                id="mediaserve.W002",
            )
        ]
    return []


def media_entry_point() -> str | None:
    """How mediaserve answers MEDIA_URL before the URL resolver, if it does: its middleware,
    or a WSGI_APPLICATION/ASGI_APPLICATION that is one of mediaserve's wrappers (Django's
    or the plain ``WSGIMedia``/``ASGIMedia`` around the project). Said in one line, for the
    doctor's evidence; None when only a URL pattern can route media."""
    if MIDDLEWARE_PATH in [str(m) for m in getattr(settings, "MIDDLEWARE", [])]:
        return f"MIDDLEWARE has {MIDDLEWARE_PATH}"
    for setting in ("WSGI_APPLICATION", "ASGI_APPLICATION"):
        dotted = getattr(settings, setting, None)
        if not dotted or not isinstance(dotted, str):
            continue
        try:
            app = import_string(dotted)
        except Exception:  # noqa: S112 - a broken entry point is Django's own check to report
            continue
        if type(app).__module__.startswith("mediaserve."):
            return f"{setting} = {dotted!r} is mediaserve's {type(app).__name__}"
    return None


@register(Tags.urls)
def check_routing(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    prefix = media_prefix()
    try:
        served_externally = read_values()["SERVED_EXTERNALLY"]
    except SettingsError:
        return []  # reported as E001
    if prefix is None or prefix == "/" or served_externally:
        return []
    messages: list[CheckMessage] = []
    wrapped = media_entry_point() is not None
    probe = prefix + "mediaserve-check.jpg"
    view: Any = None
    try:
        view = get_resolver().resolve(probe).func
    except Resolver404:
        view = None
    from ..views import serve as mediaserve_view

    routed = view is mediaserve_view
    if view is not None and getattr(view, "__module__", "") == "django.views.static":
        messages.append(
            Error(
                f"{prefix} is routed to django.views.static.serve (static() in urls.py). "
                "static() adds no URL pattern when DEBUG=False, so media 404s in production, "
                "and serve() has no Range, ETag or protection against active content.",
                hint="Replace static(...) with: from mediaserve.django.urls import "
                "media_urlpatterns; urlpatterns += media_urlpatterns()",
                id="mediaserve.E006",
            )
        )
    elif not (routed or wrapped):
        messages.append(
            Error(
                f"Nothing serves MEDIA_URL ({prefix}) when DEBUG=False: django.conf.urls.static."
                "static() is a no-op outside DEBUG, so every media URL would be a 404.",
                hint="Add to urls.py: from mediaserve.django.urls import media_urlpatterns; "
                "urlpatterns += media_urlpatterns()  -- or, if a proxy serves MEDIA_ROOT, set "
                "MEDIASERVE = {'SERVED_EXTERNALLY': True}.",
                id="mediaserve.E005",
            )
        )
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    gzip = "django.middleware.gzip.GZipMiddleware"
    if gzip in middleware and routed and not wrapped:
        messages.append(
            Warning(
                "GZipMiddleware also compresses media responses from the URL pattern, which "
                "breaks byte ranges (video seeking, resumed downloads).",
                hint=f"Add {MIDDLEWARE_PATH!r} at the top of MIDDLEWARE, or use "
                "mediaserve.django.wsgi.get_wsgi_application in wsgi.py.",
                id="mediaserve.W003",
            )
        )
    return messages
