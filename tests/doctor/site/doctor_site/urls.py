"""The URLconf shapes the doctor must tell apart (see settings.py)."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.conf.urls.static import static
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

from mediaserve.django.urls import media_urlpatterns


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def feed(request: HttpRequest) -> HttpResponse:
    """A Meta catalog feed with one row per image under MEDIA_ROOT/products."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    rows = ["id,title,image_link"]
    folder = Path(settings.MEDIA_ROOT) / "products"
    for index, image in enumerate(sorted(folder.glob("*.jpg")), 1):
        rows.append(f"SKU-{index},{image.stem},{base}{settings.MEDIA_URL}products/{image.name}")
    return HttpResponse("\r\n".join(rows) + "\r\n", content_type="text/csv")


def broken(request: HttpRequest, path: str) -> HttpResponse:
    raise RuntimeError("storage offline")


def app_shell(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><html><body><div id=app></div></body></html>")


SHAPE = os.environ.get("DOCTOR_URLS", "mediaserve")
urlpatterns = [path("healthz", healthz), path("feed.csv", feed)]
if SHAPE == "mediaserve":
    urlpatterns += media_urlpatterns()
elif SHAPE == "static":
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
elif SHAPE == "broken":
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", broken)]
elif SHAPE == "catchall":
    urlpatterns += [re_path(r"^.*$", app_shell)]
