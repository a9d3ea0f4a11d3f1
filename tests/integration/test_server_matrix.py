"""RFC 9110 behaviour over real sockets, on every server mediaserve runs under.

Every test runs once per server in ``conftest.SERVERS``; bodies are compared byte for byte with
the files on disk, using real clients: curl (ranges, validators, ``-C -`` resume), aria2c
(segmented download) and ffprobe (a media player's access pattern).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import pytest
from matrix_support import SIZED_FILES, VIDEO, Served, parse_multipart

from harness import curl, require

ALL_FILES = ("hello.txt", "random.bin", "image.png", "nested/deeper/doc.txt", *SIZED_FILES)


@pytest.mark.parametrize("name", ALL_FILES)
def test_get_is_byte_exact(served: Served, name: str) -> None:
    result = curl(served.url(name))
    assert result.status == 200
    assert result.body == served.tree.files[name]
    assert result.headers["content-length"] == str(len(served.tree.files[name]))


def test_unicode_name_with_spaces_is_served(served: Served) -> None:
    name = served.tree.unicode_name
    result = curl(served.url(name))
    assert result.status == 200
    assert result.body == served.tree.files[name]


def test_file_response_headers(served: Served) -> None:
    """§8.8.3 strong ETag, §8.8.2 Last-Modified, §14.3 Accept-Ranges, nosniff, Cache-Control."""
    headers = curl(served.url("image.png")).headers
    assert headers["content-type"] == "image/png"
    assert re.fullmatch(r'"[^"W/]+"', headers["etag"]), headers["etag"]
    assert headers["last-modified"].endswith(" GMT")
    assert headers["accept-ranges"] == "bytes"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "public, max-age=3600"


def _raw_head_block(served: Served, method: str, name: str) -> tuple[bytes, bytes]:
    """(header block, everything after it) of one request, read until the server closes."""
    target = "/media/" + quote(name)
    request = f"{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    with socket.create_connection((served.server.host, served.server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(1 << 20):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _fields(head: bytes) -> list[tuple[str, str]]:
    """The header fields, lower-cased names, Date dropped (it may tick between requests)."""
    fields = []
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() != "date":
            fields.append((name.strip().lower(), value.strip()))
    return sorted(fields)


@pytest.mark.parametrize(
    "name",
    ["sizes/empty.bin", "sizes/one.bin", "sizes/ten-k.bin", "sizes/three-m.bin", "image.png"],
)
def test_head_has_get_headers_and_no_body(served: Served, name: str) -> None:
    """§9.3.2: HEAD answers exactly GET's header fields (Content-Length included), without
    content. Read to the server's close: nothing may follow the header block (curl -I would
    stop reading at the blank line)."""
    get_head, get_body = _raw_head_block(served, "GET", name)
    head_head, head_body = _raw_head_block(served, "HEAD", name)
    assert head_head.startswith(b"HTTP/1.1 200")
    assert _fields(head_head) == _fields(get_head)
    assert ("content-length", str(len(served.tree.files[name]))) in _fields(head_head)
    assert get_body == served.tree.files[name]
    assert head_body == b""


def test_head_ignores_range(served: Served) -> None:
    """§14.2: GET is the only method with range handling; a Range on HEAD is ignored, so
    the answer is the 200's header section (full Content-Length, no Content-Range)."""
    result = curl(served.url("random.bin"), "-I", "-H", "Range: bytes=0-9")
    assert result.status == 200
    assert result.headers["content-length"] == str(len(served.tree.files["random.bin"]))
    assert "content-range" not in result.headers


def test_keep_alive_framing_survives_bodiless_answers(served: Served) -> None:
    """HEAD, 304 and 416 on one persistent connection, then a GET: if any of them wrote a
    byte beyond its framing, the next response would be misparsed (RFC 9112 §6.3)."""
    data = served.tree.files["random.bin"]
    etag = curl(served.url("random.bin")).headers["etag"]
    exchanges = [
        ("HEAD", ""),
        ("GET", f"If-None-Match: {etag}\r\n"),
        ("GET", f"Range: bytes={len(data)}-\r\n"),
        ("GET", "Range: bytes=5-9\r\n"),
        ("GET", ""),
    ]
    with socket.create_connection((served.server.host, served.server.port), timeout=10) as sock:
        stream = sock.makefile("rb")
        answers = []
        for method, extra in exchanges:
            sock.sendall(f"{method} /media/random.bin HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
            status, fields, body = _read_response(stream, head=method == "HEAD")
            answers.append((status, body))
            if fields.get("connection", "").lower() == "close":
                break  # a server may close after each response (gunicorn's sync worker)
    expected = [(200, b""), (304, b""), (416, None), (206, data[5:10]), (200, data)]
    assert len(answers) == len(expected) or served.kind == "gunicorn-sync", answers
    for (status, body), (want_status, want_body) in zip(answers, expected, strict=False):
        assert status == want_status
        if want_body is not None:
            assert body == want_body


def _read_response(stream: BinaryIO, *, head: bool) -> tuple[int, dict[str, str], bytes]:
    """One response framed by Content-Length (none for HEAD and 304, RFC 9112 §6.3)."""
    status = int(stream.readline().split()[1])
    fields: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        fields[name.strip().lower()] = value.strip()
    if head or status == 304:
        return status, fields, b""
    return status, fields, stream.read(int(fields["content-length"]))


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-0", 0, 0),  # the first byte
        ("bytes=100-299", 100, 299),
        ("bytes=-500", 1048576 - 500, 1048575),  # §14.1.2 suffix
        ("bytes=1048000-", 1048000, 1048575),  # open-ended
        ("bytes=1048000-99999999", 1048000, 1048575),  # last-pos past the end is clamped
    ],
)
def test_single_range_is_206_with_exact_bytes(
    served: Served, spec: str, start: int, end: int
) -> None:
    data = served.tree.files["random.bin"]
    result = curl(served.url("random.bin"), "-H", f"Range: {spec}")
    assert result.status == 206
    assert result.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
    assert result.headers["content-length"] == str(end - start + 1)
    assert result.body == data[start : end + 1]


