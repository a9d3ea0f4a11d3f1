"""``get_asgi_application()``: Django's, with media answered before Django runs.

A private name without a valid signature goes on to Django, whose view judges it.
"""

from __future__ import annotations

from typing import Any

from django.core.asgi import get_asgi_application as django_asgi_application

from ..delivery.asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    decide_on_pool,
    lifespan,
    request_from_scope,
    send_prepared,
)
from ..pipeline.request import DEFERRED
from .pipeline import get_pipeline

__all__ = ["MediaASGIHandler", "get_asgi_application"]


class MediaASGIHandler:
    """Wraps an ASGI app (normally Django's) and serves MEDIA_URL itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            pipeline = get_pipeline()
            if pipeline is not None:
                request = request_from_scope(scope)
                if pipeline.claims(request):
                    prepared = await decide_on_pool(pipeline, request, scope)
                    if prepared is not None and prepared.outcome is not DEFERRED:
                        await send_prepared(prepared, scope, receive, send)
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
