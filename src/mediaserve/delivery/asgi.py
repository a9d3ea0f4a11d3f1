"""ASGI: build the pipeline's request from the scope, execute its outcome.

The decision and every blocking call (the rate limit's store, the lookup, the first read)
run in one trip to a shared, bounded thread pool, never on the event loop and never on a
pool created per request. Bytes move by ``zerocopysend`` or ``pathsend`` when the server
offers them for a local file, otherwise chunk by chunk, reading on the pool and stopping as
soon as the client disconnects. A body that comes up short is left unfinished, which every
server answers by closing the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import metrics as _metrics
from ..access.rules import NO_REQUEST, Access
from ..http.plan import RequestHeaders, ServeOptions, not_found
from ..pipeline.decide import Pipeline
from ..pipeline.mount import Mount
from ..pipeline.offload import Offload
from ..pipeline.request import Outcome, Request
from ..ratelimit.limiter import RateLimiter
from ..sources.base import OpenFile, Source
from .body import BodyReader

__all__ = [
    "ASGIMedia",
    "Prepared",
    "body_chunks",
    "executor",
    "lifespan",
    "path_in_app",
    "prepare",
    "release",
    "request_from_scope",
    "send_prepared",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_executor: ThreadPoolExecutor | None = None
_executor_pid = 0
#: Where the request's arrival time is kept (scope), while an observer is installed.
STARTED = "mediaserve.started"


def executor() -> ThreadPoolExecutor:
    """The process-wide pool for blocking work (re-created after a fork)."""
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():
        # Page-cache reads take microseconds; the pool only needs to absorb the
        # occasional cold read. Python's default executor sizing is reused here.
        _executor = ThreadPoolExecutor(
            max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="mediaserve-io"
        )
        _executor_pid = os.getpid()
    return _executor


_HEADER_FIELDS = {
    b"range": "range",
    b"if-range": "if_range",
    b"if-match": "if_match",
    b"if-none-match": "if_none_match",
    b"if-modified-since": "if_modified_since",
    b"if-unmodified-since": "if_unmodified_since",
    b"x-forwarded-for": "forwarded_for",
    b"user-agent": "user_agent",
    b"x-mediaserve-offload": "via",
    b"accept": "accept",
}
_CONDITIONAL = frozenset(RequestHeaders._fields)


def path_in_app(scope: Scope) -> str:
    """``path`` without ``root_path``: ASGI servers include the mount point in ``path``."""
    path = str(scope.get("path", "") or "/")
    root = str(scope.get("root_path", "") or "")
    if root and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root.rstrip("/")) :] or "/"
    return path


def request_from_scope(scope: Scope, judge: Any = NO_REQUEST) -> Request:
    """The pipeline's request for an HTTP scope (headers read in one pass).

    Repeated list fields are one list (RFC 9110 §5.3); a repeated Range becomes malformed
    this way and is ignored, which is the safe reading.
    """
    if _metrics.OBSERVER is not None and STARTED not in scope:
        scope[STARTED] = time.perf_counter()
    found: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        field = _HEADER_FIELDS.get(bytes(key).lower())
        if field is None:
            continue
        text = bytes(value).decode("latin-1")
        found[field] = f"{found[field]}, {text}" if field in found else text
    headers = (
        RequestHeaders(**{k: v for k, v in found.items() if k in _CONDITIONAL}) if found else _PLAIN
    )
    client = scope.get("client")
    raw = scope.get("raw_path")
    return Request(
        str(scope.get("method", "GET")),
        path_in_app(scope).encode("utf-8", "surrogateescape"),
        bytes(raw) if raw else None,
        bytes(scope.get("query_string", b"") or b"").decode("latin-1"),
        headers,
        str(client[0]) if client else None,
        found.get("forwarded_for"),
        found.get("user_agent"),
        found.get("via"),
        judge,
        scope,
        found.get("accept"),
    )


_PLAIN = RequestHeaders()


class _Disconnect:
    """Watches ``receive`` for ``http.disconnect`` while the body is being sent."""

    def __init__(self, receive: Receive) -> None:
        self.event = asyncio.Event()
        self.task = asyncio.ensure_future(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        try:
            while True:
                message = await receive()
                if message.get("type") == "http.disconnect":
                    break
        except Exception:  # noqa: S110 - a broken receive channel means the client is gone
            pass
        self.event.set()

    @property
    def happened(self) -> bool:
        return self.event.is_set()

    def stop(self) -> None:
        self.task.cancel()


def _same_file(opened: OpenFile) -> bool:
    """Whether ``opened.path`` still names the file that was opened (for pathsend)."""
    try:
        now = os.stat(opened.path, follow_symlinks=False)
    except OSError:
        return False
    before = opened.stat
    return (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) == (
        before.st_dev,
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


class Prepared:
    """An outcome plus the blocking part of its delivery, done in the same trip to the pool:
    how to send it, and for copied bodies the reader with its first chunk already read."""

    __slots__ = (
        "chunks", "first_chunk", "headers_at", "outcome", "pathsend", "reader", "sent", "short",
        "zerocopy",
    )  # fmt: skip

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.pathsend = False
        self.zerocopy = False
        self.reader: BodyReader | None = None
        self.chunks: Generator[bytes, None, None] | None = None
        self.first_chunk: bytes | None = None
        #: Set by ``body_chunks`` when the body came up short.
        self.short = False
        #: Body bytes handed to the server, and when the headers were (for the metrics).
        self.sent = 0
        self.headers_at = 0.0


def prepare(outcome: Outcome, scope: Scope) -> Prepared:
    """Choose how to send ``outcome`` and do its blocking part (run on the I/O pool).

    Small bodies are read here whole, so a small file costs one thread hop in all; a
    stored object's first chunk is fetched here too.
    """
    prepared = Prepared(outcome)
    resource = outcome.body
    if resource is None:
        return prepared
    plan = outcome.plan
    try:
        extensions = scope.get("extensions") or {}
        if isinstance(resource, OpenFile):
            if "http.response.zerocopysend" in extensions:
                prepared.zerocopy = True
                return prepared
            if "http.response.pathsend" in extensions and plan.whole_file and _same_file(resource):
                prepared.pathsend = True
                return prepared
            part = plan.single_part
            if part is not None and part.length <= outcome.chunk_size:
                prepared.first_chunk = os.pread(resource.fd, part.length, part.offset)
            return prepared
        prepared.reader = reader = BodyReader(resource, plan.body, outcome.chunk_size)
        prepared.chunks = chunks = reader.chunks()
        prepared.first_chunk = next(chunks, None)
    except BaseException:
        release(prepared)
        raise
    return prepared


def release(prepared: Prepared) -> None:
    """Close the reader (a store response mid-read) and the resource."""
    if prepared.chunks is not None:
        prepared.chunks.close()
    if prepared.outcome.body is not None:
        prepared.outcome.body.close()


async def send_prepared(prepared: Prepared, scope: Scope, receive: Receive, send: Send) -> None:
    """Send a prepared outcome, then release its file or store connection."""
    observer = _metrics.OBSERVER
    if observer is None:
        await _deliver(prepared, receive, send)
        return
    started = scope.get(STARTED) or time.perf_counter()
    try:
        await _deliver(prepared, receive, send)
    finally:
        _report(observer, prepared, scope, started)


def _report(observer: _metrics.Observer, prepared: Prepared, scope: Scope, started: float) -> None:
    """The one observer call of the ASGI adapter, after the body is done (or abandoned)."""
    outcome = prepared.outcome
    kind = outcome.kind
    if kind == "offloaded":
        delivery = "offload"
    elif kind == "redirected":
        delivery = "redirect"
    elif prepared.pathsend or prepared.zerocopy:
        delivery = "sendfile"
    else:
        delivery = "in_process"
    agent = None
    for key, value in scope.get("headers", ()):
        if bytes(key).lower() == b"user-agent":
            agent = bytes(value).decode("latin-1")
    observer.response(
        outcome.plan.status,
        kind,
        outcome.reason,
        delivery,
        prepared.sent,
        started,
        prepared.headers_at or started,
        agent,
        str(scope.get("path", "")),
        prepared.short,
        outcome.client or (str(peer[0]) if (peer := scope.get("client")) else None),
    )


async def _deliver(prepared: Prepared, receive: Receive, send: Send) -> None:
    outcome = prepared.outcome
    plan = outcome.plan
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in plan.headers]
    await send({"type": "http.response.start", "status": plan.status, "headers": headers})
    prepared.headers_at = time.perf_counter()
    resource = outcome.body
    if resource is None:
        body = b"".join(s for s in plan.body if isinstance(s, bytes))
        await send({"type": "http.response.body", "body": body, "more_body": False})
        prepared.sent = len(body)
        return
    try:
        if prepared.pathsend:
            assert isinstance(resource, OpenFile)
            # The server re-opens the path; prepare() checked that the path still names
            # the descriptor's file (device, inode, size, mtime), which narrows the
            # replace-by-rename window to the microseconds before the server's open().
            await send({"type": "http.response.pathsend", "path": resource.path})
            prepared.sent = plan.content_length
        elif prepared.zerocopy:
            assert isinstance(resource, OpenFile)
            await _zerocopy(outcome, resource, send)
            prepared.sent = plan.content_length
        else:
            await _stream(prepared, receive, send)
    finally:
        if isinstance(resource, OpenFile):
            release(prepared)
        else:  # a store connection: closing it may block
            await asyncio.get_running_loop().run_in_executor(executor(), release, prepared)


async def _zerocopy(outcome: Outcome, opened: OpenFile, send: Send) -> None:
    body = outcome.plan.body
    last = len(body) - 1
    for index, segment in enumerate(body):
        more = index < last
        if isinstance(segment, bytes):
            await send({"type": "http.response.body", "body": segment, "more_body": more})
        else:
            await send(
                {
                    "type": "http.response.zerocopysend",
                    "file": opened.file,
                    "offset": segment.offset,
                    "count": segment.length,
                    "more_body": more,
                }
            )


async def body_chunks(prepared: Prepared) -> AsyncGenerator[bytes, None]:
    """The outcome's body, read on the I/O pool chunk by chunk (ASGIMedia, the Django
    wrappers and the Django view under ASGI all send it from here); a body that comes up
    short ends early and sets ``prepared.short``.

    A local file is read with ``os.pread`` handed to the pool itself: the same reading as
    ``BodyReader`` without its generators, which measured about 9 % more CPU per GB under
    uvicorn (docs/benchmarks.md). A stored object is read through its ``BodyReader``.
    """
    outcome = prepared.outcome
    resource = outcome.body
    assert resource is not None
    loop = asyncio.get_running_loop()
    pool = executor()
    data = prepared.first_chunk
    if isinstance(resource, OpenFile):
        chunk_size = outcome.chunk_size
        for segment in outcome.plan.body:
            if isinstance(segment, bytes):
                yield segment
                continue
            offset, remaining = segment.offset, segment.length
            while remaining > 0:
                if data is None:
                    data = await loop.run_in_executor(
                        pool, os.pread, resource.fd, min(chunk_size, remaining), offset
                    )
                if not data:  # truncated under us
                    prepared.short = True
                    return
                offset += len(data)
                remaining -= len(data)
                chunk, data = data, None
                yield chunk
        return
    chunks, reader = prepared.chunks, prepared.reader
    assert chunks is not None
    assert reader is not None
    total, sent = outcome.plan.content_length, 0
    while data is not None:
        yield data
        sent += len(data)
        if sent >= total:  # the last chunk: no trip to the pool to learn that
            return
        data = await loop.run_in_executor(pool, next, chunks, None)
    prepared.short = True  # the reader ended before Content-Length (reader.short)


async def _stream(prepared: Prepared, receive: Receive, send: Send) -> None:
    total = prepared.outcome.plan.content_length
    sent = 0
    disconnect: _Disconnect | None = None
    try:
        async with contextlib.aclosing(body_chunks(prepared)) as chunks:
            async for data in chunks:
                if disconnect is not None and disconnect.happened:
                    return
                await send({"type": "http.response.body", "body": data, "more_body": True})
                sent += len(data)
                prepared.sent = sent
                if disconnect is None and sent < total:  # more to come: watch the client
                    disconnect = _Disconnect(receive)
        if prepared.short:
            # Truncated under us: end without completing the body so the server
            # closes the connection rather than framing a short response as whole.
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        if disconnect is not None:
            disconnect.stop()


def _decide_and_prepare(pipeline: Pipeline, request: Request, scope: Scope) -> Prepared | None:
    outcome = pipeline.decide(request)
    return None if outcome is None else prepare(outcome, scope)


async def decide_on_pool(pipeline: Pipeline, request: Request, scope: Scope) -> Prepared | None:
    """``Pipeline.decide`` and ``prepare`` in one trip to the I/O pool (None: not ours)."""
    return await asyncio.get_running_loop().run_in_executor(
        executor(), _decide_and_prepare, pipeline, request, scope
    )


class ASGIMedia:
    """An ASGI application serving files under ``prefix``; other paths go to ``app``.

    ``access`` restricts names by prefix (see ``mediaserve.access``); its permission
    callable, if any, is called with the ASGI scope on the I/O pool (it may block).
    ``rate_limit`` answers 429 to a client past its limit.
    """

    def __init__(
        self,
        root_or_source: str | os.PathLike[str] | Source,
        *,
        prefix: str = "/",
        app: ASGIApp | None = None,
        options: ServeOptions | None = None,
        offload: Offload | None = None,
        access: Access | None = None,
        rate_limit: RateLimiter | None = None,
    ) -> None:
        self.pipeline = Pipeline(
            Mount.create(root_or_source, prefix, options, offload), access, rate_limit
        )
        self.app = app

    @property
    def mount(self) -> Mount:
        return self.pipeline.mount

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # The permission callable is asked with the scope: nothing is deferred here.
            request = request_from_scope(scope, scope)
            if self.pipeline.claims(request):
                prepared = await decide_on_pool(self.pipeline, request, scope)
                if prepared is not None:
                    await send_prepared(prepared, scope, receive, send)
                    return
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
        elif scope["type"] == "http":
            missing = Prepared(Outcome(not_found(str(scope.get("method", "GET")))))
            await send_prepared(missing, scope, receive, send)
        elif scope["type"] == "websocket":
            # Nothing here accepts WebSockets: close before the handshake, which the server
            # turns into a 403 (ASGI spec). Returning without a message makes servers log an
            # error and answer 500 instead.
            await send({"type": "websocket.close", "code": 1000})


async def lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown when there is no wrapped app to do it."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
