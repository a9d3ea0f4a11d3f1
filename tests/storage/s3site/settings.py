"""Settings for the storage tests' Django project (see ``s3site/__init__.py``)."""

from __future__ import annotations

import json
import os

SECRET_KEY = "mediaserve-storage-tests"  # a test project
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = os.environ.get("S3SITE_URLCONF", "s3site.urls")
INSTALLED_APPS = ["mediaserve.django"]
MIDDLEWARE: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("S3SITE_MEDIA_ROOT", "")
MEDIASERVE = {
    "STORAGE": json.loads(os.environ.get("S3SITE_STORAGE", "null")),
    "ACCESS": json.loads(os.environ.get("S3SITE_ACCESS", "{}")),
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"mediaserve": {"handlers": ["stderr"], "level": "WARNING"}},
}
