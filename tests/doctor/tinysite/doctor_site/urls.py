"""The URLconf shapes the doctor must tell apart (see settings.py)."""

from __future__ import annotations

import os

from django.conf import settings
from django.conf.urls.static import static
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

from mediaserve.django.urls import media_urlpatterns


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def broken(request: HttpRequest, path: str) -> HttpResponse:
    raise RuntimeError("storage offline")


def app_shell(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><html><body><div id=app></div></body></html>")


SHAPE = os.environ.get("DOCTOR_URLS", "mediaserve")
urlpatterns = [path("healthz", healthz)]
if SHAPE == "mediaserve":
    urlpatterns += media_urlpatterns()
elif SHAPE == "static":
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
elif SHAPE == "broken":
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", broken)]
elif SHAPE == "catchall":
    urlpatterns += [re_path(r"^.*$", app_shell)]
