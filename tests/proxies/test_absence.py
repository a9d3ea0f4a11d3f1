"""Nothing the proxies answer tells what exists from what does not.

In-process serving answers every name it will not send -- absent, a folder, a symlink, a
dotfile, a private folder's bare name -- with the same 404 (``http.plan.not_found()``). Real
nginx, Caddy and Apache running ``mediaserve config`` output used to give themselves away:
nginx answered a folder with 403, a folder without its slash (a private one too) with a 301
naming it, a symlink with 403; Caddy's 404 kept the media Cache-Control (a missing file
cached for an hour) and the sandbox headers of an ``.html`` name. Here every such request
gets the answer a wrong name gets, and that answer is in-process serving's 404.

Also here: ``%2f``, ``%5c`` and ``%00``, which in-process serving refuses, are refused by
every proxy too (nginx decoded ``%2f`` and served the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from proxy_support import PUBLIC_BIG, example_app, generated

from harness import (
    LOOPBACK,
    MediaTree,
    RawResponse,
    ServerProcess,
    raw_request,
    require,
    start_nginx,
)
from harness.apache import start_apache
from harness.caddy import start_caddy
from mediaserve.http.plan import not_found

PROXIES = ("nginx", "caddy", "apache")
WRONG_NAME = "/media/no-such-name.txt"
# Private to the example app (it signs invoices/); the exact spelling goes to the app.
PRIVATE = "invoices"
BACKSLASH_NAME = "back\\slash.txt"

# Request path -> what it is. Each must be answered as WRONG_NAME is.
NOT_FILES = {
    "/media/public/": "a folder",
    "/media/public": "a folder without its slash",
    "/media/with-index/": "a folder holding an index.html",
    "/media/with-index": "that folder without its slash",
    "/media/folder.jpg": "a folder named like an image",
    "/media/folder.jpg/": "that folder with its slash",
    "/media/link-inside.txt": "a symlink to a file inside the root",
    "/media/link-outside.txt": "a symlink to a file outside the root",
    "/media/.secret": "a dotfile",
    "/media/nested/.hidden/": "a dotfolder",
    f"/media/{PRIVATE}": "a private folder's name without its slash",
    f"/media/{PRIVATE}/": "a private folder's name with its slash",
    f"/media/{PRIVATE.upper()}": "a private folder's name in another case, no slash",
    f"/media/{PRIVATE.upper()}/": "a private folder's name in another case",
    "/media/missing.html": "a missing name of an active type (sandboxed when present)",
    "/media/missing.jpg": "a missing name of a passive type",
    "/media/": "the media root itself",
}
# Caddy follows symlinks and has no setting that refuses them (see proxyconf/caddy.py).
CADDY_FOLLOWS = {"/media/link-inside.txt", "/media/link-outside.txt"}
# Neither answers here, so the headers a proxy adds to every answer are left out.
PER_CONNECTION = {"date", "connection", "keep-alive"}


def _add_files(tree: MediaTree) -> None:
    """Folders to ask for; each would be served, listed or redirected by a default config."""
    for folder, name, data in (
        ("public", None, b""),
        ("with-index", "index.html", b"<h1>an index page</h1>\n"),
        ("folder.jpg", "inside.jpg", b"\xff\xd8\xff\xe0 not quite a jpeg\n"),
        (PRIVATE, "bill.pdf", b"%PDF-1.4 private\n"),
        (PRIVATE.upper(), "copy.pdf", b"%PDF-1.4 private copy\n"),
        ("nested/.hidden", "x.txt", b"hidden\n"),
    ):
        path = tree.root / folder
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.chmod(0o755)
        if name:
            (path / name).write_bytes(data)
            (path / name).chmod(0o644)
    # A name with a backslash: "%5c" decoded would find it.
    (tree.root / BACKSLASH_NAME).write_bytes(b"a backslash in the name\n")
    (tree.root / BACKSLASH_NAME).chmod(0o644)


def _args(kind: str, port: int) -> tuple[str, ...]:
    listen = str(port) if kind == "apache" else f"{LOOPBACK}:{port}"
    offload = ("--offload", "x-sendfile") if kind == "apache" else ()
    return ("--listen", listen, "--private", PRIVATE, *offload)


@pytest.fixture(scope="module")
def servers(tree: MediaTree) -> Iterator[dict[str, ServerProcess]]:
    """The three proxies, each in front of its own example app (private names go there)."""
    for binary in ("nginx", "caddy", "apache2"):
        require(binary)
    _add_files(tree)
    started: dict[str, ServerProcess] = {}
    with (
        example_app(tree.root, "x-accel-redirect") as app,
        example_app(tree.root, "x-sendfile") as sendfile_app,
    ):

        def config(kind: str, port: int, upstream: ServerProcess) -> str:
            args = _args(kind, port)
            return generated(kind, args[1], tree.root, upstream, *args[2:])

        try:
            started["nginx"] = start_nginx(lambda site: config("nginx", site.port, app))
            started["caddy"] = start_caddy(lambda port: config("caddy", port, app))
            started["apache"] = start_apache(lambda port: config("apache", port, sendfile_app))
            yield started
        finally:
            for server in started.values():
                server.stop()


def fetch(server: ServerProcess, path: str, method: str = "GET") -> RawResponse:
    """One request sent byte for byte as written (no client normalises the path)."""
    request = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    return raw_request(LOOPBACK, server.port, request.encode("latin-1"))


def looks(response: RawResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    """What a client can compare: status, every header but the per-connection ones, body."""
    fields = sorted(
        (name.lower(), value)
        for name, value in response.headers.fields()
        if name.lower() not in PER_CONNECTION
    )
    return response.status, fields, response.body


@pytest.mark.parametrize("kind", PROXIES)
def test_a_wrong_name_gets_the_in_process_404(kind: str, servers: dict[str, ServerProcess]) -> None:
    """The reference every other answer is held to is in-process serving's own 404."""
    expected = not_found()
    response = fetch(servers[kind], WRONG_NAME)
    assert response.status == expected.status
    assert response.body == b"".join(p for p in expected.body if isinstance(p, bytes))
    for name, value in expected.headers:
        assert response.headers.get(name) == value, (name, response.headers)
    for leak in ("location", "etag", "last-modified", "content-security-policy",
                 "content-disposition"):  # fmt: skip
        assert leak not in response.headers, (leak, response.headers)


