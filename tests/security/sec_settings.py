"""Django settings for the security suite's Django targets: the example project's, with the
suite's media tree, access rules and signing key (the same as the plain apps')."""

from __future__ import annotations

import os

from shop.settings import *  # noqa: F403

SECRET_KEY = os.environ["SEC_SIGNING_KEY"]
MEDIA_ROOT = os.environ["MEDIA_TEST_ROOT"]
MEDIA_URL = "/media/"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "sec_urls"
MEDIASERVE = {
    "ACCESS": {"signed/": "signed", "private/": "private"},
    "PERMISSION": "sec_urls.bearer_permission",
    # As sec_apps.rate_limit(): the probes' own User-Agent is exempt (one gunicorn worker, so
    # the default LocMemCache is one shared bucket store here).
    "RATE_LIMIT": 60,
    "RATE_LIMIT_WINDOW": 3600,
    "RATE_LIMIT_TRUSTED_PROXIES": ["127.0.0.1"],
    "RATE_LIMIT_ALLOW_AGENTS": ["mediaserve-probe", "facebookexternalhit"],
}

# The hardening tests (test_hardening.py): symlinks followed inside MEDIA_ROOT.
if os.environ.get("SEC_FOLLOW_SYMLINKS"):
    MEDIASERVE["FOLLOW_SYMLINKS"] = True

# The object-storage target: MEDIA_URL served from a SeaweedFS bucket holding the same tree.
if os.environ.get("SEC_STORAGE"):
    import json

    MEDIASERVE["STORAGE"] = json.loads(os.environ["SEC_STORAGE"])

# The offload target: nginx in front sends the bytes the app allowed (X-Accel-Redirect).
if os.environ.get("SEC_OFFLOAD"):
    MEDIASERVE["OFFLOAD"] = os.environ["SEC_OFFLOAD"]

# The rate-limit test: buckets in a Redis the test started, shared by gunicorn's workers.
if os.environ.get("SEC_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["SEC_REDIS_URL"],
        }
    }
    MEDIASERVE["RATE_LIMIT"] = int(os.environ["SEC_RATE_LIMIT"])
