"""``get_wsgi_application()``: Django's, with media answered before Django runs.

Media requests never build an HttpRequest, run middleware or touch the database
connection handling, which is what makes in-process media as fast as the server
allows (see docs/benchmarks.md). A private name without a valid signature goes on to
Django, whose view judges it with the session.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application as django_wsgi_application

from ..delivery.wsgi import (
    Environ,
    StartResponse,
    WSGIApp,
    execute,
    hot_outcome,
    request_from_environ,
)
from ..pipeline.request import DEFERRED
from .pipeline import get_pipeline

__all__ = ["MediaWSGIHandler", "get_wsgi_application"]


class MediaWSGIHandler:
    """Wraps a WSGI app (normally Django's) and serves MEDIA_URL itself."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        pipeline = get_pipeline()
        if pipeline is not None:
            outcome = hot_outcome(pipeline, environ) or pipeline.decide(
                request_from_environ(environ)
            )
            if outcome is not None and outcome is not DEFERRED:
                return execute(outcome, environ, start_response)
        return self.app(environ, start_response)

    def __getattr__(self, name: str) -> Any:
        # Keep attributes of Django's handler (e.g. request_class) reachable.
        return getattr(self.app, name)


def get_wsgi_application() -> MediaWSGIHandler:
    """Drop-in for ``django.core.wsgi.get_wsgi_application``."""
    return MediaWSGIHandler(django_wsgi_application())
