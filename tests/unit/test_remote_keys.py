"""Pure parts of object storage support: key checks, redirect caching, sync planning."""

from __future__ import annotations

import pytest

from mediaserve.pipeline.store import redirect_cache_control, unavailable_plan
from mediaserve.sources.base import LookupError_
from mediaserve.sources.remote import object_key
from mediaserve.sync.engine import Entry, normalisation_collisions, plan_sync


@pytest.mark.parametrize(
    "name",
    ["../x.txt", "a/../../x.txt", "/abs.txt", "a//b.txt", "a\\b.txt", "./x", "a/./b",
     ".env", "a/.git/config", "x\x00y", "tab\there", "new\nline", ""],
)  # fmt: skip
def test_unsafe_names_never_become_keys(name: str) -> None:
    """A store holds any key; a URL or a sync must still not reach outside the mount."""
    with pytest.raises(LookupError_):
        object_key(name)


@pytest.mark.parametrize(
    ("name", "location", "key"),
    [
        ("a.jpg", "", "a.jpg"),
        ("products/a b.jpg", "media", "media/products/a b.jpg"),
        ("caf\u00e9.txt", "/media/", "media/caf\u00e9.txt"),
    ],
)
def test_safe_names_map_to_keys_under_the_location(name: str, location: str, key: str) -> None:
    assert object_key(name, location) == key


def test_overlong_key_is_not_found() -> None:
    """S3 keys stop at 1024 bytes: longer names cannot exist, so they are simply absent."""
    with pytest.raises(LookupError_):
        object_key("a" * 1025)


@pytest.mark.parametrize(("expiry", "expected"), [
    (300, "private, max-age=150"),
    (3600, "private, max-age=1800"),
    (100, "private, max-age=40"),
    (60, "private, no-store"),
    (1, "private, no-store"),
])  # fmt: skip
def test_signed_redirect_expires_before_its_url(expiry: int, expected: str) -> None:
    assert redirect_cache_control(expiry, True, "public, max-age=3600") == expected


def test_unsigned_redirect_is_cached_like_the_file() -> None:
    assert redirect_cache_control(300, False, "public, max-age=86400") == "public, max-age=86400"


def test_unavailable_has_retry_after_and_no_body_for_head() -> None:
    head = unavailable_plan("HEAD", 9)
    assert (head.status, head.header("Retry-After"), head.body) == (503, "9", ())
    assert unavailable_plan("GET", 9).header("Cache-Control") == "no-store"


def test_plan_copies_new_and_changed_skips_equal_and_keeps_extra() -> None:
    source = {"new": Entry("new", 1), "grown": Entry("grown", 2), "same": Entry("same", 3),
              "edited": Entry("edited", 4)}  # fmt: skip
    dest = {"grown": Entry("grown", 1), "same": Entry("same", 3), "edited": Entry("edited", 4),
            "extra": Entry("extra", 5)}  # fmt: skip
    actions, extra = plan_sync(source, dest, lambda s, d: s.name == "same", delete=False)
    assert {(a.op, a.name) for a in actions} == {
        ("copy", "new"),
        ("copy", "grown"),
        ("skip", "same"),
        ("copy", "edited"),
    }
    assert extra == ["extra"]


def test_plan_deletes_extra_only_when_asked() -> None:
    actions, extra = plan_sync({}, {"extra": Entry("extra", 5)}, lambda s, d: True, delete=True)
    assert [(a.op, a.name) for a in actions] == [("delete", "extra")]
    assert extra == []


def test_nfc_and_nfd_spellings_collide() -> None:
    refused = normalisation_collisions(["caf\u00e9.txt", "cafe\u0301.txt", "other.txt"])
    assert set(refused) == {"caf\u00e9.txt", "cafe\u0301.txt"}
