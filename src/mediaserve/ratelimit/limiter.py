"""Per-client rate limiting for media: who the client is, and whether it may go on.

The limit is a bucket of ``requests`` tokens per client, refilled continuously over
``window`` seconds. It is kept in a shared counter store (Django's cache: Redis or memcached
in production) with only the two operations every such store makes atomic, ``add`` and
``incr``, so any number of workers and hosts share one bucket per client and never lose each
other's counts. The refill is computed as a sliding window: the count of the current window
plus the previous window's count weighted by how much of it still overlaps the last
``window`` seconds (what a continuously refilled bucket holds, without a read-modify-write
that two workers could interleave).

Which address is the client's: ``REMOTE_ADDR``, unless that is a configured trusted proxy;
then ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first
address a trusted proxy vouched for is the client. Anything else in the header is what the
client wrote and is ignored (otherwise every request could claim a fresh address).

Which bucket is the client's: its network, not its address. An IPv6 subscriber is given a
whole /64 (RFC 6177 §2; RFC 8981 privacy addresses rotate inside it, and a client can pick
any of its 2^64 addresses at will), so counting per address would never limit anyone. The
prefix lengths are ``ipv4_prefix`` (default 32: one address, since carrier-grade NAT puts
unrelated customers next to each other) and ``ipv6_prefix`` (default 64). IPv4-mapped IPv6
addresses (``::ffff:192.0.2.1``, from a dual-stack socket) are counted as the IPv4 address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from ..http.plan import ResponsePlan, text_plan
from ..metrics import events_logged

__all__ = [
    "DEFAULT_IPV4_PREFIX",
    "DEFAULT_IPV6_PREFIX",
    "CounterStore",
    "MemoryStore",
    "RateLimiter",
    "Throttled",
    "bucket_of",
    "client_address",
    "parse_networks",
    "prefix_problem",
    "too_many_requests",
]

logger = logging.getLogger("mediaserve")
# RateLimiter -> when its store last failed (the limiter is frozen; this is bookkeeping).
_last_store_failure: dict[int, float] = {}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_IPV4_PREFIX = 32
DEFAULT_IPV6_PREFIX = 64
# Shortest prefixes accepted: a /16 of IPv4 is 65 536 addresses, a /32 of IPv6 a whole
# provider's allocation (RFC 6177 §1). Shorter would put unrelated subscribers, or the whole
# Internet, in one bucket: never what is meant.
_PREFIX_RANGE = {4: (16, 32), 6: (32, 128)}


class CounterStore(Protocol):
    """The atomic counter operations the limiter needs (Django's cache API has them)."""

    def add(self, key: str, value: int, timeout: int) -> bool: ...

    def incr(self, key: str, delta: int = 1) -> int: ...

    def decr(self, key: str, delta: int = 1) -> int: ...

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]: ...


class MemoryStore:
    """A CounterStore in this process's memory, for plain WSGI/ASGI apps with one worker
    process. Several processes each keep their own counts (the limit is multiplied): give
    them a shared store instead (a Django cache on Redis, or anything with add/incr/decr)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        found = self._data.get(key)
        if found is not None and found[1] <= now:
            del self._data[key]
            return None
        return found

    def add(self, key: str, value: int, timeout: int) -> bool:
        with self._lock:
            now = self._clock()
            if self._live(key, now) is not None:
                return False
            if len(self._data) > 100_000:  # many clients: drop what has expired
                for stale in [k for k, (_, until) in self._data.items() if until <= now]:
                    del self._data[stale]
            self._data[key] = (value, now + timeout)
            return True

    def incr(self, key: str, delta: int = 1) -> int:
        with self._lock:
            found = self._live(key, self._clock())
            if found is None:
                raise ValueError(f"key {key!r} not found")
            self._data[key] = (found[0] + delta, found[1])
            return found[0] + delta

    def decr(self, key: str, delta: int = 1) -> int:
        return self.incr(key, -delta)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            return {k: found[0] for k in keys if (found := self._live(k, now)) is not None}


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "127.0.0.1"]`` -> networks; raises ValueError naming a bad entry."""
    found = []
    for value in values:
        try:
            found.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(found)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]
) -> str:
    """The client's address for rate limiting (see the module docstring)."""
    remote = _address(remote_addr or "")
    if remote is None:
        return remote_addr or "unknown"
    if not trusted or not forwarded_for or not any(remote in net for net in trusted):
        return str(remote)
    client = remote
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break  # garbage from an untrusted writer: stop at the last trusted hop
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)


