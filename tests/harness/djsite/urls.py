"""``/healthz``, and the media URL pattern when the route is ``view``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from mediaserve.django.urls import media_urlpatterns


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns: list[URLPattern] = [path("healthz", healthz)]
if settings.ROUTE == "view":
    urlpatterns += media_urlpatterns()
