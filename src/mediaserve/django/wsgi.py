"""``get_wsgi_application()``: Django's, with public media answered before Django runs.

Media requests never build an HttpRequest, run middleware or touch the database
connection handling, which is what makes in-process media as fast as the server
allows (see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application as django_wsgi_application

from ..delivery.remote import serve_wsgi
from ..delivery.wsgi import (
    Environ,
    StartResponse,
    WSGIApp,
    deliver,
    internal_redirect_loop,
    serve,
    serve_admitted,
)
from .access import get_access
from .conf import get_config
from .ratelimit import throttle

__all__ = ["MediaWSGIHandler", "get_wsgi_application"]


class MediaWSGIHandler:
    """Wraps a WSGI app (normally Django's) and serves MEDIA_URL itself."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        config = get_config()
        if config.storage is not None:  # MEDIASERVE["STORAGE"]: media in object storage
            found = config.storage.match(environ.get("PATH_INFO", "") or "/")
            if found is not None:
                limited = throttle(environ, str(environ.get("REQUEST_METHOD", "GET")))
                if limited is not None:
                    return deliver(limited, None, environ, start_response, 0)
                served = serve_wsgi(config.storage, environ, start_response, found, get_access())
                if served is not None:
                    return served
                # A private name without a valid signature: Django's view decides.
                return self.app(environ, start_response)
        mount = config.mount
        if mount is not None:
            name = mount.match(environ.get("PATH_INFO", "") or "/")
            if name is not None:
                limited = throttle(environ, str(environ.get("REQUEST_METHOD", "GET")))
                if limited is not None:
                    return deliver(limited, None, environ, start_response, 0)
                access = get_access()
                if access is None:
                    return serve(mount, environ, start_response, name)
                served = serve_admitted(access, mount, environ, start_response, name)
                if served is not None:
                    return served
                # A private name without a valid signature: Django (its session, its
                # permission callable, the media view) decides.
            else:
                looped = internal_redirect_loop(mount, environ)
                if looped is not None:
                    return deliver(looped, None, environ, start_response, 0)
        return self.app(environ, start_response)

    def __getattr__(self, name: str) -> Any:
        # Keep attributes of Django's handler (e.g. request_class) reachable.
        return getattr(self.app, name)


def get_wsgi_application() -> MediaWSGIHandler:
    """Drop-in for ``django.core.wsgi.get_wsgi_application``."""
    return MediaWSGIHandler(django_wsgi_application())
