"""ASGI delivery: zerocopysend or pathsend when the server offers them, off-loop reads otherwise.

Blocking file system calls (open, fstat, pread) run on one shared, bounded thread pool,
never on the event loop and never on a pool created per request. The body is sent chunk
by chunk and reading stops as soon as the client disconnects.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..access.rules import NO_REQUEST, Access, admit
from ..http.plan import FilePart, RequestHeaders, ResponsePlan, ServeOptions, not_found
from ..pipeline.mount import Mount, decode_path
from ..pipeline.offload import Offload
from ..ratelimit.limiter import RateLimiter, meta_from_scope
from ..sources.base import OpenFile, Source

__all__ = [
    "ASGIMedia",
    "deliver",
    "executor",
    "internal_redirect_loop",
    "offload_via",
    "serve",
    "serve_admitted",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_executor: ThreadPoolExecutor | None = None
_executor_pid = 0


def executor() -> ThreadPoolExecutor:
    """The process-wide pool for file I/O (re-created after a fork)."""
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
}


def offload_via(scope: Scope) -> str | None:
    """The proxy's ``X-Mediaserve-Offload`` request header (see delivery/offload.py)."""
    for key, value in scope.get("headers", ()):
        if bytes(key).lower() == b"x-mediaserve-offload":
            return bytes(value).decode("latin-1")
    return None


