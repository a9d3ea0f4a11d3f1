"""A minimal Django project for the multi-process renditions tests, configured from the
environment: media in a folder (RENDITIONS_SITE_MEDIA_ROOT) or a bucket
(RENDITIONS_SITE_STORAGE, JSON), build locks and digests in Redis (RENDITIONS_SITE_REDIS),
and the renditions log (one INFO line per build) on stderr, in the server's log."""

from __future__ import annotations

import json
import os

SECRET_KEY = "mediaserve-renditions-site"  # a test project
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "renditions.urls"
INSTALLED_APPS = ["mediaserve.django"]
MIDDLEWARE: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("RENDITIONS_SITE_MEDIA_ROOT", "")
MEDIASERVE: dict[str, object] = {"RENDITION_WAIT": 30}
if os.environ.get("RENDITIONS_SITE_STORAGE"):
    MEDIASERVE["STORAGE"] = json.loads(os.environ["RENDITIONS_SITE_STORAGE"])
if os.environ.get("RENDITIONS_SITE_REDIS"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["RENDITIONS_SITE_REDIS"],
        }
    }
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s pid=%(process)d %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"mediaserve": {"handlers": ["stderr"], "level": "INFO"}},
}
