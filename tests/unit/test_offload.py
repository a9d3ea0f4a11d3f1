"""Proxy offload without a proxy: the header the app sends, when it sends it, and the refusals.

The real proxies are in tests/proxies/; these pin the decisions those tests rely on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import MediaTree, media_tree
from mediaserve import ASGIMedia, WSGIMedia
from mediaserve.pipeline.offload import Offload, OffloadError, quote_uri
from unit.support import asgi_body, asgi_headers, call_wsgi, environ, http_scope, run_asgi

ACCEL = Offload("x-accel-redirect")
VIA = {"X-Mediaserve-Offload": "x-accel-redirect"}


@pytest.fixture
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        (t.root / "page.svg").write_bytes(b"<svg/>")
        (t.root / "page.svg").chmod(0o644)
        yield t


# -- the internal URI ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "uri"),
    [
        ("a b.jpg", "/_mediaserve/a%20b.jpg"),
        ("100%.pdf", "/_mediaserve/100%25.pdf"),
        ("what?.png", "/_mediaserve/what%3F.png"),  # nginx would cut the path at '?'
        ("#1.png", "/_mediaserve/%231.png"),
        ("café/ü.txt", "/_mediaserve/caf%C3%A9/%C3%BC.txt"),
        ("nested/deeper/doc.txt", "/_mediaserve/nested/deeper/doc.txt"),
    ],
)
def test_internal_uri_is_percent_encoded_once(name: str, uri: str) -> None:
    assert ACCEL.target(name) == uri


@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_quoted_name_is_plain_ascii_without_query_or_fragment(name: str) -> None:
    quoted = quote_uri(name)
    assert quoted.isascii()
    assert not set(quoted) & set("?# \r\n\0\\\"'")


def test_x_sendfile_sends_the_raw_path_bytes() -> None:
    """mod_xsendfile 0.12 does not decode %XX: the path goes as its UTF-8 bytes (latin-1 text
    in WSGI terms)."""
    offload = Offload("x-sendfile", root="/srv/media/")
    value = offload.target("café/a b%c.txt")
    assert value is not None
    assert value.encode("latin-1") == "/srv/media/café/a b%c.txt".encode()


def test_x_sendfile_refuses_control_characters() -> None:
    """A line break in a header value would end the header: such a name is served in-process."""
    assert Offload("x-sendfile", root="/srv/media").target("evil\r\nSet-Cookie: x") is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"method": "x-accel"}, "unknown offload method"),
        ({"method": "x-accel-redirect", "internal_prefix": "/_mediaserve"}, "end with '/'"),
        ({"method": "x-accel-redirect", "internal_prefix": "_mediaserve/"}, "start and end"),
        ({"method": "x-accel-redirect", "internal_prefix": "/a b/"}, "plain path"),
        ({"method": "x-accel-redirect", "internal_prefix": "/x/../y/"}, "plain path"),
        ({"method": "x-sendfile"}, "absolute"),
        ({"method": "x-sendfile", "root": "media"}, "absolute"),
    ],
)
def test_unworkable_offload_settings_are_refused(kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(OffloadError, match=fragment):
        Offload(**kwargs)


# -- when the app offloads ------------------------------------------------------------------------


def test_offloads_when_the_proxy_announces_it(tree: MediaTree) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    result = call_wsgi(app, environ("/media/hello.txt", headers=VIA))
    assert result.code == 200
    assert result.body == b""
    assert result.header("X-Accel-Redirect") == "/_mediaserve/hello.txt"
    assert result.header("Content-Length") == "0"
    assert result.header("Content-Type") == "text/plain; charset=utf-8"


def test_offloaded_response_leaves_validators_and_ranges_to_the_proxy(tree: MediaTree) -> None:
    """The proxy computes ETag/Last-Modified and answers Range itself; the app's inode ETag
    would contradict the proxy's, and a 206 from the app would be wrong for a whole file."""
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    headers = {**VIA, "Range": "bytes=0-1", "If-None-Match": "*"}
    result = call_wsgi(app, environ("/media/hello.txt", headers=headers))
    assert result.code == 200
    for name in ("ETag", "Last-Modified", "Accept-Ranges", "Content-Range"):
        assert result.header(name) is None, name


def test_offloaded_active_content_keeps_the_sandbox_headers(tree: MediaTree) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    result = call_wsgi(app, environ("/media/page.svg", headers=VIA))
    assert result.header("Content-Security-Policy") == "sandbox; default-src 'none'"
    assert (result.header("Content-Disposition") or "").startswith("attachment")
    assert result.header("X-Content-Type-Options") == "nosniff"


