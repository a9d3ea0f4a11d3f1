"""WSGI: build the pipeline's request from the environ, execute its outcome.

Bytes move by ``wsgi.file_wrapper`` (sendfile) where it is exact, one ``pread`` for small
bodies, and bounded reads otherwise; a body that comes up short closes the connection.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import time
from collections.abc import Callable, Generator, Iterable, Iterator, MutableMapping
from typing import Any

from .. import metrics as _metrics
from ..access.rules import NO_REQUEST, Access
from ..http.plan import RequestHeaders, ServeOptions, not_found
from ..pipeline.decide import Pipeline
from ..pipeline.mount import Mount
from ..pipeline.offload import PROXY_HEADER_WSGI, Offload
from ..pipeline.request import Outcome, Request
from ..ratelimit.limiter import RateLimiter
from ..sources.base import OpenFile, Resource, Source
from .body import BodyReader, status_line

__all__ = [
    "WSGIMedia",
    "close_connection_after",
    "execute",
    "hot_outcome",
    "request_from_environ",
    "request_headers",
    "wrapper_is_exact",
]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# Bodies up to this size are read with one pread and sent from a list even where sendfile is
# available: for a 10 KiB file gunicorn's file_wrapper path (fstat, lseek, a separate header
# write, sendfile) costs more CPU than copying the bytes once (bench/, small scenario).
SENDFILE_MIN = 64 * 1024
#: Where the request's arrival time is kept (environ), while an observer is installed.
STARTED = "mediaserve.started"


def request_headers(environ: MutableMapping[str, Any]) -> RequestHeaders:
    get = environ.get
    return RequestHeaders(
        range=get("HTTP_RANGE"),
        if_range=get("HTTP_IF_RANGE"),
        if_match=get("HTTP_IF_MATCH"),
        if_none_match=get("HTTP_IF_NONE_MATCH"),
        if_modified_since=get("HTTP_IF_MODIFIED_SINCE"),
        if_unmodified_since=get("HTTP_IF_UNMODIFIED_SINCE"),
    )


def raw_uri(environ: MutableMapping[str, Any]) -> bytes | None:
    """The request target as it arrived (gunicorn ``RAW_URI``, others ``REQUEST_URI``)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(raw, str):
        return None
    return raw.encode("latin-1", "replace")


def request_from_environ(
    environ: MutableMapping[str, Any], judge: Any = NO_REQUEST, path: str | None = None
) -> Request:
    """The pipeline's request for a WSGI environ (or Django's ``request.META``).

    ``path`` defaults to PATH_INFO, which PEP 3333 gives as latin-1 text of the bytes the
    server decoded; ``judge`` is what a private name's permission callable receives.
    """
    get = environ.get
    if _metrics.OBSERVER is not None and STARTED not in environ:
        environ[STARTED] = time.perf_counter()
    path_text = path if path is not None else (get("PATH_INFO", "") or "/")
    return Request(
        str(get("REQUEST_METHOD", "GET")),
        path_text.encode("latin-1", "replace"),
        raw_uri(environ),
        str(get("QUERY_STRING", "") or ""),
        request_headers(environ),
        get("REMOTE_ADDR"),
        get("HTTP_X_FORWARDED_FOR"),
        get("HTTP_USER_AGENT"),
        get(PROXY_HEADER_WSGI),
        judge,
        environ,
        get("HTTP_ACCEPT"),
    )


# A request carrying any of these is not plain (Pipeline.plain_hot): decide() answers it.
_NOT_PLAIN = (
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)


def hot_outcome(pipeline: Pipeline, environ: MutableMapping[str, Any]) -> Outcome | None:
    """The hot cache's outcome for a plain GET/HEAD (``Pipeline.plain_hot``), or None.

    Checks what makes the request plain: no Range or precondition header, and a raw URI
    (gunicorn ``RAW_URI``) without ``%`` or non-ASCII characters. The proxy's offload
    announcement goes along: the answer may then be the offload headers.
    """
    if not pipeline.hot_lane or not environ.keys().isdisjoint(_NOT_PLAIN):
        return None
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and ("%" in raw or not raw.isascii()):
        return None
    return pipeline.plain_hot(
        str(environ.get("REQUEST_METHOD", "GET")),
        environ.get("PATH_INFO", "") or "/",
        environ.get(PROXY_HEADER_WSGI),
    )


