"""``MEDIASERVE["RATE_LIMIT"]``: the rate limiter for media requests, in Django's cache.

The pipeline counts a request once, whichever entry point sees it first (the fast WSGI/ASGI
wrappers, the middleware, the view): it marks the WSGI environ (which is Django's
``request.META``) or the ASGI scope (``request.scope``), so a private name handed on to
Django is not counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.cache import caches

from ..ratelimit.limiter import RateLimiter, parse_networks
from .conf import SettingsError

__all__ = ["build_limiter"]


def build_limiter(values: Mapping[str, Any]) -> RateLimiter | None:
    """The limiter for validated MEDIASERVE values; ``None`` when RATE_LIMIT is off."""
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
            ipv4_prefix=values["RATE_LIMIT_IPV4_PREFIX"],
            ipv6_prefix=values["RATE_LIMIT_IPV6_PREFIX"],
        )
    except Exception as exc:  # InvalidCacheBackendError, ValueError: a settings problem
        raise SettingsError(f"MEDIASERVE rate limit: {exc}") from None
