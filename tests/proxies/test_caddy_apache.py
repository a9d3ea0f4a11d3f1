"""Real Caddy and Apache httpd in front of the example app, configured by ``mediaserve config
caddy|apache``: public media served by the proxy, private media checked by the app and sent by
the proxy (Caddy: X-Accel-Redirect through handle_response; Apache: mod_xsendfile)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from proxy_support import (
    ODD_NAME,
    PRIVATE_PDF,
    PRIVATE_SVG,
    PUBLIC_BIG,
    PUBLIC_SVG,
    check_file_semantics,
    example_app,
    generated,
    is_app_etag,
)

from harness import MediaTree, ServerProcess, curl, require
from harness.apache import start_apache
from harness.caddy import start_caddy
from mediaserve.http.plan import ServeOptions


@pytest.fixture(scope="module")
def caddy(tree: MediaTree) -> Iterator[ServerProcess]:
    require("caddy")
    with example_app(tree.root, "x-accel-redirect") as app:
        proxy = start_caddy(
            lambda port: generated(
                "caddy",
                f"127.0.0.1:{port}",
                tree.root,
                app,
                "--private",
                "private",
                "--private",
                "invoices",
            )
        )
        yield proxy
        proxy.stop()


@pytest.fixture(scope="module")
def apache(tree: MediaTree) -> Iterator[ServerProcess]:
    require("apache2")
    with example_app(tree.root, "x-sendfile") as app:
        proxy = start_apache(
            lambda port: generated(
                "apache",
                str(port),
                tree.root,
                app,
                "--private",
                "private",
                "--private",
                "invoices",
            )
        )
        yield proxy
        proxy.stop()


@pytest.fixture(params=["caddy", "apache"])
def proxy(request: pytest.FixtureRequest) -> ServerProcess:
    server: ServerProcess = request.getfixturevalue(request.param)
    return server


def test_public_media_is_served_by_the_proxy(proxy: ServerProcess, tree: MediaTree) -> None:
    headers = check_file_semantics(proxy.url("/media/" + PUBLIC_BIG), tree.files[PUBLIC_BIG])
    assert not is_app_etag(headers.get("etag"))
    assert headers["cache-control"] == ServeOptions().cache_control  # as in-process


def test_private_media_is_offloaded(proxy: ServerProcess, tree: MediaTree) -> None:
    headers = check_file_semantics(proxy.url("/media/" + PRIVATE_PDF), tree.files[PRIVATE_PDF])
    assert not is_app_etag(headers.get("etag")), "the proxy must send the bytes"
    assert headers["content-type"] == "application/pdf"
    assert "x-accel-redirect" not in headers
    assert "x-sendfile" not in headers


def test_offloaded_odd_name_arrives_intact(proxy: ServerProcess, tree: MediaTree) -> None:
    result = curl(proxy.url("/media/" + quote(ODD_NAME)))
    assert (result.status, result.body) == (200, tree.files[ODD_NAME])


@pytest.mark.parametrize("name", [PRIVATE_SVG, PUBLIC_SVG])
def test_active_content_is_a_sandboxed_attachment(proxy: ServerProcess, name: str) -> None:
    result = curl(proxy.url("/media/" + name))
    assert result.status == 200
    assert result.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert result.headers["content-disposition"].startswith("attachment")
    assert result.headers["x-content-type-options"] == "nosniff"


def test_dotfiles_are_404(proxy: ServerProcess) -> None:
    assert curl(proxy.url("/media/.secret")).status == 404


def test_apache_offload_has_no_constant_etag(apache: ServerProcess, tree: MediaTree) -> None:
    """mod_xsendfile 0.12 behind mod_proxy labels every file ETag "0" and answers
    If-None-Match: "0" with 304 and If-Range: "0" with a range, whatever the file. The
    generated config drops that ETag, so neither can happen."""
    url = apache.url("/media/" + PRIVATE_PDF)
    assert "etag" not in curl(url).headers
    assert curl(url, "-H", 'If-None-Match: "0"').status == 200
    stale = curl(url, "-H", "Range: bytes=0-9", "-H", 'If-Range: "0"')
    assert (stale.status, stale.body) == (200, tree.files[PRIVATE_PDF])


def test_caddy_internal_prefix_is_not_reachable(caddy: ServerProcess) -> None:
    assert curl(caddy.url("/_mediaserve/" + PRIVATE_PDF)).status == 404


def test_private_prefix_in_another_letter_case_is_not_public(
    proxy: ServerProcess, tree: MediaTree
) -> None:
    """The example signs invoices/, and the app compares ACCESS prefixes case-insensitively:
    an INVOICES folder must reach the app (404 without a signature), not be read by the
    proxy as public media."""
    upper = tree.root / "INVOICES"
    upper.mkdir(mode=0o755, exist_ok=True)
    upper.chmod(0o755)
    (upper / "copy.pdf").write_bytes(tree.files[PRIVATE_PDF])
    (upper / "copy.pdf").chmod(0o644)
    result = curl(proxy.url("/media/INVOICES/copy.pdf"))
    assert result.status == 404
    assert not result.body.startswith(b"%PDF")
