"""URLs of the security suite's Django targets: the media view, ``/`` and ``/beacon``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

from mediaserve.django.urls import media_urlpatterns

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


urlpatterns = [path("", index), path("beacon", beacon), *media_urlpatterns()]
