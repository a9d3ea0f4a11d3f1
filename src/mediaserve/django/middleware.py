"""``MediaMiddleware``: serve MEDIA_URL before the rest of the middleware stack runs.

Place it first in MIDDLEWARE. Responses for media skip every later middleware (session,
CSRF, GZip -- which would otherwise re-encode a 206 and break its byte offsets). Private
names are left to the view, which runs after the authentication middleware.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from ..delivery.asgi import executor
from .views import serve_media

__all__ = ["MediaMiddleware"]


class MediaMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return serve_media(request) or self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        # The decision includes blocking work (the lookup): it runs on the shared I/O pool.
        response = await asyncio.get_running_loop().run_in_executor(
            executor(), serve_media, request
        )
        if response is not None:
            return response
        result: Awaitable[HttpResponseBase] = self.get_response(request)
        return await result
