"""The pure planner: RFC 9110 decisions from (method, request fields, file metadata, options)."""

from __future__ import annotations

import pytest

from mediaserve.http.dates import format_http_date
from mediaserve.http.etags import make_etag
from mediaserve.http.plan import (
    FileMeta,
    FilePart,
    RequestHeaders,
    ServeOptions,
    method_not_allowed,
    not_found,
    plan,
)

MTIME = 1_700_000_000
META = FileMeta(name="photo.jpg", size=1000, mtime_ns=MTIME * 10**9 + 123_456_789, identity="8:42")
ETAG = str(make_etag(META.size, META.mtime_ns, META.identity))
LAST_MODIFIED = format_http_date(MTIME)
EARLIER = format_http_date(MTIME - 60)
LATER = format_http_date(MTIME + 60)
OPTS = ServeOptions()


def get(meta: FileMeta = META, options: ServeOptions = OPTS, **fields: str):  # type: ignore[no-untyped-def]
    return plan("GET", RequestHeaders(**fields), meta, options)


# -- the plain response ------------------------------------------------------------------------


def test_plain_get_is_200_with_the_whole_file() -> None:
    result = get()
    assert result.status == 200
    assert result.body == (FilePart(0, 1000),)
    assert result.whole_file


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Content-Type", "image/jpeg"),
        ("Content-Length", "1000"),
        ("ETag", ETAG),
        ("Last-Modified", LAST_MODIFIED),
        ("Accept-Ranges", "bytes"),  # §14.3
        ("Cache-Control", "public, max-age=3600"),
        ("X-Content-Type-Options", "nosniff"),
    ],
)
def test_file_response_header(name: str, value: str) -> None:
    assert get().header(name) == value


def test_etag_is_strong() -> None:
    """§8.8.3: a strong validator (no W/ prefix): ranges and If-Range depend on it."""
    assert ETAG.startswith('"')
    assert not ETAG.startswith("W/")


@pytest.mark.parametrize(
    "changed",
    [
        META._replace(size=1001),
        META._replace(mtime_ns=META.mtime_ns + 1),  # sub-second change
        META._replace(identity="8:43"),  # same size and time, other inode (replaced file)
    ],
)
def test_etag_changes_with_the_file_identity(changed: FileMeta) -> None:
    assert str(make_etag(changed.size, changed.mtime_ns, changed.identity)) != ETAG


def test_head_has_the_headers_and_no_body() -> None:
    """§9.3.2."""
    result = plan("HEAD", RequestHeaders(), META, OPTS)
    assert (result.status, result.body, result.header("Content-Length")) == (200, (), "1000")


def test_empty_file_is_200_with_length_zero_and_no_body() -> None:
    result = get(META._replace(size=0))
    assert (result.status, result.body, result.header("Content-Length")) == (200, (), "0")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"])
def test_other_methods_are_405_with_allow(method: str) -> None:
    """§15.5.6: 405 must carry Allow. Methods are case-sensitive (§9.1)."""
    result = plan(method, RequestHeaders(), META, OPTS)
    assert result.status == 405
    assert result.header("Allow") == "GET, HEAD"
    assert method_not_allowed().status == 405


def test_not_found_has_a_body_for_get_and_none_for_head() -> None:
    assert not_found("GET").status == 404
    assert not_found("GET").body
    assert not_found("HEAD").body == ()


def test_cache_control_is_configurable() -> None:
    options = ServeOptions(cache_control="private, no-store")
    assert get(options=options).header("Cache-Control") == "private, no-store"


def test_extra_headers_are_added() -> None:
    options = ServeOptions(extra_headers=(("Cross-Origin-Resource-Policy", "cross-origin"),))
    assert get(options=options).header("Cross-Origin-Resource-Policy") == "cross-origin"


def test_extra_headers_with_line_breaks_are_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="line break"):
        ServeOptions(extra_headers=(("X-A", "b\r\nSet-Cookie: x"),))


# -- active content ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["page.html", "page.htm", "logo.svg", "feed.xml", "app.js",
                                  "data.xhtml", "noextension", "file.unknownext"])  # fmt: skip
