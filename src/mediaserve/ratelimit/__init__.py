"""Per-client rate limits for media, in a shared counter store (see ``limiter``)."""

from .limiter import (
    CounterStore,
    MemoryStore,
    RateLimiter,
    client_address,
    parse_networks,
    too_many_requests,
)

__all__ = [
    "CounterStore",
    "MemoryStore",
    "RateLimiter",
    "client_address",
    "parse_networks",
    "too_many_requests",
]
