"""WSGI and ASGI delivery for storage mounts (``StorageMount``), without Django's request.

The Django wrappers (``get_wsgi_application``/``get_asgi_application``) answer media before
Django runs; with ``MEDIASERVE["STORAGE"]`` they call these. The body is a ``RemoteBody``:
ranged GETs in ``chunk_size`` pieces. A body cut short by the store closes the connection
(WSGI: gunicorn is told explicitly; ASGI: the response is left unfinished, which servers
answer by closing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from ..access.rules import NO_REQUEST, Access, admit
from ..http.plan import ResponsePlan
from ..pipeline.mount import decode_path
from ..pipeline.offload import PROXY_HEADER_WSGI
from ..pipeline.storage import RemoteBody, StorageMount
from .asgi import Receive, Scope, Send, _Disconnect, executor, offload_via
from .asgi import request_headers as asgi_request_headers
from .body import status_line
from .wsgi import Environ, StartResponse, _close_connection_after, _raw_uri, request_headers

__all__ = ["serve_asgi", "serve_wsgi"]


class _WSGIBody:
    """The response iterable; ``close()`` releases the store connection of an abandoned
    download and closes a connection whose body came up short."""

    __slots__ = ("body", "chunks", "start_response")

    def __init__(self, body: RemoteBody, start_response: StartResponse) -> None:
        self.body = body
        self.start_response = start_response
        self.chunks: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        self.chunks = iter(self.body)
        return self.chunks

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if callable(close):
            close()
        if self.body.short:
            _close_connection_after(self.start_response)


def serve_wsgi(
    storage: StorageMount,
    environ: Environ,
    start_response: StartResponse,
    name: str,
    access: Access | None = None,
    request: object = NO_REQUEST,
) -> Iterable[bytes] | None:
    """Serve ``name`` (from PATH_INFO, latin-1 per PEP 3333) from ``storage``.

    ``access`` is decided first, as for local files (``access.admit``); ``None`` is
    returned when a private name must go to the application behind (no ``request`` to
    judge it by).
    """
    raw = _raw_uri(environ)

    def decoded() -> str:
        return decode_path(name.encode("latin-1", "replace"), raw)

    method = str(environ.get("REQUEST_METHOD", "GET"))
    if access is not None:
        query = str(environ.get("QUERY_STRING", "") or "")
        target = admit(access, storage, method, decoded, query, environ.get("REMOTE_ADDR"),
                       request)  # fmt: skip
        if target is None:
            return None
        if isinstance(target, ResponsePlan):
            start_response(status_line(target.status), list(target.headers))
            return [s for s in target.body if isinstance(s, bytes)]
        storage = target
    plan, obj = storage.respond(
        method,
        decoded,
        request_headers(environ),
        environ.get("REMOTE_ADDR"),
        environ.get(PROXY_HEADER_WSGI),
    )
    start_response(status_line(plan.status), list(plan.headers))
    if obj is None:
        return [s for s in plan.body if isinstance(s, bytes)]
    return _WSGIBody(storage.body(obj, plan), start_response)


_DONE = object()


async def _send_plan(plan: ResponsePlan, send: Send) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in plan.headers]
    await send({"type": "http.response.start", "status": plan.status, "headers": headers})
    body = b"".join(s for s in plan.body if isinstance(s, bytes))
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def serve_asgi(
    storage: StorageMount,
    scope: Scope,
    receive: Receive,
    send: Send,
    name: str,
    access: Access | None = None,
    request: object = NO_REQUEST,
) -> bool:
    """Serve ``name`` (the decoded path relative to the mount) from ``storage``.

    Every store request runs on the shared I/O pool; the loop only forwards chunks. False
    when ``access`` leaves a private name to the application behind (nothing was sent).
    """
    loop = asyncio.get_running_loop()
    pool = executor()
    raw = scope.get("raw_path")

    def decoded() -> str:
        return decode_path(name.encode("utf-8", "surrogateescape"), raw if raw else None)

    client = scope.get("client")
    address = str(client[0]) if client else None
    method = str(scope.get("method", "GET"))
    if access is not None:
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        target = await loop.run_in_executor(
            pool, admit, access, storage, method, decoded, query, address, request
        )
        if target is None:
            return False
        if isinstance(target, ResponsePlan):
            await _send_plan(target, send)
            return True
        storage = target
    plan, obj = await loop.run_in_executor(
        pool,
        storage.respond,
        method,
        decoded,
        asgi_request_headers(scope),
        address,
        offload_via(scope),
    )
    if obj is None:
        await _send_plan(plan, send)
        return True
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in plan.headers]
    await send({"type": "http.response.start", "status": plan.status, "headers": headers})
    remote = storage.body(obj, plan)
    chunks = iter(remote)
    disconnect = _Disconnect(receive)
    try:
        while True:
            chunk = await loop.run_in_executor(pool, next, chunks, _DONE)
            if chunk is _DONE or disconnect.happened:
                break
            assert isinstance(chunk, bytes)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if remote.short or disconnect.happened:
            return True  # unfinished: the server closes the connection
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True
    finally:
        disconnect.stop()
        close = getattr(chunks, "close", None)
        if callable(close):
            await loop.run_in_executor(pool, close)
