"""Settings of the harness's Django project (see ``harness/djsite/__init__.py``)."""

from __future__ import annotations

import json
import os

from harness.djsite import ENV_MEDIA_ROOT, ENV_ROUTE, ENV_STORAGE, ROUTES

ROUTE = os.environ.get(ENV_ROUTE, "view")
if ROUTE not in ROUTES:
    raise RuntimeError(f"{ENV_ROUTE} must be one of {ROUTES}, not {ROUTE!r}")

SECRET_KEY = "mediaserve-harness-djsite"  # a test project
DEBUG = False
ALLOWED_HOSTS = ["*"]  # raw-socket tests send "Host: t"
ROOT_URLCONF = "harness.djsite.urls"
INSTALLED_APPS = ["mediaserve.django"]
MIDDLEWARE = ["mediaserve.django.middleware.MediaMiddleware"] if ROUTE == "middleware" else []
DATABASES: dict[str, object] = {}
USE_TZ = True
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get(ENV_MEDIA_ROOT, "")
MEDIASERVE: dict[str, object] = {}
if os.environ.get(ENV_STORAGE):
    MEDIASERVE["STORAGE"] = json.loads(os.environ[ENV_STORAGE])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"mediaserve": {"handlers": ["stderr"], "level": "WARNING"}},
}
