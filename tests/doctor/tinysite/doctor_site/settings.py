"""A tiny Django project the doctor tests break on purpose, one environment variable at a time.

DOCTOR_URLS picks the URLconf shape: ``mediaserve`` (media_urlpatterns), ``static`` (the
DEBUG-only ``static()`` helper), ``catchall`` (a SPA fallback that answers every path with
an HTML page), ``broken`` (a media view that raises). The other DOCTOR_* variables set
the settings the doctor checks; DOCTOR_FIRST_BYTE_DELAY makes media answers slow.
"""

from __future__ import annotations

import os


def _flag(name: str) -> bool:
    return os.environ.get(name, "") == "1"


SECRET_KEY = "doctor-tests-only-" + "x" * 40
DEBUG = _flag("DOCTOR_DEBUG")
ALLOWED_HOSTS = os.environ.get("DOCTOR_ALLOWED_HOSTS", "shop.example.com").split(",")
ROOT_URLCONF = "doctor_site.urls"
WSGI_APPLICATION = "doctor_site.wsgi.application"
INSTALLED_APPS = ["mediaserve.django"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict[str, object] = {}
USE_TZ = True
if os.environ.get("DOCTOR_FIRST_BYTE_DELAY"):
    MIDDLEWARE.insert(0, "doctor_site.slow.SlowFirstByte")
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("DOCTOR_MEDIA_ROOT", "/nonexistent")
PUBLIC_BASE_URL = os.environ.get("DOCTOR_PUBLIC_BASE_URL", "")
SECURE_SSL_REDIRECT = _flag("DOCTOR_SSL_REDIRECT")
if _flag("DOCTOR_PROXY_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
MEDIASERVE = {"SERVED_EXTERNALLY": _flag("DOCTOR_SERVED_EXTERNALLY")}
LOGGING = {"version": 1, "disable_existing_loggers": False}