def test_range_in_a_large_file_crosses_chunks(served: Served) -> None:
    data = served.tree.files["sizes/three-m.bin"]
    result = curl(served.url("sizes/three-m.bin"), "-H", "Range: bytes=1000-2999999")
    assert result.status == 206
    assert result.body == data[1000:3000000]


def test_multiple_ranges_are_multipart_byteranges(served: Served) -> None:
    """§14.6: each part carries its Content-Range; overlapping specs are merged."""
    data = served.tree.files["random.bin"]
    result = curl(served.url("random.bin"), "-H", "Range: bytes=0-9,20-29,25-39,-5")
    assert result.status == 206
    parts = parse_multipart(result.headers["content-type"], result.body)
    total = len(data)
    assert parts == [
        (f"bytes 0-9/{total}", data[0:10]),
        (f"bytes 20-39/{total}", data[20:40]),
        (f"bytes {total - 5}-{total - 1}/{total}", data[-5:]),
    ]
    assert result.headers["content-length"] == str(len(result.body))


def test_unsatisfiable_range_is_416(served: Served) -> None:
    """§15.5.17: 416 with Content-Range: bytes */SIZE."""
    size = len(served.tree.files["random.bin"])
    result = curl(served.url("random.bin"), "-H", f"Range: bytes={size}-")
    assert result.status == 416
    assert result.headers["content-range"] == f"bytes */{size}"


def test_a_range_on_an_empty_file_is_ignored(served: Served) -> None:
    """§14.2 lets a server ignore Range, and no byte of a zero-length file has an offset to
    name in a Content-Range: mediaserve answers the (empty) 200 on every server."""
    for spec in ("bytes=0-0", "bytes=-5", "bytes=0-"):
        result = curl(served.url("sizes/empty.bin"), "-H", f"Range: {spec}")
        assert (result.status, result.body) == (200, b""), spec
        assert result.headers["content-length"] == "0"
        assert "content-range" not in result.headers


@pytest.mark.parametrize(
    "spec", ["bytes=abc", "bytes=5-1", "items=0-5", "bytes=--1", "bytes 0-5", "bytes=0-1,,x"]
)
def test_malformed_range_is_ignored(served: Served, spec: str) -> None:
    """§14.2: a server MAY ignore Range; a malformed one must not be an error."""
    result = curl(served.url("hello.txt"), "-H", f"Range: {spec}")
    assert result.status == 200
    assert result.body == served.tree.files["hello.txt"]


def test_if_none_match_is_304_with_validators(served: Served) -> None:
    """§13.1.2 and §15.4.5: 304 carries the ETag and no content."""
    etag = curl(served.url("image.png")).headers["etag"]
    result = curl(served.url("image.png"), "-H", f'If-None-Match: W/{etag}, "other"')
    assert result.status == 304
    assert result.headers["etag"] == etag
    assert result.body == b""


def test_if_none_match_star_is_304(served: Served) -> None:
    """§13.1.2: "*" matches any current representation."""
    result = curl(served.url("image.png"), "-H", "If-None-Match: *")
    assert (result.status, result.body) == (304, b"")


def test_if_unmodified_since_before_the_change_is_412(served: Served) -> None:
    """§13.1.4: the file changed after the given date, so the precondition fails."""
    result = curl(
        served.url("image.png"), "-H", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT"
    )
    assert result.status == 412


def test_if_unmodified_since_the_last_change_is_200(served: Served) -> None:
    last_modified = curl(served.url("image.png")).headers["last-modified"]
    result = curl(served.url("image.png"), "-H", f"If-Unmodified-Since: {last_modified}")
    assert (result.status, result.body) == (200, served.tree.files["image.png"])


