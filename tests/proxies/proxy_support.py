"""What the proxy tests share: the media tree, the example app under gunicorn, the CLI.

A plain module (not conftest.py) so test modules can import it by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from harness import (
    REPO_ROOT,
    Headers,
    MediaTree,
    RawResponse,
    ServerProcess,
    curl,
    raw_exchange,
    start_gunicorn,
)

EXAMPLE = REPO_ROOT / "example"

#: Names a user might upload that need escaping on the way to the proxy: space, '%', '?',
#: '#', non-ASCII. Each must reach the proxy as the same file.
ODD_NAME = "private/a b%c?d#e ü.txt"
PRIVATE_PDF = "private/invoice.pdf"
PRIVATE_SVG = "private/drawing.svg"
PUBLIC_BIG = "public/three-m.bin"
PUBLIC_SVG = "public/drawing.svg"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def add_proxy_files(tree: MediaTree) -> None:
    extra = {
        ODD_NAME: b"odd name\n",
        PRIVATE_PDF: b"%PDF-1.4\n" + bytes((i * 31) % 256 for i in range(300_000)),
        PRIVATE_SVG: SVG,
        PUBLIC_BIG: bytes((i * 7) % 251 for i in range(3 * 1024 * 1024 + 17)),
        PUBLIC_SVG: SVG,
    }
    for name, data in extra.items():
        path = tree.root / name
        path.parent.mkdir(mode=0o755, exist_ok=True)
        path.parent.chmod(0o755)
        path.write_bytes(data)
        path.chmod(0o644)
        tree.files[name] = data


@contextmanager
def example_app(
    media_root: Path, offload: str | None, extra_env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """The example shop (shop.wsgi, mediaserve's wrapper) under gunicorn gthread."""
    with tempfile.TemporaryDirectory(prefix="mediaserve-proxy-var-") as var:
        env = {
            "EXAMPLE_VAR_DIR": var,
            "MEDIA_ROOT": str(media_root),
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "shop.settings",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "MEDIASERVE_OFFLOAD": offload or "",
            **(extra_env or {}),
        }
        server = start_gunicorn(
            "shop.wsgi:application", env=env, cwd=EXAMPLE, pythonpath=[EXAMPLE],
            worker_class="gthread", threads=4, ready_path="/healthz",
        )  # fmt: skip
        try:
            yield server
        finally:
            server.stop()


def mediaserve_config(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``mediaserve config`` command line (as a user would)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "config", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def config_text(*args: str) -> str:
    result = mediaserve_config(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def generated(kind: str, listen: str, root: Path, app: ServerProcess, *extra: str) -> str:
    """What ``mediaserve config KIND`` prints for ``root`` in front of ``app``."""
    return config_text(
        kind, "--listen", listen, "--media-root", str(root),
        "--upstream", f"127.0.0.1:{app.port}", *extra,
    )  # fmt: skip


def is_app_etag(value: str | None) -> bool:
    """mediaserve's ETags are 24 hex digits; nginx's and Caddy's look different, so the ETag
    tells which program sent the bytes."""
    text = (value or "").strip('"')
    return len(text) == 24 and all(c in "0123456789abcdef" for c in text)


def multipart_parts(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """(Content-Range, bytes) of each part of a multipart/byteranges body."""
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        fields = dict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n") if ": " in line
        )
        ranges = {k.lower(): v for k, v in fields.items()}
        parts.append((ranges["content-range"], data.removesuffix(b"\r\n")))
    return parts


def raw_head(url: str) -> RawResponse:
    """HEAD over a raw socket with ``Connection: close``: whatever follows the header block
    (which curl -I would never read) is returned as the body."""
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    request = (
        f"HEAD {target} HTTP/1.1\r\nHost: {parts.hostname}\r\nConnection: close\r\n\r\n"
    ).encode()
    raw = raw_exchange(parts.hostname or "127.0.0.1", parts.port or 80, request)
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, _, fields = head.partition(b"\r\n")
    return RawResponse(int(status_line.split()[1]), Headers.parse(fields), rest)


def check_file_semantics(url: str, data: bytes) -> dict[str, str]:
    """The RFC 9110 behaviour every topology must keep, byte for byte; returns 200's headers."""
    full = curl(url)
    assert full.status == 200, (full.status, full.body[:200])
    assert full.body == data
    assert full.headers["content-length"] == str(len(data))
    assert full.headers["x-content-type-options"] == "nosniff"

    head = raw_head(url)
    assert head.status == 200
    assert head.body == b"", "HEAD must not send a body"
    assert head.headers["content-length"] == str(len(data))
    assert head.headers.get("content-type") == full.headers.get("content-type")

    single = curl(url, "-H", "Range: bytes=5-1004")
    assert single.status == 206
    assert single.body == data[5:1005]
    assert single.headers["content-range"] == f"bytes 5-1004/{len(data)}"

    multi = curl(url, "-H", "Range: bytes=0-9,100-199")
    assert multi.status == 206
    parts = multipart_parts(multi.body, multi.headers["content-type"])
    assert parts == [
        (f"bytes 0-9/{len(data)}", data[0:10]),
        (f"bytes 100-199/{len(data)}", data[100:200]),
    ]

    beyond = curl(url, "-H", f"Range: bytes={len(data) + 10}-")
    assert beyond.status == 416

    etag = full.headers.get("etag")
    if etag:
        revalidated = curl(url, "-H", f"If-None-Match: {etag}")
        assert revalidated.status == 304
        assert revalidated.body == b""
    since = curl(url, "-H", f"If-Modified-Since: {full.headers['last-modified']}")
    assert since.status == 304
    failed = curl(url, "-H", 'If-Match: "not-this-file"')
    assert failed.status == 412
    return dict(full.headers.items())
