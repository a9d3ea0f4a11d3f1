"""System checks for metrics, event logs and the health record (ids E080-E089, W080-W089).

A failure record nobody can read is the silent failure issue 15 is about, so a cache that
cannot share it, or metrics switched on without their library, is said at startup.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from ..conf import SettingsError, read_values

__all__ = ["check_observability"]

#: A cache that keeps nothing: the record would always be empty. (LocMemCache works for one
#: process; with several workers each page shows its own worker's failures, which
#: docs/observability.md says: a warning for it would fire in every default project.)
_KEEPS_NOTHING = "DummyCache"


@register(Tags.compatibility)
def check_observability(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    from ..observability import observability_settings

    try:
        read_values()
    except SettingsError:
        return []  # reported as mediaserve.E001
    try:
        wanted = observability_settings()
    except SettingsError as exc:
        return [Error(str(exc), hint="See docs/observability.md.", id="mediaserve.E082")]
    problems: list[CheckMessage] = []
    if wanted.metrics and importlib.util.find_spec("prometheus_client") is None:
        problems.append(
            Error(
                "MEDIASERVE['METRICS'] is True but prometheus_client is not installed.",
                hint="pip install 'mediaserve[metrics]', or set MEDIASERVE['METRICS'] = False.",
                id="mediaserve.E081",
            )
        )
    if wanted.record:
        caches = getattr(settings, "CACHES", None) or {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        }
        backend = caches.get(wanted.cache, {}).get("BACKEND") if wanted.cache in caches else None
        if backend is None:
            problems.append(
                Error(
                    f"MEDIASERVE['HEALTH_CACHE'] names the cache {wanted.cache!r}, which is not"
                    " in CACHES.",
                    hint=f"Use one of {', '.join(sorted(caches))}, or set"
                    " MEDIASERVE['HEALTH_RECORD'] = 0 to keep no record.",
                    id="mediaserve.E080",
                )
            )
        elif str(backend).rsplit(".", 1)[-1] == _KEEPS_NOTHING:
            problems.append(
                Warning(
                    f"The health record is kept in DummyCache (cache {wanted.cache!r}), which"
                    " keeps nothing: the media health page will always be empty.",
                    hint="Point MEDIASERVE['HEALTH_CACHE'] at a shared cache (Redis, Memcached,"
                    " database), or set MEDIASERVE['HEALTH_RECORD'] = 0.",
                    id="mediaserve.W080",
                )
            )
    return problems
