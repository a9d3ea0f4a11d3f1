"""Redirect mode against a real SeaweedFS through gunicorn: the app answers 302 to a presigned
URL (or the public URL) and the store serves the bytes. The redirect must never outlive the
URL it points to, and the store must refuse the object without a valid, unexpired signature.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from storage_support import BUCKET, UNICODE_KEY, start_site, storage_setting

from harness import SeaweedS3, ServerProcess, curl
from harness.seaweed import PUBLIC_BUCKET

EXPIRY = 300


@pytest.fixture(scope="module")
def site(seaweed: SeaweedS3, bucket: dict[str, bytes]) -> Iterator[ServerProcess]:
    server = start_site(storage_setting(seaweed, MODE="redirect", EXPIRY=EXPIRY))
    yield server
    server.stop()


def _location(site: ServerProcess, name: str, *args: str) -> str:
    result = curl(site.url("/media/" + quote(name)), *args)
    assert result.status == 302, result.body
    return result.headers["Location"]


def test_get_redirects_to_a_presigned_url_of_the_object(
    site: ServerProcess, seaweed: SeaweedS3
) -> None:
    location = _location(site, "big.bin")
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == seaweed.endpoint
    assert parts.path == f"/{BUCKET}/big.bin"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == [str(EXPIRY)]
    assert "X-Amz-Signature" in query


def test_redirect_is_cached_privately_and_for_less_than_the_url_lives(
    site: ServerProcess,
) -> None:
    """A shared cache must not hand one user's signed URL to others, and a browser must not
    reuse a redirect whose target has expired."""
    result = curl(site.url("/media/big.bin"))
    cache = result.headers["Cache-Control"]
    match = re.fullmatch(r"private, max-age=(\d+)", cache)
    assert match, cache
    assert 0 < int(match.group(1)) < EXPIRY
    assert result.headers["Referrer-Policy"] == "no-referrer"


def test_following_the_redirect_is_byte_exact(
    site: ServerProcess, bucket: dict[str, bytes]
) -> None:
    result = curl(site.url("/media/big.bin"), "-L")
    assert [status for status, _ in result.responses] == [302, 200]
    assert result.body == bucket["big.bin"]


def test_range_through_the_redirect_is_206(site: ServerProcess, bucket: dict[str, bytes]) -> None:
    """curl re-sends Range to the Location: players seek through the redirect."""
    result = curl(site.url("/media/big.bin"), "-L", "-H", "Range: bytes=1000-1999")
    assert (result.status, result.body) == (206, bucket["big.bin"][1000:2000])


def test_head_redirects_to_a_url_signed_for_head(
    site: ServerProcess, bucket: dict[str, bytes]
) -> None:
    """SigV4 signs the method: a GET URL followed with HEAD would be a 403."""
    result = curl(site.url("/media/big.bin"), "-I", "-L")
    assert [status for status, _ in result.responses] == [302, 200]
    assert result.headers["Content-Length"] == str(len(bucket["big.bin"]))


def test_revalidation_through_the_redirect_is_the_stores_304(site: ServerProcess) -> None:
    """Conditional requests are answered by the store, with the store's ETag."""
    etag = curl(site.url("/media/hello.txt"), "-L").headers["ETag"]
    result = curl(site.url("/media/hello.txt"), "-L", "-H", f"If-None-Match: {etag}")
    assert [status for status, _ in result.responses] == [302, 304]


def test_unicode_key_redirect_is_byte_exact(site: ServerProcess, bucket: dict[str, bytes]) -> None:
    result = curl(site.url("/media/" + quote(UNICODE_KEY)), "-L")
    assert (result.status, result.body) == (200, bucket[UNICODE_KEY])


def test_object_without_a_signature_is_refused_by_the_store(site: ServerProcess) -> None:
    """The bucket is private: the redirect's signature is what grants the read."""
    location = _location(site, "hello.txt")
    assert curl(location.split("?", 1)[0]).status == 403


def test_tampered_signature_is_refused_by_the_store(site: ServerProcess) -> None:
    location = _location(site, "hello.txt")
    tampered = re.sub(r"X-Amz-Signature=([0-9a-f])", lambda m: "X-Amz-Signature=" + (
        "1" if m.group(1) == "0" else "0"), location)  # fmt: skip
    assert tampered != location
    assert curl(tampered).status == 403


def test_signature_for_one_key_does_not_open_another(site: ServerProcess) -> None:
    location = _location(site, "hello.txt")
    assert curl(location.replace("/hello.txt?", "/big.bin?")).status == 403


def test_missing_key_ends_in_the_stores_404(site: ServerProcess) -> None:
    """Redirect mode does not ask the store first (that is its point); the 404 comes from
    the store at the end of the redirect, still a 404 for the browser."""
    result = curl(site.url("/media/no-such-object.jpg"), "-L")
    assert [status for status, _ in result.responses] == [302, 404]


def test_unsafe_key_is_404_without_a_redirect(site: ServerProcess) -> None:
    assert curl(site.url("/media/dir/../hello.txt")).status == 404
    assert curl(site.url("/media/.hidden")).status == 404


def test_expired_signature_is_refused(seaweed: SeaweedS3, bucket: dict[str, bytes]) -> None:
    """EXPIRY=1: the redirect is not cacheable at all, and its URL is refused once expired."""
    server = start_site(storage_setting(seaweed, MODE="redirect", EXPIRY=1))
    try:
        result = curl(server.url("/media/hello.txt"))
    finally:
        server.stop()
    assert result.status == 302
    assert result.headers["Cache-Control"] == "private, no-store"
    location = result.headers["Location"]
    deadline = time.monotonic() + 10
    status = curl(location).status
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        status = curl(location).status
    assert status == 403


def test_public_url_redirect_is_unsigned_and_cacheable(seaweed: SeaweedS3) -> None:
    """PUBLIC_URL (a CDN or custom domain in front of a public bucket): the redirect points
    there without a signature and is cached like the file, since the URL never expires."""
    if PUBLIC_BUCKET not in {b["Name"] for b in seaweed.client().list_buckets()["Buckets"]}:
        seaweed.create_bucket(PUBLIC_BUCKET)
    seaweed.client().put_object(Bucket=PUBLIC_BUCKET, Key="logo 1.png", Body=b"\x89PNG-ish")
    server = start_site(
        storage_setting(
            seaweed, MODE="redirect", BUCKET=PUBLIC_BUCKET, PUBLIC=True,
            PUBLIC_URL=f"{seaweed.endpoint}/{PUBLIC_BUCKET}/",
        )
    )  # fmt: skip
    try:
        result = curl(server.url("/media/logo%201.png"), "-L")
    finally:
        server.stop()
    first_status, first = result.responses[0]
    assert first_status == 302
    assert first["Location"] == f"{seaweed.endpoint}/{PUBLIC_BUCKET}/logo%201.png"
    assert first["Cache-Control"] == "public, max-age=3600"
    assert (result.status, result.body) == (200, b"\x89PNG-ish")