def test_without_the_proxy_header_the_app_serves_the_file_and_warns_once(
    tree: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        first = call_wsgi(app, environ("/media/hello.txt"))
        call_wsgi(app, environ("/media/hello.txt"))
    assert (first.code, first.body) == (200, tree.files["hello.txt"])
    assert first.header("X-Accel-Redirect") is None
    warnings = [r for r in caplog.records if "X-Mediaserve-Offload" in r.getMessage()]
    assert len(warnings) == 1


def test_a_proxy_announcing_another_method_gets_the_file(tree: MediaTree) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    result = call_wsgi(
        app, environ("/media/hello.txt", headers={"X-Mediaserve-Offload": "x-sendfile"})
    )
    assert (result.code, result.body) == (200, tree.files["hello.txt"])


def test_missing_and_refused_files_are_still_404(tree: MediaTree) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    for path in ("/media/missing.jpg", "/media/.secret", "/media/" + tree.symlink_outside):
        result = call_wsgi(app, environ(path, headers=VIA))
        assert result.code == 404, path
        assert result.header("X-Accel-Redirect") is None


def test_head_is_offloaded_too(tree: MediaTree) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    result = call_wsgi(app, environ("/media/hello.txt", method="HEAD", headers=VIA))
    assert result.header("X-Accel-Redirect") == "/_mediaserve/hello.txt"
    assert result.body == b""


def test_asgi_offloads_the_same_way(tree: MediaTree) -> None:
    app = ASGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    messages = run_asgi(app, http_scope("/media/hello.txt", headers=VIA))
    headers = asgi_headers(messages)
    assert headers["x-accel-redirect"] == "/_mediaserve/hello.txt"
    assert asgi_body(messages) == b""


# -- the loop: an offload URI that comes back to the app ---------------------------------------


def test_offload_uri_back_at_the_app_is_a_502(
    tree: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    with caplog.at_level(logging.ERROR, logger="mediaserve"):
        result = call_wsgi(app, environ("/_mediaserve/hello.txt", headers=VIA))
    assert result.code == 502
    assert b"internal location" in result.body
    assert any("came back to the app" in r.getMessage() for r in caplog.records)


def _event(record: logging.LogRecord) -> bool:
    """An observability event line (``mediaserve.events``, on when a Django project in this
    process configured it): its own channel, not the error log these tests keep quiet."""
    return record.name == "mediaserve.events"


@pytest.mark.parametrize(
    "target",
    [
        "/_mediaserve/../hello.txt",
        "/_mediaserve/nested/../../outside/secret.txt",
        "/_mediaserve/.secret",
        "/_mediaserve//hello.txt",
        "/_mediaserve/",
        "/_mediaserve",
        "/_mediaserve/nested%2fdeeper%2fdoc.txt",
    ],
)
def test_a_client_request_under_the_offload_prefix_is_a_quiet_404(
    tree: MediaTree, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    """A name ``quote_uri`` never writes is a client's probe, not a loop: the same 404 as any
    missing file and an INFO line, never the 502 or an ERROR (a client could fill the error
    log by repeating it)."""
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    # As gunicorn gives it: PATH_INFO decoded once (latin-1 text of the bytes), RAW_URI as sent.
    env = environ(unquote(target, encoding="latin-1"), headers=VIA, RAW_URI=target)
    with caplog.at_level(logging.DEBUG, logger="mediaserve"):
        result = call_wsgi(app, env)
    assert (result.code, result.body) == (404, b"Not Found\n")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and not _event(r)]
    assert any("not an offload URI" in r.getMessage() for r in caplog.records)


def test_a_post_under_the_offload_prefix_is_not_a_loop(
    tree: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    """nginx replays an X-Accel-Redirect as the GET/HEAD it was; a POST is a client's."""
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    with caplog.at_level(logging.INFO, logger="mediaserve"):
        result = call_wsgi(app, environ("/_mediaserve/hello.txt", method="POST", headers=VIA))
    assert result.code == 404
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and not _event(r)]


def test_a_loop_is_logged_at_error_once_a_minute(
    tree: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    """Every media request of a broken set-up loops: the first says so at ERROR, the next
    ones (still 502) at INFO until a minute has passed."""
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    with caplog.at_level(logging.INFO, logger="mediaserve"):
        codes = [call_wsgi(app, environ("/_mediaserve/hello.txt", headers=VIA)).code
                 for _ in range(3)]  # fmt: skip
    assert codes == [502, 502, 502]
    levels = [r.levelno for r in caplog.records if "came back to the app" in r.getMessage()]
    assert levels == [logging.ERROR, logging.INFO, logging.INFO]


def test_offload_uri_from_a_client_without_the_proxy_is_an_ordinary_404(tree: MediaTree) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    assert call_wsgi(app, environ("/_mediaserve/hello.txt")).code == 404


def test_asgi_offload_uri_back_at_the_app_is_a_502(tree: MediaTree) -> None:
    app = ASGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    messages = run_asgi(app, http_scope("/_mediaserve/hello.txt", headers=VIA))
    assert messages[0]["status"] == 502


def test_offload_root_may_differ_from_the_apps(tree: MediaTree) -> None:
    """In containers the proxy mounts the volume elsewhere: X-Sendfile names its path."""
    offload = Offload("x-sendfile", root="/srv/media")
    app = WSGIMedia(tree.root, prefix="/media/", offload=offload)
    result = call_wsgi(
        app, environ("/media/nested/deeper/doc.txt", headers={"X-Mediaserve-Offload": "x-sendfile"})
    )
    assert result.header("X-Sendfile") == "/srv/media/nested/deeper/doc.txt"


# -- requests the proxy would answer wrongly are served by the app ---------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Unmodified-Since": "garbage"},  # nginx: 412; RFC 9110 §13.1.4: ignore it
        {"Range": "bytes=0-" + "9" * 40},  # nginx: 416; §14.1.2: the whole file
    ],
)
def test_requests_nginx_would_misanswer_are_served_in_process(
    tree: MediaTree, headers: dict[str, str]
) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    result = call_wsgi(app, environ("/media/hello.txt", headers={**VIA, **headers}))
    assert result.header("X-Accel-Redirect") is None
    assert result.code in (200, 206)
    assert result.body == tree.files["hello.txt"]


def test_a_valid_if_unmodified_since_is_left_to_the_proxy(tree: MediaTree) -> None:
    app = WSGIMedia(tree.root, prefix="/media/", offload=ACCEL)
    headers = {**VIA, "If-Unmodified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}
    result = call_wsgi(app, environ("/media/hello.txt", headers=headers))
    assert result.header("X-Accel-Redirect") == "/_mediaserve/hello.txt"
