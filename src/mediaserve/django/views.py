"""The Django view and the response it builds from a plan.

Under WSGI the single-part body is handed to Django as ``file_to_stream`` so the
server's ``wsgi.file_wrapper`` sends it (sendfile under gunicorn). Under ASGI the body
is an async iterator: Django would otherwise buffer a sync iterator whole in memory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from ..access.rules import NO_REQUEST, admit
from ..delivery.asgi import executor
from ..delivery.body import FileReader
from ..delivery.wsgi import request_headers, wrapper_is_exact
from ..http.plan import ResponsePlan
from ..pipeline.mount import Mount, decode_path
from ..pipeline.offload import PROXY_HEADER_WSGI
from ..sources.base import OpenFile
from .access import get_access
from .conf import get_config
from .ratelimit import throttle

__all__ = ["response_for", "serve", "serve_with"]


def raw_path_of(request: HttpRequest) -> bytes | None:
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("raw_path"):
        return bytes(scope["raw_path"])
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    return raw.encode("latin-1", "replace") if isinstance(raw, str) else None


def _is_asgi(request: HttpRequest) -> bool:
    return isinstance(getattr(request, "scope", None), dict)


class _SyncBody:
    """Streaming content for WSGI; closes the file when Django closes the response.

    ``closer`` is bound at creation: Django replaces ``file_to_stream.close`` with
    ``response.close``, and looking the method up later would call back into it.
    """

    def __init__(self, opened: OpenFile, plan: ResponsePlan, chunk_size: int) -> None:
        self.reader = FileReader(opened.fd, plan.body, chunk_size)
        self.closer = opened.file.close

    def __iter__(self) -> Iterator[bytes]:
        return self.reader.chunks()

    def close(self) -> None:
        self.closer()


async def _async_chunks(
    opened: OpenFile, plan: ResponsePlan, chunk_size: int
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    pool = executor()
    try:
        for segment in plan.body:
            if isinstance(segment, bytes):
                yield segment
                continue
            offset, remaining = segment.offset, segment.length
            while remaining > 0:
                data = await loop.run_in_executor(
                    pool, os.pread, opened.fd, min(chunk_size, remaining), offset
                )
                if not data:
                    return
                offset += len(data)
                remaining -= len(data)
                yield data
    finally:
        opened.close()


def response_for(
    plan: ResponsePlan, opened: OpenFile | None, request: HttpRequest, chunk_size: int
) -> HttpResponseBase:
    """A Django response executing ``plan``; it owns ``opened`` from here on."""
    response: HttpResponseBase
    if opened is None:
        response = HttpResponse(
            b"".join(s for s in plan.body if isinstance(s, bytes)), status=plan.status
        )
        # HttpResponse invents a text/html Content-Type; the plan decides (a 304 has none).
        del response["Content-Type"]
    elif _is_asgi(request):
        response = StreamingHttpResponse(
            _async_chunks(opened, plan, chunk_size), status=plan.status
        )
        del response["Content-Type"]
    else:
        body = _SyncBody(opened, plan, chunk_size)
        response = StreamingHttpResponse(body, status=plan.status)
        del response["Content-Type"]
        part = plan.single_part
        if part is not None and wrapper_is_exact(request.META):
            os.lseek(opened.fd, part.offset, os.SEEK_SET)
            response.file_to_stream = opened.file  # type: ignore[attr-defined]
            response.block_size = chunk_size  # type: ignore[attr-defined]
    for name, value in plan.headers:
        response[name] = value
    return response


def serve_guarded(
    mount: Mount, request: HttpRequest, name: str, *, defer_private: bool = False
) -> HttpResponseBase | None:
    """Serve ``name`` behind the access check (``MEDIASERVE["ACCESS"]``).

    With ``defer_private`` (the middleware, which runs before authentication) a private name
    without a valid signature is not judged here: ``None`` is returned and the request goes
    on through the middleware stack to the view, where ``request.user`` exists.
    """
    raw = raw_path_of(request)

    def decoded() -> str:
        return decode_path(name.encode("utf-8", "surrogateescape"), raw)

    method = request.method or "GET"
    client = request.META.get("REMOTE_ADDR")
    scope = getattr(request, "scope", None)
    limited = throttle(request.META, method, scope if isinstance(scope, dict) else None)
    if limited is not None:
        return response_for(limited, None, request, mount.options.chunk_size)
    access = get_access()
    if access is not None:
        target = admit(
            access, mount, method, decoded, str(request.META.get("QUERY_STRING", "")), client,
            NO_REQUEST if defer_private else request,
        )  # fmt: skip
        if target is None:
            return None
        if isinstance(target, ResponsePlan):
            return response_for(target, None, request, mount.options.chunk_size)
        mount = target
    plan, opened = mount.respond(
        method,
        decoded,
        request_headers(request.META),
        client,
        request.META.get(PROXY_HEADER_WSGI),
    )
    return response_for(plan, opened, request, mount.options.chunk_size)


def serve_with(mount: Mount, request: HttpRequest, name: str) -> HttpResponseBase:
    response = serve_guarded(mount, request, name)
    if response is None:  # never: with the request at hand nothing is deferred
        raise Http404("not served")
    return response


def serve(request: HttpRequest, path: str | None = None) -> HttpResponseBase:
    """Serve ``MEDIA_URL`` from ``MEDIA_ROOT``; wired by ``media_urlpatterns()``."""
    config = get_config()
    if config.storage is not None:  # MEDIASERVE["STORAGE"]: media in object storage
        from .storage_views import serve_storage

        found = path if path is not None else config.storage.match(request.path_info)
        if found is None:
            raise Http404("outside MEDIA_URL")
        response = serve_storage(config.storage, request, found)
        if response is None:  # never: with the request at hand nothing is deferred
            raise Http404("not served")
        return response
    mount = config.mount
    if mount is None:
        raise Http404("MEDIA_URL is not served by this process")
    name = path if path is not None else mount.match(request.path_info)
    if name is None:
        raise Http404("outside MEDIA_URL")
    return serve_with(mount, request, name)
