"""The Django response for a storage-backed mount (``MEDIASERVE["STORAGE"]``).

Under WSGI the body is a plain iterator of ranged-GET chunks; under ASGI each chunk is
fetched on the shared I/O pool, so the event loop never waits on the store and Django
does not buffer a sync iterator whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from ..access.rules import NO_REQUEST, admit
from ..delivery.asgi import executor
from ..delivery.wsgi import request_headers
from ..http.plan import ResponsePlan
from ..pipeline.mount import decode_path
from ..pipeline.offload import PROXY_HEADER_WSGI
from ..pipeline.storage import RemoteBody, StorageMount
from .access import get_access
from .ratelimit import throttle
from .views import raw_path_of, response_for

__all__ = ["serve_storage"]


class _SyncBody:
    """A WSGI body; a body cut short by the store ends the connection.

    The client was promised Content-Length bytes. gunicorn keeps a connection alive after a
    short body, and a client (or a proxy reusing the connection) would then read the next
    response as the rest of this one. Through Django the server's ``start_response`` is out
    of reach, so the socket gunicorn exposes is shut for writing: the client sees the body
    end early, which is what it is.
    """

    def __init__(self, body: RemoteBody, environ: dict[str, object]) -> None:
        self.body = body
        self.environ = environ
        self.chunks: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        self.chunks = self._chunks()
        return self.chunks

    def close(self) -> None:
        """Called by Django when the response closes (also after a client went away):
        releases the store connection of a body that was not read to the end."""
        close = getattr(self.chunks, "close", None)
        if callable(close):
            close()

    def _chunks(self) -> Iterator[bytes]:
        yield from self.body
        if self.body.short:
            sock = self.environ.get("gunicorn.socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)


_DONE = object()


async def _async_chunks(body: RemoteBody) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    chunks = iter(body)
    pool = executor()
    while True:
        chunk = await loop.run_in_executor(pool, next, chunks, _DONE)
        if chunk is _DONE:
            return
        assert isinstance(chunk, bytes)
        yield chunk


def serve_storage(
    storage: StorageMount, request: HttpRequest, name: str, *, defer_private: bool = False
) -> HttpResponseBase | None:
    """Redirect to, stream or offload ``name`` from the store, as ``storage.mode`` says.

    Rate limit and ``ACCESS`` come first, as for local files; with ``defer_private`` (the
    middleware, before authentication ran) a private name without a signature is left to
    the view (None).
    """
    scope = getattr(request, "scope", None)
    raw = raw_path_of(request)

    def decoded() -> str:
        return decode_path(name.encode("utf-8", "surrogateescape"), raw)

    method = request.method or "GET"
    client = request.META.get("REMOTE_ADDR")
    limited = throttle(request.META, method, scope if isinstance(scope, dict) else None)
    if limited is not None:
        return response_for(limited, None, request, 0)
    access = get_access()
    if access is not None:
        target = admit(
            access, storage, method, decoded, str(request.META.get("QUERY_STRING", "")), client,
            NO_REQUEST if defer_private else request,
        )  # fmt: skip
        if target is None:
            return None
        if isinstance(target, ResponsePlan):
            return response_for(target, None, request, 0)
        storage = target
    plan, obj = storage.respond(
        method, decoded, request_headers(request.META), client,
        request.META.get(PROXY_HEADER_WSGI),
    )  # fmt: skip
    if obj is None:  # a redirect, a 304, a refusal: the plan carries the whole answer
        return response_for(plan, None, request, 0)
    body = storage.body(obj, plan)
    response: HttpResponseBase
    if isinstance(scope, dict):
        response = StreamingHttpResponse(_async_chunks(body), status=plan.status)
    else:
        response = StreamingHttpResponse(_SyncBody(body, request.META), status=plan.status)
    del response["Content-Type"]  # the plan decides
    for header, value in plan.headers:
        response[header] = value
    return response
