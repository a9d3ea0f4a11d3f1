"""URLs of the security suite's Django targets: the media view, ``/`` and ``/beacon``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path, re_path

from mediaserve import Mount, ServeOptions
from mediaserve.django.urls import media_urlpatterns
from mediaserve.django.views import serve_with

BEARER = "Bearer let-me-in"


def bearer_permission(request: Any, name: str) -> bool:
    """The same rule as the plain apps', so every target shares the probes' expectations."""
    return bool(request.META.get("HTTP_AUTHORIZATION") == BEARER)


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok\n", content_type="text/plain")


def beacon(request: HttpRequest) -> HttpResponse:
    from sec_beacon import record_beacon

    record_beacon(request.META.get("QUERY_STRING", ""))
    return HttpResponse(b"ok\n", content_type="text/plain")


def crash(request: HttpRequest) -> HttpResponse:
    """The control proving the suite's log check sees an application error."""
    raise RuntimeError("the log check's control")


_UNSAFE = Mount.create(settings.MEDIA_ROOT, "/unsafe/", ServeOptions(neutralise_active=False))


def unsafe(request: HttpRequest, name: str) -> HttpResponseBase:
    """The browser test's control: the same files with neutralisation switched off."""
    return serve_with(_UNSAFE, request, name)


urlpatterns = [
    path("", index),
    path("beacon", beacon),
    path("__crash__", crash),
    re_path(r"^unsafe/(?P<name>.*)$", unsafe),
    *media_urlpatterns(),
]
