"""``get_asgi_application()``: Django's, with public media answered before Django runs."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.asgi import get_asgi_application as django_asgi_application

from ..delivery.asgi import (
    ASGIApp,
    Prepared,
    Receive,
    Scope,
    Send,
    deliver,
    executor,
    internal_redirect_loop,
    lifespan,
    path_in_app,
    serve,
    serve_admitted,
)
from ..delivery.remote import serve_asgi
from .access import get_access
from .conf import get_config
from .ratelimit import get_limiter, meta_from_scope, throttle

__all__ = ["MediaASGIHandler", "get_asgi_application"]


class MediaASGIHandler:
    """Wraps an ASGI app (normally Django's) and serves MEDIA_URL itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            config = get_config()
            if config.storage is not None:  # MEDIASERVE["STORAGE"]: media in object storage
                found = config.storage.match(path_in_app(scope))
                if found is not None:
                    if get_limiter() is not None:
                        method = str(scope.get("method", "GET"))
                        limited = await asyncio.get_running_loop().run_in_executor(
                            executor(), throttle, meta_from_scope(scope), method, scope
                        )
                        if limited is not None:
                            await deliver(Prepared(limited, None), scope, receive, send, 0)
                            return
                    if await serve_asgi(config.storage, scope, receive, send, found, get_access()):
                        return
                    # A private name without a valid signature: Django's view decides.
                    await self.app(scope, receive, send)
                    return
            mount = config.mount
            if mount is not None:
                name = mount.match(path_in_app(scope))
                if name is not None:
                    if get_limiter() is not None:
                        method = str(scope.get("method", "GET"))
                        limited = await asyncio.get_running_loop().run_in_executor(
                            executor(), throttle, meta_from_scope(scope), method, scope
                        )  # the cache is network I/O: off the event loop
                        if limited is not None:
                            await deliver(Prepared(limited, None), scope, receive, send, 0)
                            return
                    access = get_access()
                    if access is None:
                        await serve(mount, scope, receive, send, name)
                        return
                    if await serve_admitted(access, mount, scope, receive, send, name):
                        return
                    # A private name without a valid signature: Django decides.
                elif await internal_redirect_loop(mount, scope, receive, send):
                    return
        elif scope["type"] == "lifespan":
            # Django's handler rejects lifespan; answering it keeps servers from
            # logging a spurious "lifespan unsupported" at every start.
            await lifespan(receive, send)
            return
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def get_asgi_application() -> MediaASGIHandler:
    """Drop-in for ``django.core.asgi.get_asgi_application``."""
    django_app: Any = django_asgi_application()  # its stub types scope as dict, ours as mapping
    return MediaASGIHandler(django_app)
