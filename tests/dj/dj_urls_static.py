"""The usual patch: django.views.static.serve wired by hand (static() is a no-op without DEBUG)."""

from __future__ import annotations

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

urlpatterns = [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
