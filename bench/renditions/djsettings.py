"""The minimal Django settings each Django-based subject runs under, as its docs set it up.

One module for every subject: ``RBENCH_SUBJECT`` picks the app to install, the rest comes
from the environment the parent sets (a fresh media root and SQLite file per measured build,
so every build is a first build: no thumbnail, no kvstore row, no cache entry exists yet).
Each library keeps its default storage and cache bookkeeping (sorl's cached-db key-value
store, easy-thumbnails' Source/Thumbnail rows, imagekit's cache-backed existence checks):
that bookkeeping is part of what a user pays per thumbnail.
"""

from __future__ import annotations

import os

SUBJECT = os.environ.get("RBENCH_SUBJECT", "")
MEDIA_ROOT = os.environ.get("RBENCH_MEDIA_ROOT", "/nonexistent")
QUALITY = int(os.environ.get("RBENCH_QUALITY", "85"))

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
USE_TZ = True
MEDIA_URL = "/media/"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.renditions.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("RBENCH_DB", ":memory:"),
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
INSTALLED_APPS = ["django.contrib.contenttypes"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

if SUBJECT == "sorl-thumbnail":
    INSTALLED_APPS.append("sorl.thumbnail")
    THUMBNAIL_QUALITY = QUALITY
elif SUBJECT == "easy-thumbnails":
    INSTALLED_APPS.append("easy_thumbnails")
    THUMBNAIL_IMAGE_SAVE_OPTIONS = {"JPEG": {"quality": QUALITY}, "WEBP": {"quality": QUALITY}}
elif SUBJECT == "django-imagekit":
    INSTALLED_APPS.append("imagekit")
elif SUBJECT.startswith("mediaserve"):
    INSTALLED_APPS.append("mediaserve.django")
    # Two presets with the same box and quality as every other subject's targets.
    MEDIASERVE = {
        "RENDITIONS": {
            "bench-jpeg-1024": {
                "width": 1024,
                "height": 1024,
                "formats": ["jpeg"],
                "quality": QUALITY,
            },
            "bench-webp-400": {
                "width": 400,
                "height": 400,
                "formats": ["webp"],
                "quality": QUALITY,
            },
        },
        "RENDITION_ENGINE": "pyvips" if SUBJECT == "mediaserve-pyvips" else "pillow",
    }
