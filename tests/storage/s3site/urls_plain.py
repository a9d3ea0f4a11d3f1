"""No media URL pattern: with the mediaserve WSGI/ASGI wrappers, media never reach Django."""

from __future__ import annotations

from django.urls import path

from s3site.urls import healthz

urlpatterns = [path("healthz", healthz)]
