"""Hop ``routing``: what Django does with ``MEDIA_URL + name``.

``resolve()`` finds one of: nothing (with DEBUG off, ``static()`` adds no pattern: the
classic production 404), Django's ``static.serve`` (the DEBUG-only helper), mediaserve's
view, or some other view whose pattern swallows the path (a catch-all / SPA fallback that
answers an HTML page with 200). mediaserve's WSGI/ASGI wrappers and middleware answer
media before the URL resolver, so they count as routed.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from urllib.parse import urlsplit

from .report import Finding

__all__ = ["Routing", "check_routing", "media_path"]

HOP = "routing"
FIX_PATTERN = (
    "In the ROOT_URLCONF (urls.py), instead of static(settings.MEDIA_URL, ...):\n"
    "  from mediaserve.django.urls import media_urlpatterns\n"
    "  urlpatterns += media_urlpatterns()\n"
    "(or wsgi.py: from mediaserve.django.wsgi import get_wsgi_application)"
)


@dataclass
class Routing:
    """How the request reaches a handler: ``kind`` is wrapper, middleware, mediaserve,
    static, other, none or external."""

    kind: str
    detail: str = ""


def media_path(name: str) -> str | None:
    """The request path for ``name`` (unquoted, as ``request.path`` sees it)."""
    from django.conf import settings

    media_url = str(settings.MEDIA_URL or "")
    parts = urlsplit(media_url)
    if parts.netloc:
        return None
    prefix = parts.path if parts.path.startswith("/") else "/" + parts.path
    return prefix.rstrip("/") + "/" + name


def _urlconf_uses_static() -> bool:
    from django.conf import settings

    try:
        source = inspect.getsource(importlib.import_module(str(settings.ROOT_URLCONF)))
    except Exception:
        return False
    return "static(" in source


def check_routing(name: str) -> tuple[Routing, list[Finding]]:
    from django.conf import settings
    from django.urls import Resolver404, resolve

    path = media_path(name)
    if path is None:
        return Routing("external"), [
            Finding(
                HOP,
                "skip",
                f"MEDIA_URL {settings.MEDIA_URL!r} is on another host",
                ["Django does not serve it; the public URL hop checks that host"],
            )
        ]
    from ..django.checks.core import media_entry_point

    wrapper = media_entry_point()
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    except Exception as exc:  # a URLconf that fails to import
        return Routing("none"), [
            Finding(
                HOP,
                "fail",
                f"the URLconf cannot be loaded: {type(exc).__name__}: {exc}",
                [f"ROOT_URLCONF = {settings.ROOT_URLCONF!r}"],
                "Fix the import error above.",
            )
        ]
    view = None
    if match is not None:
        view = (
            f"{match.func.__module__}.{getattr(match.func, '__name__', type(match.func).__name__)}"
        )
    route = f"{match.route!r}" if match is not None else ""
    if wrapper:
        return Routing("wrapper", wrapper), [
            Finding(
                HOP,
                "pass",
                "mediaserve answers MEDIA_URL before the URL resolver",
                [wrapper, f"resolve({path!r}) -> {view or 'nothing'}"],
            )
        ]
    if match is None:
        evidence = [f"resolve({path!r}) -> Resolver404", f"DEBUG = {settings.DEBUG}"]
        summary = f"nothing routes {path}: Django answers 404"
        if (getattr(settings, "MEDIASERVE", None) or {}).get("SERVED_EXTERNALLY"):
            return Routing("none"), [
                Finding(
                    HOP,
                    "skip",
                    "MEDIASERVE['SERVED_EXTERNALLY']: the proxy serves media, not Django",
                    evidence,
                )
            ]
        if _urlconf_uses_static() and not settings.DEBUG:
            summary = (
                f"nothing routes {path}: static() in {settings.ROOT_URLCONF} adds no "
                "pattern when DEBUG = False"
            )
            evidence.append(f"{settings.ROOT_URLCONF} calls static(...), a DEBUG-only helper")
        return Routing("none"), [Finding(HOP, "fail", summary, evidence, FIX_PATTERN)]
    if match.func.__module__.startswith("mediaserve."):
        return Routing("mediaserve", view or ""), [
            Finding(HOP, "pass", f"{path} -> mediaserve's view", [f"route {route} -> {view}"])
        ]
    if view == "django.views.static.serve":
        return Routing("static", view), [
            Finding(
                HOP,
                "warn",
                "django.views.static.serve answers media: static() only routes it while "
                "DEBUG = True, and it has no Range support",
                [f"route {route} -> {view}", f"DEBUG = {settings.DEBUG}"],
                FIX_PATTERN,
            )
        ]
    media_route = str(match.route).lstrip("^").startswith(path.strip("/").split("/", 1)[0] + "/")
    if media_route:
        return Routing("custom", view or ""), [
            Finding(
                HOP,
                "warn",
                f"{path} is served by a custom view, {view} (route {route}), not mediaserve",
                [f"resolve({path!r}) -> {view}"],
                "The in-process hop shows what it answers; mediaserve's view adds ranges, "
                "validators and safe lookup:\n  urlpatterns += media_urlpatterns()",
            )
        ]
    return Routing("other", view or ""), [
        Finding(
            HOP,
            "fail",
            f"{path} is caught by {view} (route {route}): a catch-all answers instead of a "
            "media view",
            [f"resolve({path!r}) -> {view}"],
            "Put the media pattern before the catch-all:\n"
            "  urlpatterns = media_urlpatterns() + urlpatterns\n"
            "(from mediaserve.django.urls import media_urlpatterns), or exclude media/ from "
            "the catch-all's regex.",
        )
    ]