def test_active_or_unknown_content_is_a_sandboxed_attachment(name: str) -> None:
    result = get(META._replace(name=name))
    assert (result.header("Content-Disposition") or "").startswith("attachment")
    assert result.header("Content-Security-Policy") == "sandbox; default-src 'none'"


@pytest.mark.parametrize("name", ["photo.jpg", "voice.ogg", "clip.mp4", "invoice.pdf"])
def test_passive_content_is_inline(name: str) -> None:
    assert get(META._replace(name=name)).header("Content-Disposition") is None


def test_neutralising_can_be_turned_off() -> None:
    result = get(META._replace(name="page.html"), ServeOptions(neutralise_active=False))
    assert result.header("Content-Disposition") is None


# -- ranges (§14) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-499", 0, 499),
        ("bytes=500-", 500, 999),  # §14.1.1 int-range without last-pos
        ("bytes=-200", 800, 999),  # §14.1.1 suffix-range
        ("bytes=-5000", 0, 999),  # suffix longer than the file: the whole file
        ("bytes=900-5000", 900, 999),  # last-pos past the end is clamped (§14.1.2)
        ("BYTES=1-2", 1, 2),  # §14.1: range-unit is case-insensitive
        ("bytes=1-2, ,", 1, 2),  # §5.6.1: empty list elements are ignored
    ],
)
def test_single_range_is_206(spec: str, first: int, last: int) -> None:
    result = get(range=spec)
    assert result.status == 206
    assert result.header("Content-Range") == f"bytes {first}-{last}/1000"
    assert result.header("Content-Length") == str(last - first + 1)
    assert result.body == (FilePart(first, last - first + 1),)


@pytest.mark.parametrize(
    "spec",
    ["bytes=5-1", "bytes=abc", "items=0-1", "bytes", "bytes=", "bytes=1", "bytes=--1",
     "bytes=0-1,x", "bytes=99999999999999999999-", " "],
)  # fmt: skip
def test_malformed_range_is_ignored(spec: str) -> None:
    """§14.2: a server MAY ignore Range; an invalid one gets the whole file, not a 4xx."""
    assert get(range=spec).status == 200


@pytest.mark.parametrize("spec", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_size(spec: str) -> None:
    """§15.5.17: 416 with Content-Range: bytes */complete-length."""
    result = get(range=spec)
    assert result.status == 416
    assert result.header("Content-Range") == "bytes */1000"


def test_range_on_an_empty_file_is_ignored() -> None:
    """§14.1.3: nothing in a zero-length representation can be addressed."""
    assert get(META._replace(size=0), range="bytes=0-0").status == 200


def test_range_on_head_is_ignored() -> None:
    """§14.2: GET is the only method for which range handling is defined."""
    assert plan("HEAD", RequestHeaders(range="bytes=0-0"), META, OPTS).status == 200


def test_multiple_ranges_are_multipart_byteranges() -> None:
    """§14.6: one part per range, each with its Content-Type and Content-Range."""
    result = plan("GET", RequestHeaders(range="bytes=0-9,100-109"), META, OPTS, boundary="BOUNDARY")
    assert result.status == 206
    assert result.header("Content-Type") == "multipart/byteranges; boundary=BOUNDARY"
    literal = b"".join(s for s in result.body if isinstance(s, bytes))
    assert b"Content-Range: bytes 0-9/1000" in literal
    assert b"Content-Range: bytes 100-109/1000" in literal
    assert b"Content-Type: image/jpeg" in literal
    assert [s for s in result.body if isinstance(s, FilePart)] == [
        FilePart(0, 10),
        FilePart(100, 10),
    ]
    assert result.header("Content-Length") == str(result.content_length)


def test_overlapping_and_adjacent_ranges_are_merged() -> None:
    """§14.6 lets a server coalesce; it defeats the amplification of §17.15."""
    result = get(range="bytes=0-9,5-19,20-29,500-509")
    parts = [s for s in result.body if isinstance(s, FilePart)]
    assert parts == [FilePart(0, 30), FilePart(500, 10)]


def test_ranges_merging_into_one_are_a_single_part_206() -> None:
    result = get(range="bytes=0-9,10-19")
    assert (result.status, result.header("Content-Range")) == (206, "bytes 0-19/1000")


def test_more_ranges_than_the_cap_get_the_whole_file() -> None:
    """§17.15: many small ranges would multiply work; over max_ranges the file comes once."""
    spec = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(17))
    assert get(range=spec).status == 200
    assert get(range=spec, options=ServeOptions(max_ranges=17)).status == 206


