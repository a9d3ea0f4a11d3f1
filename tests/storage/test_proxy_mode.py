"""Proxy mode against a real SeaweedFS, through real servers: gunicorn (WSGI, gthread) and
uvicorn (ASGI), through the Django view and through mediaserve's WSGI/ASGI wrappers. Every
answer is compared byte for byte with what was uploaded; the status logic is the local
planner's, so these tests check that the HEAD/ranged-GET plumbing feeds it the right
metadata and fetches exactly the planned bytes."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from storage_support import BUCKET, UNICODE_KEY, start_site, storage_setting

from harness import SeaweedS3, ServerProcess, curl, process_group_members, raw_request


@pytest.fixture(scope="module", params=["wsgi", "asgi", "wrapped-wsgi", "wrapped-asgi"])
def site(
    request: pytest.FixtureRequest, seaweed: SeaweedS3, bucket: dict[str, bytes]
) -> Iterator[ServerProcess]:
    """The Django view under gunicorn and uvicorn, and the WSGI/ASGI wrappers that answer
    media before Django runs (no media URL pattern at all)."""
    kind = str(request.param)
    server = start_site(
        storage_setting(seaweed, MODE="proxy"), asgi=kind.endswith("asgi"),
        wrapped=kind.startswith("wrapped"),
    )  # fmt: skip
    yield server
    server.stop()


def test_get_is_byte_exact_with_validators(site: ServerProcess, bucket: dict[str, bytes]) -> None:
    result = curl(site.url("/media/big.bin"))
    assert result.status == 200
    assert result.body == bucket["big.bin"]
    assert result.headers["Content-Length"] == str(len(bucket["big.bin"]))
    assert result.headers["Accept-Ranges"] == "bytes"
    assert re.fullmatch(r'"[0-9a-f]{24}"', result.headers["ETag"])
    assert result.headers["Last-Modified"].endswith(" GMT")


def test_head_has_get_headers_and_no_body(site: ServerProcess) -> None:
    get = curl(site.url("/media/big.bin"))
    # Read to the end of the connection (head=False): any body bytes would show.
    head = raw_request(
        site.host, site.port,
        b"HEAD /media/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        head=False,
    )  # fmt: skip
    assert (head.status, head.body) == (200, b"")
    for name in ("Content-Length", "ETag", "Last-Modified", "Content-Type", "Accept-Ranges"):
        assert head.headers[name] == get.headers[name], name


def test_single_range_is_206_with_exact_bytes(
    site: ServerProcess, bucket: dict[str, bytes]
) -> None:
    data = bucket["big.bin"]
    result = curl(site.url("/media/big.bin"), "-H", "Range: bytes=100000-2100000")
    assert result.status == 206
    assert result.headers["Content-Range"] == f"bytes 100000-2100000/{len(data)}"
    assert result.body == data[100000:2100001]


def test_suffix_range_is_the_tail(site: ServerProcess, bucket: dict[str, bytes]) -> None:
    result = curl(site.url("/media/big.bin"), "-H", "Range: bytes=-1000")
    assert (result.status, result.body) == (206, bucket["big.bin"][-1000:])


def test_multi_range_is_multipart_with_exact_parts(
    site: ServerProcess, bucket: dict[str, bytes]
) -> None:
    """Two ranges: one ranged GET each, framed by the planner's multipart layout."""
    data = bucket["big.bin"]
    result = curl(site.url("/media/big.bin"), "-H", "Range: bytes=0-9, 2000000-2000099")
    assert result.status == 206
    match = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", result.headers["Content-Type"])
    assert match
    boundary = match.group(1).encode()
    parts = result.body.split(b"--" + boundary)
    assert parts[-1] == b"--\r\n"
    bodies = [p.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n") for p in parts[1:-1]]
    assert bodies == [data[0:10], data[2000000:2000100]]
    assert int(result.headers["Content-Length"]) == len(result.body)


def test_if_none_match_is_304_without_body(site: ServerProcess) -> None:
    etag = curl(site.url("/media/hello.txt"), "-I").headers["ETag"]
    result = curl(site.url("/media/hello.txt"), "-H", f"If-None-Match: {etag}")
    assert (result.status, result.body) == (304, b"")
    assert result.headers["ETag"] == etag


def test_if_modified_since_is_304(site: ServerProcess) -> None:
    modified = curl(site.url("/media/hello.txt"), "-I").headers["Last-Modified"]
    result = curl(site.url("/media/hello.txt"), "-H", f"If-Modified-Since: {modified}")
    assert result.status == 304


def test_if_range_with_old_etag_sends_the_whole_file(
    site: ServerProcess, bucket: dict[str, bytes]
) -> None:
    """A resumed download of a version that is gone must restart, not splice two versions."""
    result = curl(site.url("/media/hello.txt"), "-H", "Range: bytes=5-", "-H", 'If-Range: "old"')
    assert (result.status, result.body) == (200, bucket["hello.txt"])


def test_unsatisfiable_range_is_416(site: ServerProcess, bucket: dict[str, bytes]) -> None:
    result = curl(site.url("/media/hello.txt"), "-H", "Range: bytes=999999-")
    assert result.status == 416
    assert result.headers["Content-Range"] == f"bytes */{len(bucket['hello.txt'])}"


def test_empty_object_is_an_empty_200(site: ServerProcess) -> None:
    result = curl(site.url("/media/empty.txt"))
    assert (result.status, result.body, result.headers["Content-Length"]) == (200, b"", "0")


def test_missing_key_is_404(site: ServerProcess) -> None:
    result = curl(site.url("/media/no-such-object.jpg"))
    assert result.status == 404
    assert result.headers["Cache-Control"] == "no-cache"


def test_key_with_spaces_and_unicode_is_served(
    site: ServerProcess, bucket: dict[str, bytes]
) -> None:
    result = curl(site.url("/media/" + quote(UNICODE_KEY)))
    assert (result.status, result.body) == (200, bucket[UNICODE_KEY])


@pytest.mark.parametrize(
    "path",
    [
        "/media/dir/../hello.txt",  # a '..' segment (sent as written: --path-as-is)
        "/media/dir/%2e%2e/hello.txt",  # encoded dots
        "/media//hello.txt",  # leading slash in the key
        "/media/dir%2fhello.txt",  # encoded slash
        "/media/.hidden",  # dotfile
    ],
)
def test_unsafe_keys_are_404_without_reaching_the_store(site: ServerProcess, path: str) -> None:
    """Keys are checked as text before any request: a store holds any key, so '../x' would
    let a URL reach objects outside the mount's prefix."""
    result = curl(site.url(path))
    assert result.status == 404


def test_active_content_is_a_sandboxed_attachment(site: ServerProcess) -> None:
    """Uploaded HTML from the bucket gets the same neutralisation as local files."""
    result = curl(site.url("/media/page.html"))
    assert result.status == 200
    assert result.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in result.headers["Content-Security-Policy"]


def test_post_is_405(site: ServerProcess) -> None:
    result = curl(site.url("/media/hello.txt"), "-X", "POST")
    assert result.status == 405


MiB = 1024 * 1024
HUGE = "huge.bin"
HUGE_SIZE = 64 * MiB
#: Growth allowed while 64 MiB stream through: chunks queued ahead of the client, the
#: connection pool's buffers, allocator slack. A download-then-send would be +64 MiB.
GROWTH_LIMIT_KIB = 24 * 1024


@pytest.fixture(scope="module")
def huge(seaweed: SeaweedS3, bucket: dict[str, bytes]) -> str:
    seaweed.client().put_object(Bucket=BUCKET, Key=HUGE, Body=b"\x5a" * HUGE_SIZE)
    return HUGE


def _rss_kib(server: ServerProcess) -> int:
    """Resident memory of the server's whole process group (master and workers)."""
    total = 0
    assert server.pid is not None
    for pid in process_group_members(server.pid):
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def test_a_64_mib_object_streams_without_buffering(site: ServerProcess, huge: str) -> None:
    """Proxy mode never downloads the object before sending it: RSS is sampled every 8 MiB
    the client receives (the first sample right after the first body bytes), and the
    bytes are counted and checked as they arrive."""
    curl(site.url("/media/big.bin"))  # warm up: imports, client, connection pool
    before = _rss_kib(site)
    peak = before
    received = 0
    with socket.create_connection((site.host, site.port), timeout=30) as sock:
        sock.sendall(f"GET /media/{huge} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        buffer = bytearray(1 << 20)
        head = b""
        while b"\r\n\r\n" not in head:
            count = sock.recv_into(buffer)
            assert count
            head += bytes(buffer[:count])
        status_line, _, rest = head.partition(b"\r\n")
        assert status_line.split()[1] == b"200"
        body_start = rest.partition(b"\r\n\r\n")[2]
        assert set(body_start) <= {0x5A}
        received = len(body_start)
        next_sample = 0
        while count := sock.recv_into(buffer):
            assert set(buffer[:count]) == {0x5A}
            received += count
            if received >= next_sample:
                peak = max(peak, _rss_kib(site))
                next_sample += 8 * MiB
    assert received == HUGE_SIZE
    assert peak - before < GROWTH_LIMIT_KIB, f"RSS {before} KiB -> peak {peak} KiB"
