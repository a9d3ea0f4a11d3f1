"""mediaserve.ratelimit: the client address behind proxies, and the bucket arithmetic on a real
Django cache (LocMemCache; the shared-Redis, two-worker case is tests/security)."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache

from mediaserve.ratelimit import RateLimiter, client_address, parse_networks, too_many_requests
from mediaserve.ratelimit.limiter import bucket_of

TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # Not from a trusted proxy: the header is the client's own words and is ignored.
        ("198.51.100.7", "203.0.113.1", "198.51.100.7"),
        # From a trusted proxy: the address it vouched for.
        ("127.0.0.1", "203.0.113.1", "203.0.113.1"),
        # A client-written first entry is skipped; the proxy appended the real one.
        ("127.0.0.1", "1.2.3.4, 203.0.113.1", "203.0.113.1"),
        # Two trusted proxies in a row: skip both.
        ("127.0.0.1", "203.0.113.1, 10.1.2.3", "203.0.113.1"),
        # Garbage after the trusted hops: stop at the last trusted address.
        ("127.0.0.1", "203.0.113.1, not-an-ip", "127.0.0.1"),
        ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        ("127.0.0.1", "192.0.2.9:5000", "192.0.2.9"),
        ("127.0.0.1", None, "127.0.0.1"),
        ("not-an-address", "203.0.113.1", "not-an-address"),
    ],
)
def test_client_address(remote: str, forwarded: str | None, expected: str) -> None:
    assert client_address(remote, forwarded, TRUSTED) == expected


def test_without_trusted_proxies_forwarded_for_is_never_read() -> None:
    assert client_address("127.0.0.1", "203.0.113.1", ()) == "127.0.0.1"


def test_a_bad_trusted_proxy_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP"):
        parse_networks(["10.0.0.300"])


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(requests: int = 3, window: int = 60, **kwargs: object) -> tuple[RateLimiter, Clock]:
    clock = Clock(6_000_000.0)  # the start of a window
    cache = LocMemCache(f"rl-{uuid.uuid4().hex}", {})
    return RateLimiter(cache, requests, window, clock=clock, **kwargs), clock  # type: ignore[arg-type]


def test_the_limit_is_reached_then_429_with_retry_after() -> None:
    rl, _ = limiter(3)
    assert [rl.hit("a") for _ in range(3)] == [0, 0, 0]
    assert rl.hit("a") == 60  # this window is full: wait for the next one


def test_clients_have_separate_buckets() -> None:
    rl, _ = limiter(1)
    assert rl.hit("a") == 0
    assert rl.hit("b") == 0
    assert rl.hit("a") > 0


def test_the_bucket_refills_over_the_window() -> None:
    """Half a window after a full one, half the previous count still weighs: one token back
    of two, not all of them (no burst of twice the limit at a window boundary)."""
    rl, clock = limiter(2)
    assert [rl.hit("a"), rl.hit("a")] == [0, 0]
    clock.now += 60 + 30  # half-way through the next window: 2 * 0.5 = 1 still counted
    assert rl.hit("a") == 0
    wait = rl.hit("a")
    assert 0 < wait <= 30
    clock.now += 60  # two windows on: nothing of it counts any more
    assert rl.hit("a") == 0


def test_check_builds_the_429_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    rl, _ = limiter(1)
    meta = {"REMOTE_ADDR": "192.0.2.5", "PATH_INFO": "/media/a.jpg"}
    assert rl.check(meta, "GET") is None
    with caplog.at_level("WARNING", logger="mediaserve"):
        refused = rl.check(meta, "GET")
    assert refused is not None
    assert refused.status == 429
    assert refused.header("Retry-After") == "60"
    assert refused.header("Cache-Control") == "no-store"
    assert len(caplog.records) == 1
    assert "192.0.2.5" in caplog.text
    assert "rate limit of 1 per 60s" in caplog.text


def test_allow_listed_agents_are_never_limited() -> None:
    rl, _ = limiter(1, allow_agents=("facebookexternalhit", "WhatsApp"))
    meta = {"REMOTE_ADDR": "192.0.2.5", "HTTP_USER_AGENT": "WhatsApp/2.23.20.0 A"}
    assert [rl.check(meta, "GET") for _ in range(5)] == [None] * 5
    other = {"REMOTE_ADDR": "192.0.2.5", "HTTP_USER_AGENT": "curl/8"}
    assert rl.check(other, "GET") is None
    assert rl.check(other, "GET") is not None


def test_head_429_has_no_body() -> None:
    assert too_many_requests("HEAD", 5).body == ()
    assert too_many_requests("GET", 5).body == (b"Too Many Requests\n",)


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 request"):
        limiter(0)


def test_a_refused_request_takes_no_token() -> None:
    """Token-bucket semantics: hammering while refused does not push admission further
    away; once Retry-After has passed the client is admitted again."""
    rl, clock = limiter(2)
    assert [rl.hit("a"), rl.hit("a")] == [0, 0]
    clock.now += 60 + 30  # one of two tokens is back
    assert rl.hit("a") == 0
    refusals = [rl.hit("a") for _ in range(50)]
    assert all(0 < wait <= 30 for wait in refusals)
    clock.now += max(refusals)
    assert rl.hit("a") == 0


# -- one bucket per network: an IPv6 subscriber's /64 is one client ---------------------------


@pytest.mark.parametrize(
    ("client", "v4", "v6", "bucket"),
    [
        ("192.0.2.7", 32, 64, "192.0.2.7"),
        ("192.0.2.7", 24, 64, "192.0.2.0/24"),
        ("2001:db8:1:2:a:b:c:d", 32, 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:a:b:c:d", 32, 56, "2001:db8:1::/56"),
        ("2001:db8:1:2:a:b:c:d", 32, 128, "2001:db8:1:2:a:b:c:d"),
        # A dual-stack socket shows IPv4 clients as mapped IPv6: still the IPv4 rule.
        ("::ffff:198.51.100.9", 32, 64, "198.51.100.9"),
        ("::ffff:198.51.100.9", 24, 64, "198.51.100.0/24"),
        # A zone names the interface, not a client.
        ("fe80::1%eth0", 32, 64, "fe80::/64"),
        ("unknown", 32, 64, "unknown"),
    ],
)
def test_bucket_of(client: str, v4: int, v6: int, bucket: str) -> None:
    assert bucket_of(client, v4, v6) == bucket


def _v6(host: int, network: str = "2001:db8:1:2") -> dict[str, str]:
    return {"REMOTE_ADDR": f"{network}:{host:x}:{host * 7 % 65536:x}:{host:x}:1"}


def test_rotating_addresses_inside_one_ipv6_64_share_one_bucket() -> None:
    """RFC 8981 privacy addresses (or a script) change the address per request; the /64
    stays the subscriber's. Three requests, then 429, whatever the address."""
    rl, _ = limiter(3)
    answers = [rl.check(_v6(host), "GET") for host in range(1, 6)]
    assert [a.status if a else None for a in answers] == [None, None, None, 429, 429]


