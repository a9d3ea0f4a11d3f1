from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from mediaserve.django.urls import media_urlpatterns


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns = [path("healthz", healthz), *media_urlpatterns()]
