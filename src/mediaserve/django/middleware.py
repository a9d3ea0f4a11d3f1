"""``MediaMiddleware``: serve MEDIA_URL before the rest of the middleware stack runs.

Place it first in MIDDLEWARE. Responses for media skip every later middleware (session,
CSRF, GZip -- which would otherwise re-encode a 206 and break its byte offsets).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from ..delivery.asgi import executor
from ..pipeline.offload import PROXY_HEADER_WSGI
from .conf import get_config
from .views import response_for, serve_guarded

__all__ = ["MediaMiddleware"]


class MediaMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _media(self, request: HttpRequest) -> HttpResponseBase | None:
        config = get_config()
        if config.storage is not None:  # MEDIASERVE["STORAGE"]: media in object storage
            from .storage_views import serve_storage

            found = config.storage.match(request.path_info)
            if found is None:
                return None
            # Private names are judged by the view, after the authentication middleware.
            return serve_storage(config.storage, request, found, defer_private=True)
        mount = config.mount
        if mount is None:
            return None
        name = mount.match(request.path_info)
        if name is None:
            if mount.offload is None:
                return None
            looped = mount.internal(
                request.path_info, request.META.get(PROXY_HEADER_WSGI), request.method or "GET"
            )
            return None if looped is None else response_for(looped, None, request, 0)
        # Private names are judged by the view, after the authentication middleware.
        return serve_guarded(mount, request, name, defer_private=True)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return self._media(request) or self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        # The lookup is blocking file system work: it runs on the shared I/O pool.
        response = await asyncio.get_running_loop().run_in_executor(
            executor(), self._media, request
        )
        if response is not None:
            return response
        result: Awaitable[HttpResponseBase] = self.get_response(request)
        return await result