async def internal_redirect_loop(mount: Mount, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer an offload URI that the proxy sent back to the app (502); False if it is not one."""
    if mount.offload is None:
        return False
    looped = mount.internal(path_in_app(scope), offload_via(scope), str(scope.get("method", "GET")))
    if looped is None:
        return False
    await deliver(Prepared(looped, None), scope, receive, send, 0)
    return True


def request_headers(scope: Scope) -> RequestHeaders:
    found: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        field = _HEADER_FIELDS.get(bytes(key).lower())
        if field is None:
            continue
        text = bytes(value).decode("latin-1")
        # Repeated list fields are one list (RFC 9110 §5.3); a repeated Range becomes
        # malformed this way and is ignored, which is the safe reading.
        found[field] = f"{found[field]}, {text}" if field in found else text
    return RequestHeaders(**found)


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
    """Everything found in the one trip to the I/O pool: what to send and how."""

    __slots__ = ("first_chunk", "opened", "pathsend", "plan")

    def __init__(
        self,
        plan: ResponsePlan,
        opened: OpenFile | None,
        *,
        first_chunk: bytes | None = None,
        pathsend: bool = False,
    ) -> None:
        self.plan = plan
        self.opened = opened
        self.first_chunk = first_chunk
        self.pathsend = pathsend


def prepare(scope: Scope, plan: ResponsePlan, opened: OpenFile | None, chunk_size: int) -> Prepared:
    """Choose the delivery method and do its blocking part (runs on the I/O pool).

    Small bodies are read here, so a small file costs one thread hop in all.
    """
    if opened is None:
        return Prepared(plan, None)
    extensions = scope.get("extensions") or {}
    if "http.response.zerocopysend" in extensions:
        return Prepared(plan, opened)
    if "http.response.pathsend" in extensions and plan.whole_file and _same_file(opened):
        return Prepared(plan, opened, pathsend=True)
    part = next(s for s in plan.body if isinstance(s, FilePart))
    first = None
    if part.length <= chunk_size:
        first = os.pread(opened.fd, part.length, part.offset)
    return Prepared(plan, opened, first_chunk=first)


async def deliver(
    prepared: Prepared, scope: Scope, receive: Receive, send: Send, chunk_size: int
) -> None:
    """Send a prepared response, then release its file."""
    plan, opened = prepared.plan, prepared.opened
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in plan.headers]
    await send({"type": "http.response.start", "status": plan.status, "headers": headers})
    if opened is None:
        body = b"".join(s for s in plan.body if isinstance(s, bytes))
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return
    try:
        if prepared.pathsend:
            # The server re-opens the path; prepare() checked that the path still names
            # the descriptor's file (device, inode, size, mtime), which narrows the
            # replace-by-rename window to the microseconds before the server's open().
            await send({"type": "http.response.pathsend", "path": opened.path})
        elif "http.response.zerocopysend" in (scope.get("extensions") or {}):
            await _zerocopy(plan, opened, send)
        else:
            await _stream(plan, opened, receive, send, chunk_size, prepared.first_chunk)
    finally:
        opened.close()


async def _zerocopy(plan: ResponsePlan, opened: OpenFile, send: Send) -> None:
    last = len(plan.body) - 1
    for index, segment in enumerate(plan.body):
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


async def _stream(
    plan: ResponsePlan,
    opened: OpenFile,
    receive: Receive,
    send: Send,
    chunk_size: int,
    first_chunk: bytes | None,
) -> None:
    loop = asyncio.get_running_loop()
    pool = executor()
    disconnect = _Disconnect(receive)
    try:
        for segment in plan.body:
            if isinstance(segment, bytes):
                await send({"type": "http.response.body", "body": segment, "more_body": True})
                continue
            offset, remaining = segment.offset, segment.length
            if first_chunk is not None:
                data, first_chunk = first_chunk, None
            else:
                data = await loop.run_in_executor(
                    pool, os.pread, opened.fd, min(chunk_size, remaining), offset
                )
            while data:
                if disconnect.happened:
                    return
                await send({"type": "http.response.body", "body": data, "more_body": True})
                offset += len(data)
                remaining -= len(data)
                if remaining <= 0:
                    break
                data = await loop.run_in_executor(
                    pool, os.pread, opened.fd, min(chunk_size, remaining), offset
                )
            if remaining > 0:
                # Truncated under us: end without completing the body so the server
                # closes the connection rather than framing a short response as whole.
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        disconnect.stop()


def name_decoder(scope: Scope, name: str) -> Callable[[], str]:
    """Decodes ``name`` (the server-decoded path, checked against ``raw_path``)."""
    raw = scope.get("raw_path")

    def decoded() -> str:
        return decode_path(name.encode("utf-8", "surrogateescape"), raw if raw else None)

    return decoded


def client_of(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _lookup(mount: Mount, scope: Scope, name: str) -> Prepared:
    """Lookup, planning and the blocking part of delivery, in one trip to the I/O pool."""
    plan, opened = mount.respond(
        str(scope.get("method", "GET")),
        name_decoder(scope, name),
        request_headers(scope),
        client_of(scope),
        offload_via(scope),
    )
    try:
        return prepare(scope, plan, opened, mount.options.chunk_size)
    except BaseException:
        if opened is not None:
            opened.close()
        raise


async def serve(mount: Mount, scope: Scope, receive: Receive, send: Send, name: str) -> None:
    """Serve ``name`` (the decoded ``path`` relative to the mount) from ``mount``."""
    prepared = await asyncio.get_running_loop().run_in_executor(
        executor(), _lookup, mount, scope, name
    )
    await deliver(prepared, scope, receive, send, mount.options.chunk_size)


async def serve_admitted(
    access: Access | None,
    mount: Mount,
    scope: Scope,
    receive: Receive,
    send: Send,
    name: str,
    request: object = NO_REQUEST,
) -> bool:
    """``serve`` behind the access check (see ``access.admit``); False when nothing was sent
    because the request must go to the application behind (a private name, no request).

    The check runs on the event loop: it is an HMAC and a prefix match, or the caller's
    permission callable, which must not block.
    """
    query = bytes(scope.get("query_string", b"") or b"").decode("latin-1")
    target = admit(
        access, mount, str(scope.get("method", "GET")), name_decoder(scope, name), query,
        client_of(scope), request,
    )  # fmt: skip
    if target is None:
        return False
    if isinstance(target, ResponsePlan):
        await deliver(Prepared(target, None), scope, receive, send, 0)
        return True
    await serve(target, scope, receive, send, name)
    return True


class ASGIMedia:
    """An ASGI application serving files under ``prefix``; other paths go to ``app``.

    ``access`` restricts names by prefix (see ``mediaserve.access``); its permission
    callable, if any, is called with the ASGI scope on the event loop. ``rate_limit``
    answers 429 to a client past its limit; its store is called on the I/O pool.
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
        self.mount = Mount.create(root_or_source, prefix, options, offload)
        self.app = app
        self.access = access
        self.rate_limit = rate_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = self.mount.match(path_in_app(scope))
            if name is not None:
                if self.rate_limit is not None:
                    method = str(scope.get("method", "GET"))
                    limited = await asyncio.get_running_loop().run_in_executor(
                        executor(), self.rate_limit.check, meta_from_scope(scope), method
                    )
                    if limited is not None:
                        await deliver(Prepared(limited, None), scope, receive, send, 0)
                        return
                if self.access is None:
                    await serve(self.mount, scope, receive, send, name)
                    return
                if not await serve_admitted(
                    self.access, self.mount, scope, receive, send, name, scope
                ):  # never deferred: a request (the scope) was given
                    missing = Prepared(not_found(str(scope.get("method", "GET"))), None)
                    await deliver(missing, scope, receive, send, 0)
                return
            if await internal_redirect_loop(self.mount, scope, receive, send):
                return
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
        elif scope["type"] == "http":
            missing = Prepared(not_found(str(scope.get("method", "GET"))), None)
            await deliver(missing, scope, receive, send, 0)
        elif scope["type"] == "websocket":
            # Nothing here accepts WebSockets: close before the handshake, which the server
            # turns into a 403 (ASGI spec). Returning without a message makes servers log an
            # error and answer 500 instead.
            await send({"type": "websocket.close", "code": 1000})


def path_in_app(scope: Scope) -> str:
    """``path`` without ``root_path``: ASGI servers include the mount point in ``path``."""
    path = str(scope.get("path", "") or "/")
    root = str(scope.get("root_path", "") or "")
    if root and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root.rstrip("/")) :] or "/"
    return path


async def lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown when there is no wrapped app to do it."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