@pytest.mark.parametrize("kind", PROXIES)
@pytest.mark.parametrize("path", sorted(NOT_FILES))
def test_what_is_not_a_file_looks_like_absence(
    kind: str, path: str, servers: dict[str, ServerProcess], tree: MediaTree
) -> None:
    if kind == "caddy" and path in CADDY_FOLLOWS:
        pytest.skip("Caddy follows symlinks: test_caddy_still_follows_symlinks")
    server = servers[kind]
    reference = looks(fetch(server, WRONG_NAME))
    got = fetch(server, path)
    assert tree.outside_secret not in got.body
    routed = {f"/media/{PRIVATE}/"} | ({f"/media/{PRIVATE.upper()}/"} if kind == "caddy" else set())
    if path in routed and kind != "nginx":
        # Routed to the app (Caddy's path matchers ignore case, so INVOICES/ goes there too,
        # and the app, which compares ACCESS prefixes case-insensitively, refuses it), whose
        # 404 keeps the app server's Server header behind Caddy and Apache (nginx replaces
        # it): that tells the route, which the config publishes anyway, not whether a file
        # exists.
        reference = (reference[0], [f for f in reference[1] if f[0] != "server"], reference[2])
        got_fields = [f for f in looks(got)[1] if f[0] != "server"]
        assert (got.status, got_fields, got.body) == reference, NOT_FILES[path]
        return
    assert looks(got) == reference, f"{NOT_FILES[path]}: {got.headers} {got.body[:80]!r}"


@pytest.mark.parametrize("kind", PROXIES)
def test_head_of_a_folder_looks_like_head_of_absence(
    kind: str, servers: dict[str, ServerProcess]
) -> None:
    server = servers[kind]
    reference = looks(fetch(server, WRONG_NAME, "HEAD"))
    assert reference[0] == 404
    assert reference[2] == b""
    for path in ("/media/public", "/media/with-index/", f"/media/{PRIVATE}"):
        assert looks(fetch(server, path, "HEAD")) == reference, path


