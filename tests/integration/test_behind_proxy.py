"""mediaserve behind a reverse proxy that passes everything to the app (the Nginx Proxy Manager
default: proxy_pass, buffering on, gzip for text). Ranges, validators and HEAD must survive the
hop byte for byte; the proxy must not answer a range with the whole file or gzip a 206.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from matrix_support import SIZED_FILES, start_server

from harness import LOOPBACK, MediaTree, NginxSite, ServerProcess, curl, require, start_nginx

BIG = "sizes/three-m.bin"


@pytest.fixture(scope="module", params=["gunicorn-gthread", "uvicorn"])
def proxied(request: pytest.FixtureRequest, served_tree: MediaTree) -> Iterator[ServerProcess]:
    require("nginx")
    app = start_server(request.param, served_tree.root)

    def conf(site: NginxSite) -> str:
        return f"""
        upstream app {{ server {LOOPBACK}:{app.port}; keepalive 8; }}
        gzip on;
        gzip_types text/plain text/css application/json;
        gzip_min_length 1;
        server {{
            {site.listen}
            location / {{
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            }}
        }}
        """

    proxy = start_nginx(conf)
    try:
        yield proxy
    finally:
        proxy.stop()
        app.stop()


def test_whole_file_through_the_proxy(proxied: ServerProcess, served_tree: MediaTree) -> None:
    result = curl(proxied.url("/media/" + BIG))
    assert result.status == 200
    assert result.body == served_tree.files[BIG]
    assert "nginx" in result.headers["server"]


def test_range_through_the_proxy(proxied: ServerProcess, served_tree: MediaTree) -> None:
    data = served_tree.files[BIG]
    result = curl(proxied.url("/media/" + BIG), "-H", "Range: bytes=2000000-2100000")
    assert result.status == 206
    assert result.headers["content-range"] == f"bytes 2000000-2100000/{len(data)}"
    assert result.body == data[2000000:2100001]


def test_multiple_ranges_through_the_proxy(proxied: ServerProcess, served_tree: MediaTree) -> None:
    result = curl(proxied.url("/media/" + BIG), "-H", "Range: bytes=0-9,1000-1009")
    assert result.status == 206
    assert result.headers["content-type"].startswith("multipart/byteranges")
    assert int(result.headers["content-length"]) == len(result.body)


def test_text_range_is_not_gzipped(proxied: ServerProcess, served_tree: MediaTree) -> None:
    """A gzipped 206 would be bytes of the compressed stream: nginx must leave it alone."""
    result = curl(
        proxied.url("/media/hello.txt"), "-H", "Range: bytes=0-4", "-H", "Accept-Encoding: gzip"
    )
    assert (result.status, result.body) == (206, served_tree.files["hello.txt"][:5])
    assert "content-encoding" not in result.headers


def test_validators_through_the_proxy(proxied: ServerProcess) -> None:
    first = curl(proxied.url("/media/image.png"))
    etag = first.headers["etag"]
    again = curl(proxied.url("/media/image.png"), "-H", f"If-None-Match: {etag}")
    assert again.status == 304
    assert again.headers["etag"] == etag
    stale = curl(proxied.url("/media/image.png"), "-H", 'If-Match: "old"')
    assert stale.status == 412


def test_head_through_the_proxy(proxied: ServerProcess, served_tree: MediaTree) -> None:
    result = curl(proxied.url("/media/" + BIG), "-I")
    assert result.status == 200
    assert result.headers["content-length"] == str(len(served_tree.files[BIG]))
    assert result.headers["accept-ranges"] == "bytes"


def test_traversal_through_the_proxy_is_404(proxied: ServerProcess) -> None:
    result = curl(proxied.url("/media/..%2f..%2fetc%2fpasswd"))
    assert result.status in (400, 404)
    assert b"root:" not in result.body


def test_sized_files_through_the_proxy(proxied: ServerProcess, served_tree: MediaTree) -> None:
    for name in SIZED_FILES:
        assert curl(proxied.url("/media/" + name)).body == served_tree.files[name]
