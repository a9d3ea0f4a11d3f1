"""``MEDIASERVE["RATE_LIMIT"]``: the rate limiter for media requests, in Django's cache.

Every entry point (the fast WSGI/ASGI wrappers, the middleware, the view) counts a request
once: the first to see it marks the WSGI environ (which is Django's ``request.META``) or the
ASGI scope (``request.scope``), so a private name handed on to Django is not counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from django.core.cache import caches

from ..http.plan import ResponsePlan
from ..ratelimit.limiter import RateLimiter, meta_from_scope, parse_networks
from .conf import SettingsError, read_values, settings_cached

__all__ = ["build_limiter", "get_limiter", "meta_from_scope", "throttle"]

COUNTED = "mediaserve.rate_counted"


def build_limiter(values: Mapping[str, Any]) -> RateLimiter | None:
    requests = values["RATE_LIMIT"]
    if requests is None:
        return None
    try:
        return RateLimiter(
            caches[values["RATE_LIMIT_CACHE"]],
            requests=requests,
            window=values["RATE_LIMIT_WINDOW"],
            trusted_proxies=parse_networks(values["RATE_LIMIT_TRUSTED_PROXIES"]),
            allow_agents=tuple(str(a) for a in values["RATE_LIMIT_ALLOW_AGENTS"]),
        )
    except Exception as exc:  # InvalidCacheBackendError, ValueError: a settings problem
        raise SettingsError(f"MEDIASERVE rate limit: {exc}") from None


@settings_cached("MEDIASERVE", "CACHES")
def get_limiter() -> RateLimiter | None:
    """The limiter for the current settings; ``None`` when RATE_LIMIT is off."""
    return build_limiter(read_values())


def throttle(
    meta: Mapping[str, Any], method: str, mark: MutableMapping[str, Any] | None = None
) -> ResponsePlan | None:
    """The 429 to send, or None; counts the request unless ``mark`` says it was counted.

    ``meta`` holds REMOTE_ADDR, HTTP_X_FORWARDED_FOR and HTTP_USER_AGENT (a WSGI environ or
    ``request.META``); ``mark`` is where "counted" is recorded (default: ``meta`` itself).
    """
    limiter = get_limiter()
    target = mark if mark is not None else meta
    if limiter is None or target.get(COUNTED):
        return None
    if isinstance(target, MutableMapping):
        target[COUNTED] = True
    return limiter.check(meta, method)