@pytest.mark.parametrize("kind", PROXIES)
@pytest.mark.parametrize("name", ["missing.jpg", "missing.html", "missing"])
def test_a_missing_file_is_never_cached(
    kind: str, name: str, servers: dict[str, ServerProcess]
) -> None:
    """A file may be uploaded a second later: its 404 says no-cache, as in-process, never
    the hour the media Cache-Control gives files (Caddy's 404 used to keep it)."""
    response = fetch(servers[kind], f"/media/{name}")
    assert response.status == 404
    assert response.headers.getall("cache-control") == ["no-cache"]


@pytest.mark.parametrize("kind", PROXIES)
def test_files_still_get_the_media_cache_control(
    kind: str, servers: dict[str, ServerProcess], tree: MediaTree
) -> None:
    """The control: the same location still sends files, with the media headers."""
    response = fetch(servers[kind], "/media/" + PUBLIC_BIG)
    assert (response.status, response.body) == (200, tree.files[PUBLIC_BIG])
    assert response.headers.getall("cache-control") == ["public, max-age=3600"]


ENCODED = {
    # path -> the existing file a proxy that decodes the escape would send
    "/media/public%2Fthree-m.bin": PUBLIC_BIG,
    "/media/public%2fthree-m.bin": PUBLIC_BIG,
    "/media%2Fpublic/three-m.bin": PUBLIC_BIG,
    "/media/" + quote(BACKSLASH_NAME, safe="").replace("%5C", "%5c"): BACKSLASH_NAME,
    "/media/" + quote(BACKSLASH_NAME, safe=""): BACKSLASH_NAME,
    "/media/public/three-m.bin%00": PUBLIC_BIG,
    "/media/public/three-m.bin%00.jpg": PUBLIC_BIG,
}


@pytest.mark.parametrize("kind", PROXIES)
@pytest.mark.parametrize("path", sorted(ENCODED))
def test_encoded_slash_backslash_and_nul_are_refused(
    kind: str, path: str, servers: dict[str, ServerProcess], tree: MediaTree
) -> None:
    """In-process serving refuses %2f, %5c and %00 (pipeline/request.py decode_path): the
    proxies must not decode them into another name and send that file."""
    response = fetch(servers[kind], path)
    name = ENCODED[path]
    assert response.body != tree.root.joinpath(name).read_bytes()
    if kind == "nginx" and "%00" in path:
        # nginx refuses a NUL in the path itself (400) before any location is chosen.
        assert response.status == 400
        return
    assert response.status == 404


def test_encoded_slash_in_a_query_is_not_refused(
    servers: dict[str, ServerProcess], tree: MediaTree
) -> None:
    """Only the path is checked: a cache-busting query may hold anything."""
    for server in servers.values():
        response = fetch(server, f"/media/{PUBLIC_BIG}?v=a%2Fb")
        assert (response.status, response.body) == (200, tree.files[PUBLIC_BIG])


def test_caddy_still_follows_symlinks(servers: dict[str, ServerProcess], tree: MediaTree) -> None:
    """Caddy 2's file_server has no setting that refuses symlinks, so the generated Caddyfile
    cannot refuse them (the docs say so: keep MEDIA_ROOT free of them, or use --private '').
    When this fails, Caddy has grown one: use it and drop CADDY_FOLLOWS."""
    response = fetch(servers["caddy"], "/media/" + tree.symlink_inside)
    assert (response.status, response.body) == (200, tree.files[tree.text])


def test_nginx_serves_no_symlinked_folder(
    servers: dict[str, ServerProcess], tree: MediaTree
) -> None:
    """A folder symlink in the middle of the path: nginx's answer is the 404 too."""
    reference = looks(fetch(servers["nginx"], WRONG_NAME))
    got = fetch(servers["nginx"], f"/media/{tree.symlink_outside_dir}/secret.txt")
    assert looks(got) == reference
