"""Settings for the example shop, run in production mode by default.

Every value an operator may need to change comes from an environment variable (see
docs/example.md for the table). Unset, the example is a production deployment on one machine:
DEBUG off, SQLite and media files under `example/var/`, a secret key generated once and kept there.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import django

from shop.env import (
    env_bool,
    env_list,
    load_or_create_secret_key,
    origin_of,
    public_base_url,
)
from shop.files import ensure_dir

BASE_DIR = Path(__file__).resolve().parent.parent  # example/
# Everything the running site writes (database, media, collected static, secret key) lives here.
VAR_DIR = Path(os.environ.get("EXAMPLE_VAR_DIR", BASE_DIR / "var")).resolve()
ensure_dir(VAR_DIR)

DEBUG = env_bool("DJANGO_DEBUG", default=False)

# A key from the environment wins; otherwise one is generated on first start and persisted
# (mode 0600) so sessions and signed values survive restarts. Never a key written in this file.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or load_or_create_secret_key(
    VAR_DIR / "secret_key"
)

# Where the site's `/` is reachable from outside; absolute URLs (the catalog feed's `link` and
# `image_link`) are built from it and never from the request's Host header.
PUBLIC_BASE_URL = public_base_url(os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000"))
_public_host = urlsplit(PUBLIC_BASE_URL).hostname or ""
if ":" in _public_host:
    _public_host = f"[{_public_host}]"  # an IPv6 literal, as ALLOWED_HOSTS spells it

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
if _public_host and _public_host not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_public_host)  # the public host is, by definition, a host we serve

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", origin_of(PUBLIC_BASE_URL))

# Trust X-Forwarded-Proto only when a proxy that sets it (and strips a client's copy) is in front;
# otherwise any client could claim https.
if env_bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Session and CSRF cookies travel over https only when the site is public on https.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_BASE_URL.startswith("https://")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "mediaserve.django",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise serves the collected static files (admin CSS/JS, catalog.css) only.
    # Uploaded media goes through mediaserve: see shop/urls.py and shop/wsgi.py.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
ASGI_APPLICATION = "shop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.media",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_sqlite_options: dict[str, object] = {"timeout": 20}
if django.VERSION >= (5, 1):
    # WAL lets readers go on while the admin writes; IMMEDIATE takes the write lock up front so
    # concurrent writers wait for `timeout` instead of failing with "database is locked".
    _sqlite_options |= {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
        "OPTIONS": _sqlite_options,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names so WhiteNoise can let browsers cache them forever.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

MEDIA_URL = "/media/"
_media_root_from_env = os.environ.get("MEDIA_ROOT")
MEDIA_ROOT = Path(_media_root_from_env or VAR_DIR / "media").resolve()
if not _media_root_from_env:
    # The default lives in the example's own var/ and is created on first use. A MEDIA_ROOT set
    # in the environment (a mounted volume) is not: if it is missing, mediaserve's check W060
    # (parent writable: Django would create it) or E002 (it cannot be created) says so.
    ensure_dir(MEDIA_ROOT)
# Files readable by whichever user serves them (a proxy's worker, a sidecar container) and
# writable by the app only; Django would otherwise leave them to the process umask.
FILE_UPLOAD_PERMISSIONS = 0o644
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o755

# mediaserve reads this at request time; the value shown is its default, spelled out.
MEDIASERVE = {
    "CACHE_CONTROL": "public, max-age=3600",
    # Behind nginx/NPM/Caddy/Apache configured by `mediaserve config`: the app checks, the
    # proxy sends the bytes ("x-accel-redirect", or "x-sendfile" for Apache). See
    # docs/deploy/. Requests that did not come through such a proxy are served in-process.
    "OFFLOAD": os.environ.get("MEDIASERVE_OFFLOAD") or None,
    # MEDIA_ROOT as the proxy sees it (X-Sendfile only), when it differs from the app's.
    "OFFLOAD_ROOT": os.environ.get("MEDIASERVE_OFFLOAD_ROOT") or None,
    # Invoices sent to customers over WhatsApp: readable only through a signed, expiring
    # link (mediaserve.signed_url(...)); the rest of the catalog's media is public.
    "ACCESS": {"invoices/": "signed"},
    # Absolute rendition URLs ({% rendition_url ... absolute=True %}, docs/renditions.md).
    "RENDITION_BASE_URL": PUBLIC_BASE_URL,
}

# The currency new products get unless the admin picks another (ISO 4217).
CATALOG_DEFAULT_CURRENCY = os.environ.get("CATALOG_CURRENCY", "BRL")

LOG_LEVEL = os.environ.get("DJANGO_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's defaults (console only when DEBUG, mail_admins) with stderr always,
        # so a 500 in production shows up in the server's log.
        "django": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
    },
}
