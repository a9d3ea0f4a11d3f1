"""WSGI delivery: ``wsgi.file_wrapper`` (sendfile) where it is exact, bounded reads otherwise."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..access.rules import NO_REQUEST, Access, admit
from ..http.plan import RequestHeaders, ResponsePlan, ServeOptions, not_found
from ..pipeline.mount import Mount, decode_path
from ..pipeline.offload import PROXY_HEADER_WSGI, Offload
from ..ratelimit.limiter import RateLimiter
from ..sources.base import OpenFile, Source
from .body import FileReader, status_line

__all__ = ["WSGIMedia", "internal_redirect_loop", "request_headers", "serve", "serve_admitted"]

Environ = dict[str, Any]

# Bodies up to this size are read with one pread and sent from a list even where sendfile is
# available: for a 10 KiB file gunicorn's file_wrapper path (fstat, lseek, a separate header
# write, sendfile) costs more CPU than copying the bytes once (bench/, small scenario).
SENDFILE_MIN = 64 * 1024
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def request_headers(environ: Environ) -> RequestHeaders:
    get = environ.get
    return RequestHeaders(
        range=get("HTTP_RANGE"),
        if_range=get("HTTP_IF_RANGE"),
        if_match=get("HTTP_IF_MATCH"),
        if_none_match=get("HTTP_IF_NONE_MATCH"),
        if_modified_since=get("HTTP_IF_MODIFIED_SINCE"),
        if_unmodified_since=get("HTTP_IF_UNMODIFIED_SINCE"),
    )


def _raw_uri(environ: Environ) -> bytes | None:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(raw, str):
        return None
    return raw.encode("latin-1", "replace")


def wrapper_is_exact(environ: Environ) -> bool:
    """Whether this server's ``wsgi.file_wrapper`` sends exactly Content-Length bytes
    from the file's current offset.

    PEP 3333 only promises that the wrapper iterates the file to its end, which would
    overrun a 206 (and a file that grew after fstat). gunicorn sends Content-Length
    bytes with sendfile from the current offset; mod_wsgi honours Content-Length too.
    Other servers get the bounded-read iterator.
    """
    software = str(environ.get("SERVER_SOFTWARE", ""))
    return software.startswith("gunicorn") or "mod_wsgi.version" in environ


def _close_connection_after(start_response: StartResponse) -> None:
    """Ask the server to close the connection once this response is done.

    Needed when a body came up short (the file was truncated under the download): the
    client must see the connection end, or a proxy reusing it would read the next
    response as the rest of this body (RFC 9112 §6.3). granian and uvicorn close on a
    short body by themselves; gunicorn keeps the connection alive unless told, and its
    ``start_response`` is a method of the response object that has ``force_close()``.
    """
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()


class _Body:
    """The response iterable for the fallback path; ``close()`` releases the file."""

    __slots__ = ("opened", "reader", "start_response")

    def __init__(self, opened: OpenFile, reader: FileReader, start_response: StartResponse) -> None:
        self.opened = opened
        self.reader = reader
        self.start_response = start_response

    def __iter__(self) -> Iterator[bytes]:
        return self.reader.chunks()

    def close(self) -> None:
        if self.reader.short:
            _close_connection_after(self.start_response)
        self.opened.close()


@functools.cache
def _size_checked(wrapper_class: type) -> type | None:
    """A subclass of the server's file wrapper whose ``close()`` checks, after the server
    sent the body with sendfile, that the file still held all of it (None when the
    server's class cannot be subclassed, e.g. a C type without Py_TPFLAGS_BASETYPE).

    sendfile stops quietly at end of file, so a file truncated under the download gives
    a short body the server cannot notice. The server still sees an instance of its
    own wrapper class (gunicorn tests ``isinstance`` before using sendfile).
    """
    try:

        class SizeChecked(wrapper_class):  # type: ignore[misc]
            def __init__(
                self, opened: OpenFile, end: int, start_response: StartResponse, blksize: int
            ) -> None:
                super().__init__(opened.file, blksize)
                self._mediaserve = (opened, end, start_response)
                # gunicorn's wrapper binds close to the file's close on the instance.
                self.close = self._checked_close

            def _checked_close(self) -> None:
                opened, end, start_response = self._mediaserve
                try:
                    short = os.fstat(opened.fd).st_size < end
                except OSError:
                    short = True
                if short:
                    _close_connection_after(start_response)
                opened.close()

    except TypeError:
        return None
    return SizeChecked


def deliver(
    plan: ResponsePlan,
    opened: OpenFile | None,
    environ: Environ,
    start_response: StartResponse,
    chunk_size: int,
) -> Iterable[bytes]:
    """Start the response and return the body iterable for ``plan``."""
    start_response(status_line(plan.status), list(plan.headers))
    if opened is None:
        return [s for s in plan.body if isinstance(s, bytes)]
    part = plan.single_part
    file_wrapper = environ.get("wsgi.file_wrapper")
    if (
        part is not None
        and part.length > SENDFILE_MIN
        and file_wrapper is not None
        and wrapper_is_exact(environ)
    ):
        os.lseek(opened.fd, part.offset, os.SEEK_SET)
        end = part.offset + part.length
        checked_class = _size_checked(file_wrapper) if isinstance(file_wrapper, type) else None
        if checked_class is not None:
            checked: Iterable[bytes] = checked_class(opened, end, start_response, chunk_size)
            return checked
        wrapped: Iterable[bytes] = file_wrapper(opened.file, chunk_size)
        return wrapped
    if part is not None and part.length <= max(chunk_size, SENDFILE_MIN):
        # Small file: one read now and a list, which servers send without iterating
        # Python objects (and the descriptor is released before the send).
        try:
            return [os.pread(opened.fd, part.length, part.offset)]
        finally:
            opened.close()
    return _Body(opened, FileReader(opened.fd, plan.body, chunk_size), start_response)


def internal_redirect_loop(mount: Mount, environ: Environ) -> ResponsePlan | None:
    """The 502 for an offload URI the proxy sent back to the app, else None."""
    if mount.offload is None:
        return None
    return mount.internal(
        environ.get("PATH_INFO", "") or "/",
        environ.get(PROXY_HEADER_WSGI),
        str(environ.get("REQUEST_METHOD", "GET")),
    )


def name_decoder(environ: Environ, name: str) -> Callable[[], str]:
    """Decodes ``name`` (as found in PATH_INFO, latin-1 per PEP 3333) or raises Refused."""
    raw = _raw_uri(environ)

    def decoded() -> str:
        return decode_path(name.encode("latin-1", "replace"), raw)

    return decoded


def serve(
    mount: Mount, environ: Environ, start_response: StartResponse, name: str
) -> Iterable[bytes]:
    """Serve ``name`` (as found in PATH_INFO, latin-1 per PEP 3333) from ``mount``."""
    plan, opened = mount.respond(
        str(environ.get("REQUEST_METHOD", "GET")),
        name_decoder(environ, name),
        request_headers(environ),
        environ.get("REMOTE_ADDR"),
        environ.get(PROXY_HEADER_WSGI),
    )
    return deliver(plan, opened, environ, start_response, mount.options.chunk_size)


def serve_admitted(
    access: Access | None,
    mount: Mount,
    environ: Environ,
    start_response: StartResponse,
    name: str,
    request: object = NO_REQUEST,
) -> Iterable[bytes] | None:
    """``serve`` behind the access check (see ``access.admit``); ``None`` when the request
    must go to the application behind (a private name and no ``request`` to judge it by)."""
    method = str(environ.get("REQUEST_METHOD", "GET"))
    query = str(environ.get("QUERY_STRING", "") or "")
    target = admit(
        access, mount, method, name_decoder(environ, name), query, environ.get("REMOTE_ADDR"),
        request,
    )  # fmt: skip
    if target is None:
        return None
    if isinstance(target, ResponsePlan):
        return deliver(target, None, environ, start_response, 0)
    return serve(target, environ, start_response, name)


class WSGIMedia:
    """A WSGI application serving files under ``prefix``; other paths go to ``app``.

    ``access`` restricts names by prefix (see ``mediaserve.access``); its permission
    callable, if any, is called with the WSGI environ. ``rate_limit`` answers 429 to a
    client past its limit (see ``mediaserve.ratelimit``).
    """

    def __init__(
        self,
        root_or_source: str | os.PathLike[str] | Source,
        *,
        prefix: str = "/",
        app: WSGIApp | None = None,
        options: ServeOptions | None = None,
        offload: Offload | None = None,
        access: Access | None = None,
        rate_limit: RateLimiter | None = None,
    ) -> None:
        self.mount = Mount.create(root_or_source, prefix, options, offload)
        self.app = app
        self.access = access
        self.rate_limit = rate_limit

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        name = self.mount.match(environ.get("PATH_INFO", "") or "/")
        method = str(environ.get("REQUEST_METHOD", "GET"))
        if name is None:
            looped = internal_redirect_loop(self.mount, environ)
            if looped is not None:
                return deliver(looped, None, environ, start_response, 0)
            if self.app is not None:
                return self.app(environ, start_response)
            return deliver(not_found(method), None, environ, start_response, 0)
        if self.rate_limit is not None:
            limited = self.rate_limit.check(environ, method)
            if limited is not None:
                return deliver(limited, None, environ, start_response, 0)
        if self.access is not None:
            served = serve_admitted(self.access, self.mount, environ, start_response, name, environ)
            if served is not None:  # never None: a request was given, nothing is deferred
                return served
            return deliver(not_found(method), None, environ, start_response, 0)
        return serve(self.mount, environ, start_response, name)
