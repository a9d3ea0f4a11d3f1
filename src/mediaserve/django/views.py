"""The Django view, and the Django response that executes an outcome of the pipeline.

Under WSGI a single-part local body is handed to Django as ``file_to_stream`` so the
server's ``wsgi.file_wrapper`` sends it (sendfile under gunicorn). Under ASGI the body is
an async iterator read on the I/O pool: Django would otherwise buffer a sync iterator whole
in memory. Either way a body that comes up short ends the connection, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Generator, Iterator, MutableMapping
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from .. import metrics as _metrics
from ..access.rules import NO_REQUEST
from ..delivery.asgi import Prepared, body_chunks, executor, prepare, release
from ..delivery.body import BodyReader, ShortBody
from ..delivery.wsgi import (
    STARTED,
    close_connection_after,
    file_came_up_short,
    request_from_environ,
    wrapper_is_exact,
)
from ..pipeline.decide import Pipeline
from ..pipeline.mount import Mount
from ..pipeline.request import DEFERRED, Outcome, Request
from ..sources.base import OpenFile, Resource
from .pipeline import get_pipeline

__all__ = ["django_request", "response_for", "serve", "serve_media", "serve_with"]


def raw_path_of(request: HttpRequest) -> bytes | None:
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("raw_path"):
        return bytes(scope["raw_path"])
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    return raw.encode("latin-1", "replace") if isinstance(raw, str) else None


def django_request(request: HttpRequest, judge: Any, path: str | None = None) -> Request:
    """The pipeline's request for a Django request.

    ``path`` is the path inside the site (``request.path_info``, Django's UTF-8 text);
    the rate limit's "counted" mark goes where the fast wrappers put it: the ASGI scope, or
    the WSGI environ (which is ``request.META``).
    """
    text = request.path_info if path is None else path
    scope = getattr(request, "scope", None)
    mark: MutableMapping[str, Any] = scope if isinstance(scope, dict) else request.META
    return request_from_environ(request.META, judge)._replace(
        method=request.method or "GET",
        path=text.encode("utf-8", "surrogateescape"),
        raw=raw_path_of(request),
        mark=mark,
    )


def _is_asgi(request: HttpRequest) -> bool:
    return isinstance(getattr(request, "scope", None), dict)


class _SyncBody:
    """Streaming content for WSGI; a short body ends the connection (see
    ``close_connection_after``), and Django closing the response releases the source.

    ``closer`` is bound at creation: Django replaces ``file_to_stream.close`` with
    ``response.close``, and looking the method up later would call back into it.
    """

    def __init__(self, resource: Resource, outcome: Outcome, environ: dict[str, Any]) -> None:
        self.reader = BodyReader(resource, outcome.plan.body, outcome.chunk_size)
        self.resource = resource
        self.environ = environ
        self.chunks: Generator[bytes, None, None] | None = None
        self.closer = resource.close
        # Set when the server's file_wrapper sends the file instead (sendfile): the end
        # offset it was asked to reach, checked when Django closes the response.
        self.sendfile_end: int | None = None

    def __iter__(self) -> Iterator[bytes]:
        self.chunks = self._chunks()
        return self.chunks

    def _chunks(self) -> Generator[bytes, None, None]:
        yield from self.reader.chunks()
        if self.reader.short:
            close_connection_after(self.environ)

    def close(self) -> None:
        if self.chunks is not None:
            self.chunks.close()  # a store response abandoned mid-read is released now
        resource, end = self.resource, self.sendfile_end
        if (
            end is not None
            and isinstance(resource, OpenFile)
            and resource.fd >= 0
            and file_came_up_short(resource, end)
        ):
            # sendfile stops quietly at the end of a truncated file.
            close_connection_after(self.environ)
        self.closer()


async def _async_chunks(prepared: Prepared) -> AsyncIterator[bytes]:
    """The body read on the I/O pool, as the ASGI adapter reads it (``body_chunks``). A
    short body raises ``ShortBody``: Django would otherwise end the response normally, and
    a server could frame it as complete."""
    try:
        async with contextlib.aclosing(body_chunks(prepared)) as chunks:
            async for chunk in chunks:
                prepared.sent += len(chunk)
                yield chunk
        if prepared.short:
            raise ShortBody(
                f"{prepared.outcome.body!r} came up short (changed while being sent): the"
                " connection is closed so that the client sees an incomplete body"
            )
    finally:
        await asyncio.get_running_loop().run_in_executor(executor(), release, prepared)


def response_for(outcome: Outcome, request: HttpRequest) -> HttpResponseBase:
    """A Django response executing ``outcome``; it owns the outcome's body from here on."""
    plan, resource = outcome.plan, outcome.body
    response: HttpResponseBase
    if resource is None:
        response = HttpResponse(
            b"".join(s for s in plan.body if isinstance(s, bytes)), status=plan.status
        )
    elif _is_asgi(request):
        # Django calls the view (and the middleware's media half) off the event loop: the
        # first read may block here, as it does on the adapter's pool trip.
        prepared = prepare(outcome, {})
        response = StreamingHttpResponse(_async_chunks(prepared), status=plan.status)
        response._mediaserve_body = prepared  # type: ignore[attr-defined]
    else:
        body = _SyncBody(resource, outcome, request.META)
        response = StreamingHttpResponse(body, status=plan.status)
        response._mediaserve_body = body  # type: ignore[attr-defined]
        part = plan.single_part
        if part is not None and isinstance(resource, OpenFile) and wrapper_is_exact(request.META):
            # The server's wsgi.file_wrapper sends the file (sendfile under gunicorn).
            os.lseek(resource.fd, part.offset, os.SEEK_SET)
            body.sendfile_end = part.offset + part.length
            response.file_to_stream = resource.file  # type: ignore[attr-defined]
            response.block_size = outcome.chunk_size  # type: ignore[attr-defined]
    # HttpResponse invents a text/html Content-Type; the plan decides (a 304 has none).
    del response["Content-Type"]
    for name, value in plan.headers:
        response[name] = value
    observer = _metrics.OBSERVER
    if observer is not None:
        _observe_on_close(observer, outcome, request, response)
    return response


def _observe_on_close(
    observer: _metrics.Observer,
    outcome: Outcome,
    request: HttpRequest,
    response: HttpResponseBase,
) -> None:
    """The view's one observer call, made when Django closes the response: after the server
    sent the body (WSGI servers close the iterable then; Django's ASGI handler closes the
    response after its last message)."""
    started = request.META.get(STARTED) or time.perf_counter()
    headers_at = time.perf_counter()

    def report() -> None:
        sent, short, delivery = _sent(outcome, response)
        observer.response(
            outcome.plan.status,
            outcome.kind,
            outcome.reason,
            delivery,
            sent,
            started,
            headers_at,
            request.META.get("HTTP_USER_AGENT"),
            request.path,
            short,
            outcome.client or request.META.get("REMOTE_ADDR"),
        )

    response._resource_closers.append(report)  # type: ignore[attr-defined]


def _sent(outcome: Outcome, response: HttpResponseBase) -> tuple[int, bool, str]:
    """(body bytes handed to the server, whether the body came up short, delivery path)."""
    kind = outcome.kind
    if isinstance(response, HttpResponse):
        delivery = {"offloaded": "offload", "redirected": "redirect"}.get(kind, "in_process")
        return len(response.content), False, delivery
    state = getattr(response, "_mediaserve_body", None)
    if isinstance(state, _SyncBody):
        if state.sendfile_end is not None and state.reader.sent == 0:
            part = outcome.plan.single_part
            return state.sendfile_end - (part.offset if part else 0), False, "sendfile"
        return state.reader.sent, state.reader.short, "in_process"
    if isinstance(state, Prepared):
        return state.sent, state.short, "in_process"
    return 0, False, "in_process"


def _decide(pipeline: Pipeline, request: HttpRequest, judge: Any, path: str) -> Outcome | None:
    return pipeline.decide(django_request(request, judge, path))


def serve(request: HttpRequest, path: str | None = None) -> HttpResponseBase:
    """Serve ``MEDIA_URL``; wired by ``media_urlpatterns()``.

    ``path`` is the name under MEDIA_URL (the URL pattern's group); without it the request's
    own path is matched against MEDIA_URL.
    """
    pipeline = get_pipeline()
    if pipeline is None:
        raise Http404("MEDIA_URL is not served by this process")
    return serve_with(pipeline, request, path)


def serve_with(
    pipeline: Pipeline | Mount, request: HttpRequest, path: str | None = None
) -> HttpResponseBase:
    """Serve ``path`` (a name under the mount's prefix) through ``pipeline``: the view for
    another folder than MEDIA_ROOT, e.g. ``path("docs/<path:path>", my_view)`` calling
    ``serve_with(DOCS, request, path)`` with ``DOCS = Pipeline(Mount.create(...), access)``.
    """
    if isinstance(pipeline, Mount):
        pipeline = Pipeline(pipeline)
    full = request.path_info if path is None else pipeline.mount.prefix + path
    # The permission callable is asked with this request: nothing is deferred here.
    outcome = _decide(pipeline, request, request, full)
    if outcome is None or outcome is DEFERRED:
        raise Http404("outside the mount's prefix")
    return response_for(outcome, request)


def serve_media(request: HttpRequest) -> HttpResponseBase | None:
    """The middleware's half: the response for a media request, or None to let the request
    go on (not media, or a private name the view must judge after authentication ran)."""
    pipeline = get_pipeline()
    if pipeline is None:
        return None
    outcome = _decide(pipeline, request, NO_REQUEST, request.path_info)
    if outcome is None or outcome is DEFERRED:
        return None
    return response_for(outcome, request)
