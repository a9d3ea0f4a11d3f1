"""Django settings for tests/metrics: the example project's, with metrics on, the failure record
and the rate limit in a Redis the test started, and signed/private folders to be refused."""

from __future__ import annotations

import os

from shop.settings import *  # noqa: F403

MEDIA_ROOT = os.environ["OBS_MEDIA_ROOT"]
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "obs_urls"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["OBS_REDIS_URL"],
    }
}
MEDIASERVE = {
    "ACCESS": {"signed/": "signed", "private/": "private"},
    "METRICS": True,
    "METRICS_TOKEN": os.environ.get("OBS_METRICS_TOKEN") or None,
    "LOG_FORMAT": os.environ.get("OBS_LOG_FORMAT", "json"),
    # Every test agent but the "hammer" is exempt, so the 429s are exactly the hammer's extra
    # requests whichever worker answers them (the buckets are in Redis).
    "RATE_LIMIT": 5,
    "RATE_LIMIT_WINDOW": 3600,
    "RATE_LIMIT_ALLOW_AGENTS": ["facebookexternalhit", "WhatsApp", "Mozilla", "obs-tool"],
}
LOGGING["loggers"]["mediaserve.events"] = {  # type: ignore[index]  # noqa: F405
    "handlers": ["stderr"],
    "level": "INFO",
    "propagate": False,
}

# Admin pages without collectstatic: the manifest storage would need the collected manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