def prefix_problem(version: int, value: object) -> str | None:
    """Why ``value`` cannot be the bucket prefix length for IP ``version`` (4 or 6), or None.

    The one rule for ``RateLimiter`` and the Django settings, which word the key their way.
    """
    low, high = _PREFIX_RANGE[version]
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be a prefix length (an int from {low} to {high}), not {value!r}"
    if not low <= value <= high:
        default = DEFAULT_IPV4_PREFIX if version == 4 else DEFAULT_IPV6_PREFIX
        return (
            f"must be from {low} to {high}, not {value} (the default, {default}, is one "
            "subscriber; a shorter prefix puts many in one bucket)"
        )
    return None


def bucket_of(client: str, ipv4_prefix: int, ipv6_prefix: int) -> str:
    """The rate-limit bucket for a client address: the address itself at a full-length
    prefix, else its network (``2001:db8:1:2::/64``); anything unparsable is its own bucket."""
    address = _address(client)
    if address is None:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            address = mapped
        elif address.scope_id:  # fe80::1%eth0: the zone names an interface, not a client
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    if prefix == address.max_prefixlen:
        return str(address)
    return str(ipaddress.ip_network((address, prefix), strict=False))


def too_many_requests(method: str, retry_after: int) -> ResponsePlan:
    """429 (RFC 6585 §4) with Retry-After in seconds (RFC 9110 §10.2.3)."""
    headers = (
        ("Retry-After", str(retry_after)),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    )
    return text_plan(429, b"Too Many Requests\n", method, headers)


class Throttled(NamedTuple):
    """A request over its limit: the 429 to send, the client counted and the reason."""

    plan: ResponsePlan
    client: str
    reason: str