def test_another_64_is_another_client() -> None:
    rl, _ = limiter(1)
    assert rl.check(_v6(1), "GET") is None
    assert rl.check(_v6(2), "GET") is not None
    assert rl.check(_v6(1, network="2001:db8:1:3"), "GET") is None


def test_ipv4_addresses_keep_their_own_buckets_by_default() -> None:
    """Carrier-grade NAT puts unrelated customers side by side: one IPv4 address each."""
    rl, _ = limiter(1)
    assert rl.check({"REMOTE_ADDR": "192.0.2.1"}, "GET") is None
    assert rl.check({"REMOTE_ADDR": "192.0.2.2"}, "GET") is None


def test_an_ipv4_prefix_groups_a_network_when_asked() -> None:
    rl, _ = limiter(1, ipv4_prefix=24)
    assert rl.check({"REMOTE_ADDR": "192.0.2.1"}, "GET") is None
    assert rl.check({"REMOTE_ADDR": "192.0.2.200"}, "GET") is not None
    assert rl.check({"REMOTE_ADDR": "192.0.3.1"}, "GET") is None


def test_a_forwarded_ipv6_client_is_bucketed_by_its_64() -> None:
    """Behind a trusted proxy the vouched-for address is bucketed the same way."""
    rl, _ = limiter(1, trusted_proxies=TRUSTED)
    first = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "2001:db8:9:9::1"}
    second = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "2001:db8:9:9:ffff::2"}
    assert rl.check(first, "GET") is None
    assert rl.check(second, "GET") is not None


def test_the_throttle_log_names_the_address_and_its_network(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rl, _ = limiter(1)
    rl.check(_v6(1), "GET")
    with caplog.at_level("WARNING", logger="mediaserve"):
        rl.check(_v6(2), "GET")
    assert "2001:db8:1:2:2:e:2:1" in caplog.text
    assert "by 2001:db8:1:2::/64" in caplog.text
    assert caplog.records[0].mediaserve_bucket == "2001:db8:1:2::/64"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ipv6_prefix": 16}, "ipv6_prefix must be from 32 to 128, not 16"),
        ({"ipv6_prefix": 129}, "ipv6_prefix must be from 32 to 128, not 129"),
        ({"ipv4_prefix": 8}, "ipv4_prefix must be from 16 to 32, not 8"),
        ({"ipv4_prefix": 33}, "ipv4_prefix must be from 16 to 32, not 33"),
        ({"ipv4_prefix": True}, "ipv4_prefix must be a prefix length"),
        ({"ipv6_prefix": "64"}, "ipv6_prefix must be a prefix length .* not '64'"),
    ],
)
def test_nonsense_prefixes_are_refused_with_the_range(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        limiter(1, **kwargs)


def test_memory_store_behaves_like_a_cache() -> None:
    """add does not overwrite, incr/decr of a missing or expired key raise ValueError (as
    Django's caches do), entries expire after their timeout."""
    from mediaserve.ratelimit import MemoryStore

    clock = Clock(100.0)
    store = MemoryStore(clock=clock)
    assert store.add("k", 0, 10) is True
    assert store.add("k", 5, 10) is False
    assert store.incr("k") == 1
    assert store.decr("k") == 0
    assert store.get_many(["k", "missing"]) == {"k": 0}
    clock.now += 10
    assert store.get_many(["k"]) == {}
    with pytest.raises(ValueError, match="not found"):
        store.incr("k")


def test_the_limiter_works_on_the_memory_store() -> None:
    from mediaserve.ratelimit import MemoryStore

    clock = Clock(6_000_000.0)
    rl = RateLimiter(MemoryStore(clock=clock), 2, 60, clock=clock)
    assert [rl.hit("a"), rl.hit("a"), rl.hit("a")] == [0, 0, 60]


def test_an_unreachable_store_fails_open_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis down (here: a real RedisCache pointed at a closed port) must not turn media
    into 500s: requests pass unlimited and one ERROR line says why."""
    pytest.importorskip("redis")
    from django.core.cache.backends.redis import RedisCache

    from harness import free_port

    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", {})
    rl = RateLimiter(cache, 1, 60)  # type: ignore[arg-type]
    meta = {"REMOTE_ADDR": "192.0.2.5"}
    with caplog.at_level("ERROR", logger="mediaserve"):
        assert [rl.check(meta, "GET") for _ in range(3)] == [None, None, None]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "store unavailable" in errors[0].getMessage()
