"""Real nginx in front of the example app, configured by ``mediaserve config nginx``, in the
three topologies of docs/deploy/nginx.md:

(a) everything goes to the app (Nginx Proxy Manager's default; in-process serving),
(b) nginx serves public media itself, the app only the rest,
(c) private media goes to the app, which checks it and hands it back with X-Accel-Redirect.

In each one the same RFC 9110 behaviour must reach the client byte for byte; the ETag's shape
shows which program sent the bytes.
"""

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

from harness import MediaTree, NginxSite, ServerProcess, curl, require, start_nginx
from mediaserve.http.plan import ServeOptions


def nginx_for(app: ServerProcess, tree: MediaTree, *args: str) -> ServerProcess:
    """nginx running exactly what ``mediaserve config nginx`` printed (its listen line set)."""
    require("nginx")

    def conf(site: NginxSite) -> str:
        return generated("nginx", f"127.0.0.1:{site.port}", tree.root, app, *args)

    return start_nginx(conf)


@pytest.fixture(scope="module")
def all_to_app(tree: MediaTree) -> Iterator[ServerProcess]:
    """(a): every media URL is a private prefix with no offload: the app serves it."""
    with example_app(tree.root, None) as app:
        proxy = nginx_for(app, tree, "--private", "", "--offload", "none")
        yield proxy
        proxy.stop()


@pytest.fixture(scope="module")
def public_direct(tree: MediaTree) -> Iterator[ServerProcess]:
    """(b): nginx serves MEDIA_URL from the directory."""
    with example_app(tree.root, "x-accel-redirect") as app:
        proxy = nginx_for(app, tree)
        yield proxy
        proxy.stop()


@pytest.fixture(scope="module")
def private_offload(tree: MediaTree) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """(c): /media/private/ goes to the app, which answers with X-Accel-Redirect."""
    with example_app(tree.root, "x-accel-redirect") as app:
        proxy = nginx_for(app, tree, "--private", "private")
        yield proxy, app
        proxy.stop()


def test_a_in_process_keeps_rfc_9110_semantics(all_to_app: ServerProcess, tree: MediaTree) -> None:
    headers = check_file_semantics(all_to_app.url("/media/" + PUBLIC_BIG), tree.files[PUBLIC_BIG])
    assert is_app_etag(headers.get("etag")), "topology (a) must be served by the app"


def test_b_public_media_comes_from_nginx(public_direct: ServerProcess, tree: MediaTree) -> None:
    headers = check_file_semantics(
        public_direct.url("/media/" + PUBLIC_BIG), tree.files[PUBLIC_BIG]
    )
    assert not is_app_etag(headers.get("etag")), "topology (b) must not reach the app"
    assert headers["cache-control"] == ServeOptions().cache_control  # as in-process


def test_c_private_media_is_offloaded(
    private_offload: tuple[ServerProcess, ServerProcess], tree: MediaTree
) -> None:
    proxy, _app = private_offload
    headers = check_file_semantics(proxy.url("/media/" + PRIVATE_PDF), tree.files[PRIVATE_PDF])
    # nginx's ETag: the bytes came from nginx, after the app decided.
    assert not is_app_etag(headers.get("etag"))
    assert headers["content-type"] == "application/pdf"
    assert "x-accel-redirect" not in headers


def test_c_offloaded_name_with_space_percent_query_hash_unicode(
    private_offload: tuple[ServerProcess, ServerProcess], tree: MediaTree
) -> None:
    """'?' would end the path and '%' start an escape if the internal URI were not encoded."""
    proxy, _app = private_offload
    result = curl(proxy.url("/media/" + quote(ODD_NAME)))
    assert (result.status, result.body) == (200, tree.files[ODD_NAME])
    assert not is_app_etag(result.headers.get("etag"))


@pytest.mark.parametrize("name", [PRIVATE_SVG, PUBLIC_SVG])
def test_active_content_is_a_sandboxed_attachment_either_way(
    private_offload: tuple[ServerProcess, ServerProcess], name: str
) -> None:
    """Public SVG (nginx's own headers) and private SVG (the app's headers passed through the
    internal location) get the same protection as in-process serving."""
    proxy, _app = private_offload
    result = curl(proxy.url("/media/" + name))
    assert result.status == 200
    assert result.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert result.headers["content-disposition"].startswith("attachment")
    assert result.headers["x-content-type-options"] == "nosniff"


def test_internal_uri_is_not_reachable_by_clients(
    private_offload: tuple[ServerProcess, ServerProcess],
) -> None:
    proxy, _app = private_offload
    assert curl(proxy.url("/_mediaserve/" + PRIVATE_PDF)).status == 404


def test_dotfiles_stay_404_at_the_proxy(public_direct: ServerProcess) -> None:
    assert curl(public_direct.url("/media/.secret")).status == 404


def test_symlink_out_of_the_root_is_not_followed(
    public_direct: ServerProcess, tree: MediaTree
) -> None:
    result = curl(public_direct.url("/media/" + tree.symlink_outside))
    assert result.status in (403, 404)
    assert tree.outside_secret not in result.body


def test_traversal_does_not_leave_the_root(public_direct: ServerProcess, tree: MediaTree) -> None:
    for path in ("/media/../outside/secret.txt", "/media/%2e%2e/outside/secret.txt",
                 "/media/public/..%2f..%2foutside/secret.txt"):  # fmt: skip
        result = curl(public_direct.url(path))
        assert tree.outside_secret not in result.body, path
        assert result.status in (400, 404), (path, result.status)


def test_private_file_reached_without_the_proxy_is_served_whole(
    private_offload: tuple[ServerProcess, ServerProcess], tree: MediaTree
) -> None:
    """OFFLOAD is set, but a request that did not come through the proxy (no
    X-Mediaserve-Offload header) must get the file, not an empty 200 with X-Accel-Redirect."""
    _proxy, app = private_offload
    result = curl(app.url("/media/" + PRIVATE_PDF))
    assert (result.status, result.body) == (200, tree.files[PRIVATE_PDF])
    assert "x-accel-redirect" not in result.headers
    assert "X-Mediaserve-Offload header is absent" in app.logs()


def test_missing_internal_location_is_a_502_naming_the_fix(tree: MediaTree) -> None:
    """A proxy that announces offload but has no internal location sends the X-Accel URI back
    to the app (location /): the answer must be a loud 502, never an empty 200."""
    require("nginx")
    with example_app(tree.root, "x-accel-redirect") as app:

        def conf(site: NginxSite) -> str:
            text = generated(
                "nginx", f"127.0.0.1:{site.port}", tree.root, app, "--private", "private"
            )
            start = text.index("    # Files the app allowed")
            end = text.index("    # Everything else")
            return text[:start] + text[end:]

        proxy = start_nginx(conf)
        try:
            result = curl(proxy.url("/media/" + PRIVATE_PDF))
        finally:
            proxy.stop()
        assert result.status == 502
        assert b"internal location" in result.body
        assert "came back to the app through the proxy" in app.logs()