def wrapper_is_exact(environ: MutableMapping[str, Any]) -> bool:
    """Whether this server's ``wsgi.file_wrapper`` sends exactly Content-Length bytes
    from the file's current offset.

    PEP 3333 only promises that the wrapper iterates the file to its end, which would
    overrun a 206 (and a file that grew after fstat). gunicorn sends Content-Length
    bytes with sendfile from the current offset; mod_wsgi honours Content-Length too.
    Other servers get the bounded-read iterator.
    """
    software = str(environ.get("SERVER_SOFTWARE", ""))
    return software.startswith("gunicorn") or "mod_wsgi.version" in environ


def close_connection_after(
    environ: MutableMapping[str, Any], start_response: StartResponse | None = None
) -> bool:
    """Make the server close the connection after a short body; False if no way is known.

    The client was promised Content-Length bytes: a client (or a proxy reusing the
    connection) would read the next response as the rest of this body (RFC 9112 §6.3).
    granian and uvicorn close on a short body by themselves; gunicorn keeps the connection
    alive unless told: its ``start_response`` is a method of the response object that has
    ``force_close()``. Where only the environ is at hand (Django's view), the socket
    gunicorn exposes is shut for writing: the client sees the body end early.
    """
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()
        return True
    sock = environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        return True
    return False


class StreamedBody:
    """The response iterable for bounded reads; ``close()`` releases the source (an
    abandoned download's file or store connection) and closes a short body's connection.

    Servers without a way to ask (granian, waitress, mod_wsgi) count Content-Length
    themselves and close a connection whose body came up short.
    """

    __slots__ = ("chunks", "done", "environ", "reader", "resource", "start_response")

    def __init__(
        self,
        resource: Resource,
        reader: BodyReader,
        environ: MutableMapping[str, Any],
        start_response: StartResponse | None,
    ) -> None:
        self.resource = resource
        self.reader = reader
        self.environ = environ
        self.start_response = start_response
        self.chunks: Generator[bytes, None, None] | None = None
        #: Called with (bytes sent, short) once the body is done (the metrics' observer).
        self.done: Callable[[int, bool], None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        # The reader's own generator, not a wrapper around it: one frame less per chunk.
        self.chunks = chunks = self.reader.chunks()
        return chunks

    def close(self) -> None:
        """Called by the server after the last chunk (or when the client left)."""
        chunks = self.chunks
        if chunks is not None:
            chunks.close()  # a generator: releases a store response mid-read
        if self.reader.short:
            close_connection_after(self.environ, self.start_response)
        self.resource.close()
        if self.done is not None:
            self.done(self.reader.sent, self.reader.short)


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
                self,
                opened: OpenFile,
                end: int,
                environ: MutableMapping[str, Any],
                start_response: StartResponse,
                blksize: int,
            ) -> None:
                super().__init__(opened.file, blksize)
                self._mediaserve = (opened, end, environ, start_response)
                #: Called with (end offset the file held, short) after the server's
                #: sendfile (the metrics' observer).
                self.done: Callable[[int, bool], None] | None = None
                # gunicorn's wrapper binds close to the file's close on the instance.
                self.close = self._checked_close

            def _checked_close(self) -> None:
                opened, end, environ, start_response = self._mediaserve
                short = file_came_up_short(opened, end)
                if short:
                    close_connection_after(environ, start_response)
                done = self.done
                if done is not None:
                    done(_held(opened, end) if short else end, short)
                opened.close()

    except TypeError:
        return None
    return SizeChecked


def _held(opened: OpenFile, end: int) -> int:
    """How far (up to ``end``) the file still reaches: where sendfile stopped."""
    try:
        return min(end, os.fstat(opened.fd).st_size)
    except OSError:
        return 0


def file_came_up_short(opened: OpenFile, end: int) -> bool:
    """Whether a file sent with sendfile up to ``end`` no longer holds that many bytes."""
    try:
        return os.fstat(opened.fd).st_size < end
    except OSError:
        return True