# -- preconditions (§13.2.2 order) -------------------------------------------------------------


def test_if_match_with_the_etag_passes() -> None:
    assert get(if_match=f'"x", {ETAG}').status == 200


@pytest.mark.parametrize("value", ['"other"', f"W/{ETAG}"])
def test_if_match_fails_without_a_strong_match(value: str) -> None:
    """§13.1.1: If-Match uses the strong comparison; a weak tag never matches."""
    result = get(if_match=value)
    assert result.status == 412
    assert result.body == ()


def test_if_match_star_passes_for_an_existing_file() -> None:
    assert get(if_match="*").status == 200


def test_if_unmodified_since_earlier_is_412() -> None:
    assert get(if_unmodified_since=EARLIER).status == 412


def test_if_unmodified_since_is_ignored_when_if_match_is_present() -> None:
    """§13.2.2 step 2 only applies when If-Match is absent."""
    assert get(if_match=ETAG, if_unmodified_since=EARLIER).status == 200


def test_if_unmodified_since_with_an_invalid_date_is_ignored() -> None:
    assert get(if_unmodified_since="yesterday").status == 200


@pytest.mark.parametrize("value", [ETAG, f"W/{ETAG}", f'"a", {ETAG}', "*"])
def test_if_none_match_is_304(value: str) -> None:
    """§13.1.2: weak comparison, so W/ matches too; "*" matches any current representation."""
    result = get(if_none_match=value)
    assert result.status == 304
    assert result.body == ()


def test_304_carries_etag_last_modified_and_cache_control() -> None:
    """§15.4.5: the fields a 200 would have sent that refresh the cache."""
    result = get(if_none_match=ETAG)
    assert result.header("ETag") == ETAG
    assert result.header("Last-Modified") == LAST_MODIFIED
    assert result.header("Cache-Control") == "public, max-age=3600"
    assert result.header("Content-Length") is None


def test_if_none_match_wins_over_if_modified_since() -> None:
    """§13.2.2 step 4 only applies when If-None-Match is absent."""
    assert get(if_none_match='"other"', if_modified_since=LATER).status == 200


@pytest.mark.parametrize(("value", "status"), [(LATER, 304), (LAST_MODIFIED, 304), (EARLIER, 200)])
def test_if_modified_since(value: str, status: int) -> None:
    assert get(if_modified_since=value).status == status


def test_if_match_failure_wins_over_if_none_match() -> None:
    """§13.2.2: step 1 (412) is evaluated before step 3 (304)."""
    assert get(if_match='"other"', if_none_match=ETAG).status == 412


def test_412_wins_over_range() -> None:
    assert get(if_match='"other"', range="bytes=0-0").status == 412


# -- If-Range (§13.1.5) -----------------------------------------------------------------------


def test_if_range_with_the_current_etag_gives_the_range() -> None:
    assert get(range="bytes=0-0", if_range=ETAG).status == 206


def test_if_range_with_another_etag_gives_the_whole_file() -> None:
    assert get(range="bytes=0-0", if_range='"old"').status == 200


def test_if_range_with_a_weak_etag_never_matches() -> None:
    """§13.1.5: If-Range requires the strong comparison."""
    assert get(range="bytes=0-0", if_range=f"W/{ETAG}").status == 200


def test_if_range_with_the_exact_last_modified_date_gives_the_range() -> None:
    assert get(range="bytes=0-0", if_range=LAST_MODIFIED).status == 206


def test_if_range_with_a_later_date_gives_the_whole_file() -> None:
    """§13.1.5: a date must be an exact match."""
    assert get(range="bytes=0-0", if_range=LATER).status == 200
