"""The hot cache: small public files answered from memory, never stale, byte for byte the same.

Every answer from the cache is compared with the answer of the same mediaserve without it
(the oracle: ``LocalSource(hot=None)``), in the same process on the same tree: status, every
header and the body. The files change between requests in every way the cache must notice
(rename over, truncate, in-place rewrite with the same size, mtime put back, chmod, delete,
a directory or the file swapped for a symlink) and the answer must be the new one at once.

The racy margin is 50 ms here (2 s by default) so that files settle within a test; it stays
far above the file system's timestamp granularity (a jiffy, at most 10 ms on Linux), which is
what the rule needs. The concurrent and property tests are in ``test_hot_cache_load.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from hot_support import Pair, call, write

from mediaserve.access.rules import Access
from mediaserve.http.plan import ServeOptions
from mediaserve.pipeline import Mount
from mediaserve.sources.local import (
    HotCache,
    HotLimits,
    LocalSource,
    _network_fs,
    filesystem_type,
)

MARGIN = 0.05


def settle() -> None:
    """Let every file written so far become older than the racy margin."""
    time.sleep(MARGIN * 1.5)


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    root = tmp_path / "media"
    root.mkdir()
    write(root / "a.jpg", b"A" * 5000)
    write(root / "sub" / "b.txt", b"version one of b\n" * 100)
    write(root / "page.html", b"<script>alert(1)</script>")
    write(root / "empty.bin", b"")
    settle()
    return Pair(root, HotLimits(racy_margin=MARGIN))


def test_a_settled_file_is_answered_from_memory_exactly_as_from_disk(pair: Pair) -> None:
    first = pair.both("a.jpg")
    assert first[0] == "200 OK"
    assert "a.jpg" in pair.cache._entries
    # From here the hot answer is the memoised one: still identical, header for header.
    for _ in range(3):
        assert pair.both("a.jpg") == first
    assert pair.cache.hits >= 3


@pytest.mark.parametrize(
    "headers",
    [
        {"method": "HEAD"},
        {"Range": "bytes=0-99"},
        {"Range": "bytes=-10"},
        {"Range": "bytes=4990-"},
        {"Range": "bytes=0-0,10-20,4000-"},  # multipart/byteranges
        {"Range": "bytes=9000-"},  # 416
        {"Range": "bytes=abc"},  # malformed: ignored, 200
        {"If-Range": '"nope"', "Range": "bytes=0-9"},  # validator fails: whole 200
        {"If-None-Match": "*"},
        {"If-Modified-Since": "Sun, 06 Nov 2044 08:49:37 GMT"},
        {"If-Match": '"nope"'},  # 412
        {"If-Unmodified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()),
)
def test_ranges_and_preconditions_answer_as_without_the_cache(
    pair: Pair, headers: dict[str, str]
) -> None:
    """Multipart boundaries are random per response, so those are compared by structure."""
    pair.both("a.jpg")  # admitted
    if "," in headers.get("Range", ""):
        hot = call(pair.hot, "/media/a.jpg", **headers)
        cold = call(pair.oracle, "/media/a.jpg", **headers)
        assert hot[0] == cold[0] == "206 Partial Content"
        strip = {"content-type", "content-length"}
        assert [h for h in hot[1] if h[0].lower() not in strip] == [
            h for h in cold[1] if h[0].lower() not in strip
        ]
        mark = dict(hot[1])["Content-Type"].split("boundary=")[1].encode()
        other = dict(cold[1])["Content-Type"].split("boundary=")[1].encode()
        assert hot[2] == cold[2].replace(other, mark)
        return
    pair.both("a.jpg", **headers)


def test_the_etag_revalidation_is_a_304_from_memory(pair: Pair) -> None:
    _, headers, _ = pair.both("a.jpg")
    etag = dict(headers)["ETag"]
    status, _, body = pair.both("a.jpg", If_None_Match=etag)
    assert status.startswith("304")
    assert body == b""


@pytest.mark.parametrize("name", ["page.html", "empty.bin", "sub/b.txt"])
def test_active_types_empty_files_and_nested_names_too(pair: Pair, name: str) -> None:
    first = pair.both(name)
    assert pair.both(name) == first
    assert name in pair.cache._entries


def test_a_fresh_file_is_not_trusted_until_it_settles(pair: Pair) -> None:
    """The racy-git rule: written less than the margin ago, its bytes are not kept."""
    path = pair.root / "fresh.bin"
    write(path, b"1" * 300)
    before = pair.cache.too_fresh
    assert pair.both("fresh.bin")[2] == b"1" * 300
    assert "fresh.bin" not in pair.cache._entries
    assert pair.cache.too_fresh == before + 1
    settle()
    pair.both("fresh.bin")
    assert "fresh.bin" in pair.cache._entries


def test_a_same_size_rewrite_in_the_same_tick_is_seen(pair: Pair) -> None:
    """Written, read, rewritten in place with the same size at once: the second write can
    land in the same timestamp tick, so the first read must not have been cached."""
    path = pair.root / "tick.bin"
    write(path, b"x" * 4096)
    assert pair.both("tick.bin")[2] == b"x" * 4096
    with path.open("r+b") as f:
        f.write(b"y" * 4096)
    assert pair.both("tick.bin")[2] == b"y" * 4096


def test_a_same_size_rewrite_of_a_cached_file_is_seen(pair: Pair) -> None:
    path = pair.root / "a.jpg"
    pair.both("a.jpg")
    assert "a.jpg" in pair.cache._entries
    with path.open("r+b") as f:
        f.write(b"B" * 5000)
    assert pair.both("a.jpg")[2] == b"B" * 5000


def test_a_rewrite_with_the_old_mtime_put_back_is_seen(pair: Pair) -> None:
    """``cp -p`` / ``rsync -t`` restore the mtime; the kernel still moves the ctime."""
    path = pair.root / "a.jpg"
    pair.both("a.jpg")
    st = path.stat()
    with path.open("r+b") as f:
        f.write(b"C" * 5000)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns
    assert pair.both("a.jpg")[2] == b"C" * 5000


def test_a_replaced_file_is_seen(pair: Pair) -> None:
    pair.both("a.jpg")
    write(pair.root / "a.jpg", b"D" * 5000)  # same size, new inode
    assert pair.both("a.jpg")[2] == b"D" * 5000


def test_a_truncated_file_is_seen(pair: Pair) -> None:
    pair.both("a.jpg")
    os.truncate(pair.root / "a.jpg", 10)
    assert pair.both("a.jpg")[2] == b"A" * 10


def test_a_deleted_file_is_a_404_at_once(pair: Pair) -> None:
    pair.both("sub/b.txt")
    (pair.root / "sub" / "b.txt").unlink()
    assert pair.both("sub/b.txt")[0].startswith("404")
    assert "sub/b.txt" not in pair.cache._entries


def test_a_removed_directory_is_a_404_at_once(pair: Pair) -> None:
    pair.both("sub/b.txt")
    (pair.root / "sub").rename(pair.root.parent / "moved-away")
    assert pair.both("sub/b.txt")[0].startswith("404")


def test_chmod_drops_the_entry(pair: Pair) -> None:
    """The mode is part of the signature (and chmod moves the ctime): the next request takes
    the full lookup, which refuses an unreadable file (as any user but root)."""
    pair.both("a.jpg")
    (pair.root / "a.jpg").chmod(0o000)
    status = pair.both("a.jpg")[0]
    assert "a.jpg" not in pair.cache._entries or status.startswith("200")
    if os.geteuid() != 0:
        assert status.startswith("404")
    (pair.root / "a.jpg").chmod(0o644)
    assert pair.both("a.jpg")[0] == "200 OK"


def test_the_file_swapped_for_a_symlink_is_refused(pair: Pair, tmp_path: Path) -> None:
    pair.both("a.jpg")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"secret")
    (pair.root / "a.jpg").unlink()
    (pair.root / "a.jpg").symlink_to(outside)
    assert pair.both("a.jpg")[0].startswith("404")


def test_a_directory_swapped_for_a_symlink_to_other_files_is_refused(
    pair: Pair, tmp_path: Path
) -> None:
    pair.both("sub/b.txt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.txt").write_bytes(b"not the media file")
    (pair.root / "sub").rename(tmp_path / "old-sub")
    (pair.root / "sub").symlink_to(elsewhere)
    assert pair.both("sub/b.txt")[0].startswith("404")


def test_private_and_signed_names_are_never_kept(tmp_path: Path) -> None:
    root = tmp_path / "media"
    write(root / "private" / "p.txt", b"private bytes")
    write(root / "public.txt", b"public bytes")
    settle()
    access = Access({"private/": "private"}, permission=lambda request, name: True)
    pair = Pair(root, HotLimits(racy_margin=MARGIN), access=access)
    assert pair.both("private/p.txt")[0] == "200 OK"
    assert pair.both("public.txt")[0] == "200 OK"
    assert set(pair.cache._entries) == {"public.txt"}


def test_the_cache_stays_within_its_limits(tmp_path: Path) -> None:
    root = tmp_path / "media"
    for i in range(20):
        write(root / f"{i}.bin", bytes([i]) * 10_000)
    write(root / "big.bin", b"b" * 50_000)
    settle()
    limits = HotLimits(max_bytes=5 * (10_000 + HotCache.entry_overhead), max_file=40_000,
                       racy_margin=MARGIN)  # fmt: skip
    pair = Pair(root, limits)
    for round_ in range(3):
        for i in range(20):
            assert pair.both(f"{i}.bin")[2] == bytes([i]) * 10_000, round_
            assert pair.cache.size <= limits.max_bytes
    assert len(pair.cache) == 5
    assert pair.cache.evicted >= 15
    pair.both("big.bin")
    assert "big.bin" not in pair.cache._entries


def test_a_frequently_used_entry_survives_a_scan(tmp_path: Path) -> None:
    """CLOCK: an entry hit since the last sweep gets a second chance."""
    root = tmp_path / "media"
    for i in range(10):
        write(root / f"{i}.bin", bytes([i]) * 1000)
    settle()
    pair = Pair(root, HotLimits(max_bytes=4 * (1000 + HotCache.entry_overhead),
                                racy_margin=MARGIN))  # fmt: skip
    for i in range(1, 10):
        pair.both("0.bin")
        pair.both(f"{i}.bin")
    assert "0.bin" in pair.cache._entries


def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    assert LocalSource(tmp_path, hot=None).hot is None
    assert LocalSource(tmp_path, hot=HotLimits(max_bytes=0)).hot is None
    assert LocalSource(tmp_path, follow_symlinks=True).hot is None
    mount = Mount.create(tmp_path, "/media/", ServeOptions(), hot=None)
    assert isinstance(mount.source, LocalSource)
    assert mount.source.hot is None


def test_network_file_systems_get_no_cache() -> None:
    for network in ("nfs4", "fuse.sshfs", "cifs"):
        assert _network_fs(network)
    for local in ("ext4", "tmpfs", "xfs", None):
        assert not _network_fs(local)
    assert filesystem_type("/proc") == "proc"


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        HotLimits(max_bytes=-1)
    with pytest.raises(ValueError, match="racy margin"):
        HotLimits(racy_margin=-1)


def test_the_django_settings_size_or_turn_off_the_cache(
    tmp_path: Path, example_django: Any
) -> None:
    from django.test import override_settings

    from mediaserve.django.checks.core import check_settings
    from mediaserve.django.pipeline import get_pipeline

    media = {"MEDIA_ROOT": str(tmp_path), "MEDIA_URL": "/media/"}

    def source() -> LocalSource:
        pipeline = get_pipeline()
        assert pipeline is not None
        assert isinstance(pipeline.mount.source, LocalSource)
        return pipeline.mount.source

    with override_settings(**media, MEDIASERVE={}):
        hot = source().hot
        assert hot is not None
        assert (hot.max_bytes, hot.max_file) == (32 * 1024 * 1024, 256 * 1024)
    sized = {"HOT_CACHE_SIZE": 1_000_000, "HOT_CACHE_MAX_FILE": 50_000}
    with override_settings(**media, MEDIASERVE=sized):
        hot = source().hot
        assert hot is not None
        assert (hot.max_bytes, hot.max_file) == (1_000_000, 50_000)
    with override_settings(**media, MEDIASERVE={"HOT_CACHE": False}):
        assert source().hot is None
    with override_settings(**media, MEDIASERVE={"HOT_CACHE_SIZE": -1}):
        [error] = check_settings()
        assert error.id == "mediaserve.E001"
        assert "HOT_CACHE_SIZE" in error.msg
        assert "HOT_CACHE to False" in error.msg


def test_an_offloaded_hot_file_gets_the_same_headers_without_being_opened(pair: Pair) -> None:
    """Behind nginx (X-Accel-Redirect) the app sends headers only: a hot entry's validated
    metadata plans them, exactly as the full lookup would."""
    from mediaserve.pipeline.offload import Offload

    offload = Pair(pair.root, HotLimits(racy_margin=MARGIN), offload=Offload("x-accel-redirect"))
    via = {"X-Mediaserve-Offload": "x-accel-redirect"}
    offload.both("a.jpg")  # admitted (served in-process: no proxy announced)
    hits = offload.cache.hits
    status, headers, body = offload.both("a.jpg", **via)
    assert status == "200 OK"
    assert body == b""
    assert dict(headers)["X-Accel-Redirect"] == "/_mediaserve/a.jpg"
    assert offload.cache.hits > hits
    # Again: now the kept offload outcome, through the plain-request lane (one stat).
    hits = offload.cache.hits
    assert offload.both("a.jpg", **via) == (status, headers, body)
    assert offload.cache.hits == hits + 1
    # A proxy announcing another method gets the bytes from the app, as without the cache.
    assert offload.both("a.jpg", **{"X-Mediaserve-Offload": "x-sendfile"})[2] == b"A" * 5000
    (pair.root / "a.jpg").unlink()  # gone: the full lookup answers, a 404 at once
    assert offload.both("a.jpg", **via)[0].startswith("404")
