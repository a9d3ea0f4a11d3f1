"""The Django face: view + one-line urlpatterns, first-place middleware, WSGI/ASGI wrappers."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import dj_middleware
import pytest
from django.core.signals import request_started
from django.test import AsyncClient, Client, override_settings

from harness import MediaTree
from mediaserve.django.asgi import get_asgi_application
from mediaserve.django.wsgi import get_wsgi_application
from unit.support import asgi_headers, call_wsgi, environ, http_scope, run_asgi


def wsgi_env(path: str, **extra: Any) -> dict[str, Any]:
    """A complete WSGI environ (Django's handler needs wsgi.input and friends)."""
    return environ(
        path,
        HTTP_HOST="testserver",
        **{"wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()},
        **extra,
    )


def body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


@pytest.fixture
def started() -> Any:
    """Counts Django's request_started signals: zero means the handler never ran."""
    calls: list[object] = []

    def count(**kwargs: object) -> None:
        calls.append(kwargs)

    request_started.connect(count)
    yield calls
    request_started.disconnect(count)


# -- the view, through media_urlpatterns() ------------------------------------------------------


def test_debug_is_off_and_media_is_served(media_settings: MediaTree) -> None:
    from django.conf import settings

    assert settings.DEBUG is False
    response = Client().get("/media/random.bin")
    assert response.status_code == 200
    assert body(response) == media_settings.files["random.bin"]
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_range_is_206(media_settings: MediaTree) -> None:
    response = Client().get("/media/random.bin", HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(media_settings.files['random.bin'])}"
    assert body(response) == media_settings.files["random.bin"][10:20]


def test_multiple_ranges_are_multipart(media_settings: MediaTree) -> None:
    response = Client().get("/media/random.bin", HTTP_RANGE="bytes=0-0,-1")
    assert response.status_code == 206
    assert response["Content-Type"].startswith("multipart/byteranges; boundary=")
    assert int(response["Content-Length"]) == len(body(response))


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"HTTP_RANGE": "bytes=99999999-"}, 416),
        ({"HTTP_IF_MATCH": '"nope"'}, 412),
        ({"HTTP_RANGE": "bytes=x"}, 200),
    ],
)
def test_status_codes(media_settings: MediaTree, headers: dict[str, str], status: int) -> None:
    assert Client().get("/media/random.bin", **headers).status_code == status