def execute(
    outcome: Outcome, environ: MutableMapping[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    """Start the response for ``outcome`` and return its body iterable."""
    observer = _metrics.OBSERVER
    if observer is None:
        return _send(outcome, environ, start_response)
    return _observed(observer, outcome, environ, start_response)


def _path_text(environ: MutableMapping[str, Any]) -> str:
    """PATH_INFO as the client wrote it (PEP 3333 gives it as latin-1 of the bytes)."""
    path = str(environ.get("PATH_INFO", ""))
    return path.encode("latin-1", "replace").decode("utf-8", "replace")


class _ReportedList:
    """A list body with a ``close()`` the server calls once it has sent it (PEP 3333)."""

    __slots__ = ("data", "done", "short")

    def __init__(
        self, data: list[bytes], done: Callable[[int, bool], None], short: bool = False
    ) -> None:
        self.data = data
        self.done = done
        self.short = short

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.data)

    def close(self) -> None:
        self.done(sum(map(len, self.data)), self.short)


def _observed(
    observer: _metrics.Observer,
    outcome: Outcome,
    environ: MutableMapping[str, Any],
    start_response: StartResponse,
) -> Iterable[bytes]:
    """``_send``, with the observer told once the server is done with the body.

    The body iterable the server gets is the one ``_send`` chose: a file wrapper must stay
    an instance of the server's class (gunicorn sends it with sendfile only then), so the
    report rides on its ``close()``.
    """
    started = environ.get(STARTED) or time.perf_counter()
    body = _send(outcome, environ, start_response)
    headers_at = time.perf_counter()
    kind, plan = outcome.kind, outcome.plan
    if kind == "offloaded":
        delivery = "offload"
    elif kind == "redirected":
        delivery = "redirect"
    elif isinstance(body, list | StreamedBody):
        delivery = "in_process"
    else:
        delivery = "sendfile"  # the server's file wrapper

    def report(sent: int, short: bool) -> None:
        # The one observer call of the WSGI adapter, after the body is done.
        observer.response(
            plan.status,
            kind,
            outcome.reason,
            delivery,
            sent,
            started,
            headers_at,
            environ.get("HTTP_USER_AGENT"),
            _path_text(environ),
            short,
            outcome.client or environ.get("REMOTE_ADDR"),
        )

    if isinstance(body, list):
        # A file read with one pread that came back short (truncated since the fstat).
        short = outcome.body is not None and sum(map(len, body)) < plan.content_length
        return _ReportedList(body, report, short)
    if isinstance(body, StreamedBody):
        body.done = report
        return body
    part = plan.single_part
    offset = part.offset if part is not None else 0
    if hasattr(body, "_mediaserve"):  # _size_checked's subclass: reports from its close()
        body.done = lambda held, short: report(max(0, held - offset), short)  # type: ignore[attr-defined]
    else:  # a wrapper class that cannot be subclassed: counted as planned, now
        report(part.length if part is not None else 0, False)
    return body


def _send(
    outcome: Outcome, environ: MutableMapping[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    plan, resource = outcome.plan, outcome.body
    start_response(status_line(plan.status), list(plan.headers))
    if resource is None:
        return [s for s in plan.body if isinstance(s, bytes)]
    part = plan.single_part
    chunk_size = outcome.chunk_size
    if part is not None and isinstance(resource, OpenFile):
        file_wrapper = environ.get("wsgi.file_wrapper")
        if part.length > SENDFILE_MIN and file_wrapper is not None and wrapper_is_exact(environ):
            os.lseek(resource.fd, part.offset, os.SEEK_SET)
            end = part.offset + part.length
            checked = _size_checked(file_wrapper) if isinstance(file_wrapper, type) else None
            if checked is not None:
                sent: Iterable[bytes] = checked(resource, end, environ, start_response, chunk_size)
                return sent
            wrapped: Iterable[bytes] = file_wrapper(resource.file, chunk_size)
            return wrapped
        if part.length <= max(chunk_size, SENDFILE_MIN):
            # Small file: one read now and a list, which servers send without iterating
            # Python objects (and the descriptor is released before the send).
            try:
                data = os.pread(resource.fd, part.length, part.offset)
            finally:
                resource.close()
            if len(data) < part.length:  # truncated since the fstat
                close_connection_after(environ, start_response)
            return [data]
    reader = BodyReader(resource, plan.body, chunk_size)
    return StreamedBody(resource, reader, environ, start_response)


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
        self.pipeline = Pipeline(
            Mount.create(root_or_source, prefix, options, offload), access, rate_limit
        )
        self.app = app

    @property
    def mount(self) -> Mount:
        return self.pipeline.mount

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # The permission callable is asked with the environ: nothing is deferred here.
        outcome = hot_outcome(self.pipeline, environ) or self.pipeline.decide(
            request_from_environ(environ, environ)
        )
        if outcome is None:
            if self.app is not None:
                return self.app(environ, start_response)
            outcome = Outcome(not_found(str(environ.get("REQUEST_METHOD", "GET"))))
        return execute(outcome, environ, start_response)