def test_if_modified_since_is_304(served: Served) -> None:
    last_modified = curl(served.url("image.png")).headers["last-modified"]
    result = curl(served.url("image.png"), "-H", f"If-Modified-Since: {last_modified}")
    assert result.status == 304


def test_if_match_mismatch_is_412(served: Served) -> None:
    """§13.1.1: If-Match with no current representation matching fails."""
    result = curl(served.url("image.png"), "-H", 'If-Match: "not-the-etag"')
    assert result.status == 412
    assert result.body == b""


def test_if_range_with_the_current_etag_is_206_and_with_an_old_one_200(served: Served) -> None:
    """§13.1.5: a stale validator means the whole, current representation."""
    data = served.tree.files["random.bin"]
    etag = curl(served.url("random.bin")).headers["etag"]
    fresh = curl(served.url("random.bin"), "-H", "Range: bytes=10-19", "-H", f"If-Range: {etag}")
    assert (fresh.status, fresh.body) == (206, data[10:20])
    stale = curl(served.url("random.bin"), "-H", "Range: bytes=10-19", "-H", 'If-Range: "old"')
    assert (stale.status, stale.body) == (200, data)


def test_if_range_with_the_last_modified_date_is_206(served: Served) -> None:
    """§13.1.5: an HTTP-date validator matches when it equals Last-Modified exactly."""
    data = served.tree.files["random.bin"]
    last_modified = curl(served.url("random.bin")).headers["last-modified"]
    result = curl(
        served.url("random.bin"), "-H", "Range: bytes=10-19", "-H", f"If-Range: {last_modified}"
    )
    assert (result.status, result.body) == (206, data[10:20])


def test_if_range_with_a_weak_etag_is_200(served: Served) -> None:
    """§13.1.5: If-Range uses the strong comparison, and a weak tag never matches it."""
    data = served.tree.files["random.bin"]
    etag = curl(served.url("random.bin")).headers["etag"]
    result = curl(served.url("random.bin"), "-H", "Range: bytes=10-19", "-H", f"If-Range: W/{etag}")
    assert (result.status, result.body) == (200, data)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_other_methods_are_405_with_allow(served: Served, method: str) -> None:
    """§15.5.6: 405 carries Allow with the methods the resource supports."""
    result = curl(served.url("hello.txt"), "-X", method, "-d", "x=1")
    assert result.status == 405
    assert result.body != served.tree.files["hello.txt"]
    assert set(result.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_head_of_a_missing_file_is_404_without_a_body(served: Served) -> None:
    head, rest = _raw_head_block(served, "HEAD", "no-such-file.bin")
    assert head.startswith(b"HTTP/1.1 404")
    assert rest == b""


def test_other_paths_go_to_the_app(served: Served) -> None:
    result = curl(served.server.url("/"))
    if served.has_fallback_app:
        assert (result.status, result.body) == (200, b"the app behind the media mount\n")
    else:
        assert result.status == 404  # the CLI serves only its prefix


def test_curl_resumes_a_partial_download(served: Served, tmp_path: Path) -> None:
    """`curl -C -` asks for the rest with Range: bytes=N- and appends it."""
    data = served.tree.files["sizes/three-m.bin"]
    target = tmp_path / "three-m.bin"
    target.write_bytes(data[:1234567])
    done = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", "-C", "-", "-o", str(target),
         "-w", "%{http_code}", served.url("sizes/three-m.bin")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "206"
    assert target.read_bytes() == data


def test_aria2c_segmented_download_is_byte_exact(served: Served, tmp_path: Path) -> None:
    """Four connections, each asking for its own 1 MiB ranges, reassembled by aria2c."""
    aria2c = require("aria2c")
    done = subprocess.run(
        [aria2c, "-q", "-x4", "-s4", "-k1M", "--min-split-size=1M", "--allow-overwrite=true",
         "--auto-file-renaming=false", "--no-conf", "--all-proxy=", "-d", str(tmp_path),
         "-o", "got.bin", served.url("sizes/three-m.bin")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "got.bin").read_bytes() == served.tree.files["sizes/three-m.bin"]


def test_ffprobe_reads_the_video_over_http(served: Served) -> None:
    """A player's access pattern: ranged reads and seeks over HTTP."""
    ffprobe = require("ffprobe")
    done = subprocess.run(
        [ffprobe, "-v", "error", "-seekable", "1", "-show_entries", "format=duration,format_name",
         "-of", "default=nw=1", served.url(VIDEO)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "format_name=matroska,webm" in done.stdout
    duration = float(re.search(r"duration=([\d.]+)", done.stdout)[1])  # type: ignore[index]
    assert 2.5 < duration < 3.5


def test_curl_is_on_path() -> None:
    assert shutil.which("curl"), "curl is needed by these tests"