@dataclass(frozen=True)
class RateLimiter:
    """``requests`` per ``window`` seconds per client, in ``store``.

    ``allow_agents``: User-Agent substrings that are never limited (opt-in, e.g. Meta's
    ``facebookexternalhit`` and ``WhatsApp`` fetching a link preview in bursts). A
    User-Agent is trivially forged: allow-list only what may also be fetched by anyone.

    ``ipv4_prefix`` / ``ipv6_prefix``: the network one bucket covers (see the module
    docstring): 32 and 64 by default, so a client rotating addresses inside its /64 is one
    client.
    """

    store: CounterStore
    requests: int
    window: int = 60
    trusted_proxies: tuple[Network, ...] = ()
    allow_agents: tuple[str, ...] = ()
    key_prefix: str = "mediaserve:rl:"
    clock: Callable[[], float] = time.time
    ipv4_prefix: int = DEFAULT_IPV4_PREFIX
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX
    _finished: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window < 1:
            raise ValueError("a rate limit needs at least 1 request per at least 1 second")
        for version, value in ((4, self.ipv4_prefix), (6, self.ipv6_prefix)):
            problem = prefix_problem(version, value)
            if problem is not None:
                raise ValueError(f"ipv{version}_prefix {problem}")

    def bucket(self, client: str) -> str:
        """The bucket ``client`` (an address from ``client_address``) counts in."""
        return bucket_of(client, self.ipv4_prefix, self.ipv6_prefix)

    def client(self, meta: Mapping[str, Any]) -> str:
        """The client address from a WSGI environ / Django ``request.META``."""
        return client_address(
            meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), self.trusted_proxies
        )

    def exempt(self, user_agent: str | None) -> bool:
        agent = (user_agent or "").lower()
        return bool(agent) and any(a.lower() in agent for a in self.allow_agents)

    def hit(self, client: str) -> int:
        """Count one request in the bucket ``client`` (an address or a network, see
        ``bucket``); 0 when it may go on, else the seconds to wait."""
        now = self.clock()
        index, into = divmod(now, self.window)
        current = f"{self.key_prefix}{client}:{int(index)}"
        previous = f"{self.key_prefix}{client}:{int(index) - 1}"
        # Count first: the window's key exists for all but its first request, so the common
        # case is one incr (add only creates it). Two windows' lifetime: the next window
        # still reads this one as its "previous"; a key is never near expiry while current.
        try:
            count = self.store.incr(current)
        except ValueError:
            if self.store.add(current, 1, 2 * self.window + 1):
                count = 1
            else:  # another worker created it meanwhile
                count = self.store.incr(current)
        earlier = self._finished_count(previous)
        overlap = 1.0 - into / self.window
        if earlier * overlap + count <= self.requests:
            return 0
        # Wait until the previous window's weight has drained enough for one more request,
        # or (if this window alone is full) until the next window.
        if count > self.requests or earlier == 0:
            wait = self.window - into
        else:
            excess = earlier * overlap + count - self.requests
            wait = excess / earlier * self.window
        # A refused request takes no token (token-bucket semantics): a client that retries
        # too early is refused again, and admitted as soon as Retry-After has passed.
        with contextlib.suppress(ValueError):  # evicted meanwhile: nothing to give back
            self.store.decr(current)
        return max(1, math.ceil(wait))

    def _store_failed(self, exc: Exception) -> None:
        """Log an unavailable store at most once a minute: media keeps flowing unlimited
        (a rate limit protects the service; it must not take it down), and the log says so."""
        now = time.monotonic()
        if now - _last_store_failure.get(id(self), -1e9) >= 60:
            _last_store_failure[id(self)] = now
            logger.error("mediaserve rate limit store unavailable, not limiting: %r", exc)

    def _finished_count(self, key: str) -> int:
        """The count of a window that has ended: it no longer changes, so each process reads
        it from the store once (one round trip saved per request in the common case)."""
        found = self._finished.get(key)
        if found is None:
            found = int(self.store.get_many([key]).get(key) or 0)
            if len(self._finished) >= 10_000:  # many clients: start over, not grow forever
                self._finished.clear()
            self._finished[key] = found
        return found

    def check(self, meta: Mapping[str, Any], method: str) -> ResponsePlan | None:
        """``check_client`` for a WSGI environ or Django ``request.META``."""
        return self.check_client(
            meta.get("REMOTE_ADDR"),
            meta.get("HTTP_X_FORWARDED_FOR"),
            meta.get("HTTP_USER_AGENT"),
            str(meta.get("PATH_INFO", "")),
            method,
        )

    def check_client(
        self,
        remote_addr: str | None,
        forwarded_for: str | None,
        user_agent: str | None,
        label: str,
        method: str,
    ) -> ResponsePlan | None:
        """``None`` when the request may go on, else the 429 to send (logged at WARNING
        with ``label``, the path)."""
        throttled = self.throttle(remote_addr, forwarded_for, user_agent, label, method)
        return None if throttled is None else throttled.plan

    def throttle(
        self,
        remote_addr: str | None,
        forwarded_for: str | None,
        user_agent: str | None,
        label: str,
        method: str,
    ) -> Throttled | None:
        """``check_client`` with what the pipeline's outcome carries for the event line: the
        client counted (the forwarded one behind a trusted proxy) and why, bucket included."""
        if self.allow_agents and self.exempt(user_agent):
            return None
        client = client_address(remote_addr, forwarded_for, self.trusted_proxies)
        bucket = self.bucket(client)
        try:
            wait = self.hit(bucket)
        except Exception as exc:  # the store is down (Redis restarting...): fail open
            self._store_failed(exc)
            return None
        if not wait:
            return None
        reason = f"rate limit of {self.requests} per {self.window}s exceeded"
        if bucket != client:
            reason += f" by {bucket}"
        # DEBUG when the observer's event line says it: one line per throttled request.
        logger.log(
            logging.DEBUG if events_logged() else logging.WARNING,
            "mediaserve throttled %r from %s: %s",
            label,
            client,
            reason,
            extra={
                "mediaserve_reason": reason,
                "mediaserve_client": client,
                "mediaserve_bucket": bucket,
            },
        )
        return Throttled(too_many_requests(method, wait), client, reason)