def test_etag_revalidation_is_304(media_settings: MediaTree) -> None:
    etag = Client().get("/media/image.png")["ETag"]
    response = Client().get("/media/image.png", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag


def test_head_has_no_body_and_post_is_405(media_settings: MediaTree) -> None:
    head = Client().head("/media/random.bin")
    assert head.status_code == 200
    assert head["Content-Length"] == str(len(media_settings.files["random.bin"]))
    assert body(head) == b""
    post = Client().post("/media/random.bin")
    assert post.status_code == 405
    assert post["Allow"] == "GET, HEAD"


def test_dotfile_is_404_and_logged(
    media_settings: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        response = Client().get("/media/.secret")
    assert response.status_code == 404
    assert "dotfile" in caplog.text


@pytest.mark.parametrize("path", ["/media/../manage.py", "/media/link-outside.txt",
                                  "/media/%2e%2e/x", "/media/nested/"])  # fmt: skip
def test_traversal_is_404(media_settings: MediaTree, path: str) -> None:
    assert Client().get(path).status_code == 404


def test_uploaded_html_is_a_sandboxed_attachment(media_settings: MediaTree) -> None:
    response = Client().get("/media/page.html")
    assert response["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response["Content-Security-Policy"]


def test_settings_are_read_at_request_time(media_settings: MediaTree) -> None:
    with override_settings(MEDIASERVE={"CACHE_CONTROL": "private, max-age=60"}):
        assert Client().get("/media/hello.txt")["Cache-Control"] == "private, max-age=60"
    assert Client().get("/media/hello.txt")["Cache-Control"] == "public, max-age=3600"


def test_other_urls_are_left_alone(media_settings: MediaTree) -> None:
    response = Client().get("/page/")
    assert (response.status_code, response.content) == (200, b"page at /page/")


def test_async_client_streams_a_large_file_exactly(media_settings: MediaTree) -> None:
    """Under ASGI the view answers with an async iterator: no whole-file buffering."""

    async def fetch() -> tuple[int, bool, bytes]:
        response = await AsyncClient().get("/media/big.bin")
        chunks = [chunk async for chunk in response.streaming_content]
        return response.status_code, response.is_async, b"".join(chunks)

    status, is_async, data = asyncio.run(fetch())
    assert (status, is_async) == (200, True)
    assert data == media_settings.files["big.bin"]


# -- the middleware -----------------------------------------------------------------------------


def test_middleware_first_serves_media_before_the_rest_of_the_stack(
    media_settings: MediaTree,
) -> None:
    stack = ["mediaserve.django.middleware.MediaMiddleware", "dj_middleware.CountingMiddleware"]
    with override_settings(MIDDLEWARE=stack, ROOT_URLCONF="dj_urls_plain"):
        media = Client().get("/media/hello.txt")
        page = Client().get("/page/")
    assert (media.status_code, body(media)) == (200, media_settings.files["hello.txt"])
    assert page.status_code == 200
    assert dj_middleware.seen == ["/page/"]


# -- the WSGI and ASGI wrappers -----------------------------------------------------------------


def test_wsgi_wrapper_serves_media_without_entering_django(
    media_settings: MediaTree, started: list[object]
) -> None:
    with override_settings(ROOT_URLCONF="dj_urls_plain"):
        app = get_wsgi_application()
        media = call_wsgi(app, wsgi_env("/media/random.bin"))
        assert started == []
        page = call_wsgi(app, wsgi_env("/page/"))
    assert (media.code, media.body) == (200, media_settings.files["random.bin"])
    assert (page.code, page.body) == (200, b"page at /page/")
    assert len(started) == 1


def test_wsgi_wrapper_with_force_script_name(media_settings: MediaTree) -> None:
    """Mounted under /app: MEDIA_URL includes the script name, PATH_INFO does not."""
    with override_settings(FORCE_SCRIPT_NAME="/app", MEDIA_URL="/app/media/"):
        app = get_wsgi_application()
        result = call_wsgi(app, wsgi_env("/media/hello.txt", SCRIPT_NAME="/app"))
    assert (result.code, result.body) == (200, media_settings.files["hello.txt"])


def test_wsgi_wrapper_leaves_an_off_site_media_url_to_django(media_settings: MediaTree) -> None:
    """MEDIA_URL on a CDN: nothing to serve in-process, /media/ is Django's business."""
    with override_settings(
        MEDIA_URL="https://cdn.example.com/media/", ROOT_URLCONF="dj_urls_plain"
    ):
        result = call_wsgi(get_wsgi_application(), wsgi_env("/media/hello.txt"))
    assert result.code == 404
    assert media_settings.files["hello.txt"] not in result.body


def test_asgi_wrapper_serves_media_without_entering_django(
    media_settings: MediaTree, started: list[object]
) -> None:
    with override_settings(ROOT_URLCONF="dj_urls_plain"):
        app = get_asgi_application()
        messages = run_asgi(app, http_scope("/media/big.bin"))
    assert messages[0]["status"] == 200
    assert asgi_headers(messages)["content-length"] == str(len(media_settings.files["big.bin"]))
    data = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    assert data == media_settings.files["big.bin"]
    assert started == []


def test_asgi_wrapper_answers_lifespan(media_settings: MediaTree) -> None:
    messages = run_asgi(
        get_asgi_application(),
        {"type": "lifespan", "asgi": {"version": "3.0"}},
        incoming=[{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
    )
    assert [m["type"] for m in messages] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
