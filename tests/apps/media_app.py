"""mediaserve's plain WSGI/ASGI apps over the directory named by ``MEDIA_TEST_ROOT``.

``wsgi`` and ``asgi`` serve that directory at ``/media/``; ``/`` answers 200 from a tiny
fallback app (so servers' readiness probes and "other paths go to the app" both work).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from mediaserve import ASGIMedia, WSGIMedia

ROOT = os.environ["MEDIA_TEST_ROOT"]
FALLBACK_BODY = b"the app behind the media mount\n"
#: Requests for this path make the fallback app raise, so tests can prove that their
#: "no traceback in the log" check would see one from this server.
CRASH_PATH = "/__crash__"


class DeliberateCrash(RuntimeError):
    """Raised by the fallback app on ``CRASH_PATH``."""


def _fallback_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == CRASH_PATH:
        raise DeliberateCrash("the log detector's control")
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(FALLBACK_BODY)))]
    )
    return [FALLBACK_BODY]


async def _fallback_asgi(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == CRASH_PATH:
        raise DeliberateCrash("the log detector's control")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", b"%d" % len(FALLBACK_BODY)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": FALLBACK_BODY})


wsgi = WSGIMedia(ROOT, prefix="/media/", app=_fallback_wsgi)
asgi = ASGIMedia(ROOT, prefix="/media/", app=_fallback_asgi)
