"""Minimal Django project for the ``django.views.static.serve`` anchor.

DEBUG is False and the project uses "the usual patch": a ``re_path`` to ``serve`` in the
URLconf (``django.conf.urls.static.static()`` is a no-op without DEBUG). No middleware and
no apps: the anchor's best case, so ratios against it are conservative.
"""

from __future__ import annotations

from benchapps._env import MEDIA_PREFIX, media_root

SECRET_KEY = "bench-only-not-secret"  # benchmark settings, never deployed
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchapps.django_urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True
MEDIA_URL = MEDIA_PREFIX
MEDIA_ROOT = media_root()
LOGGING_CONFIG = None
