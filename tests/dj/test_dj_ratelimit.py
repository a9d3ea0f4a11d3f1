"""MEDIASERVE["RATE_LIMIT"] through Django's view, middleware and ASGI wrapper (a LocMemCache
per test), and its system checks. Two workers sharing Redis: tests/security/test_rate_limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client, override_settings

from harness import MediaTree
from mediaserve.django.asgi import get_asgi_application
from unit.support import asgi_headers, http_scope, run_asgi


def caches() -> dict[str, Any]:
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                        "LOCATION": uuid.uuid4().hex}}  # fmt: skip


@pytest.fixture
def limited(media_settings: MediaTree) -> Iterator[MediaTree]:
    with override_settings(CACHES=caches(), MEDIASERVE={"RATE_LIMIT": 2}):
        yield media_settings


def test_the_view_answers_429_with_retry_after_past_the_limit(limited: MediaTree) -> None:
    statuses = [Client().get("/media/hello.txt").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = Client().get("/media/hello.txt")
    assert int(response["Retry-After"]) >= 1
    assert response["Cache-Control"] == "no-store"


def test_the_middleware_counts_a_request_once(limited: MediaTree) -> None:
    """Middleware first, then the view for the same request: one count, not two."""
    stack = ["mediaserve.django.middleware.MediaMiddleware"]
    with override_settings(MIDDLEWARE=stack):
        statuses = [Client().get("/media/hello.txt").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_forwarded_for_is_ignored_without_trusted_proxies(limited: MediaTree) -> None:
    """Otherwise each request could claim a new address and never be limited."""
    statuses = [
        Client().get("/media/hello.txt", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_the_asgi_wrapper_limits_before_django(limited: MediaTree) -> None:
    app = get_asgi_application()
    answers = [run_asgi(app, http_scope("/media/hello.txt")) for _ in range(3)]
    assert [a[0]["status"] for a in answers] == [200, 200, 429]
    assert int(asgi_headers(answers[2])["retry-after"]) >= 1


def _ids(**mediaserve: Any) -> list[str]:
    with override_settings(MEDIASERVE=mediaserve):
        return [m.id or "" for m in run_checks()]


@pytest.mark.parametrize(
    ("mediaserve", "check_id"),
    [
        ({"RATE_LIMIT": 0}, "mediaserve.E044"),
        ({"RATE_LIMIT": 10, "RATE_LIMIT_CACHE": "nowhere"}, "mediaserve.E045"),
        ({"RATE_LIMIT": 10, "RATE_LIMIT_TRUSTED_PROXIES": ["proxy.local"]}, "mediaserve.E046"),
        ({"RATE_LIMIT": 10}, "mediaserve.W042"),
    ],
)
def test_rate_limit_settings_are_checked(
    limited: MediaTree, mediaserve: dict[str, Any], check_id: str
) -> None:
    """W042: a LocMemCache keeps one bucket per worker, multiplying the limit."""
    assert check_id in _ids(**mediaserve)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("RATE_LIMIT_IPV6_PREFIX", 200, "must be from 32 to 128, not 200"),
        ("RATE_LIMIT_IPV6_PREFIX", "64", "must be int, not '64'"),
        ("RATE_LIMIT_IPV4_PREFIX", 0, "must be from 16 to 32, not 0"),
        ("RATE_LIMIT_IPV4_PREFIX", True, "must be int, not True"),
    ],
)
def test_bad_prefix_lengths_are_e001_naming_the_key(
    limited: MediaTree, key: str, value: object, words: str
) -> None:
    with override_settings(MEDIASERVE={"RATE_LIMIT": 10, key: value}):
        messages = [m for m in run_checks() if m.id == "mediaserve.E001"]
    assert len(messages) == 1
    assert f"MEDIASERVE[{key!r}]" in messages[0].msg
    assert words in messages[0].msg


def test_the_view_limits_an_ipv6_64_as_one_client(limited: MediaTree) -> None:
    settings = {"RATE_LIMIT": 2, "RATE_LIMIT_WINDOW": 3600}
    with override_settings(MEDIASERVE=settings):
        statuses = [
            Client(REMOTE_ADDR=f"2001:db8:5:6::{i:x}").get("/media/hello.txt").status_code
            for i in range(1, 5)
        ]
        other = Client(REMOTE_ADDR="2001:db8:5:7::1").get("/media/hello.txt").status_code
    assert statuses == [200, 200, 429, 429]
    assert other == 200


def test_the_prefix_settings_reach_the_limiter(limited: MediaTree) -> None:
    settings = {"RATE_LIMIT": 1, "RATE_LIMIT_WINDOW": 3600, "RATE_LIMIT_IPV6_PREFIX": 128}
    with override_settings(MEDIASERVE=settings):
        statuses = [
            Client(REMOTE_ADDR=f"2001:db8:5:8::{i:x}").get("/media/hello.txt").status_code
            for i in range(1, 4)
        ]
    assert statuses == [200, 200, 200]  # /128: every address its own bucket


def test_a_shared_cache_passes_the_checks(limited: MediaTree) -> None:
    redis = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                         "LOCATION": "redis://127.0.0.1:1/0"}}  # fmt: skip
    with override_settings(CACHES=redis):
        ids = _ids(RATE_LIMIT=10, RATE_LIMIT_TRUSTED_PROXIES=["10.0.0.0/8"])
    assert not [i for i in ids if i.startswith(("mediaserve.E04", "mediaserve.W04"))]
