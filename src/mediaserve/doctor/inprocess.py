"""Hop ``in-process``: the answer the Django app gives, without any server or proxy.

The request is built with Django's ``RequestFactory`` and handed to the project's own WSGI
application (WSGI_APPLICATION, so mediaserve's wrapper is included when configured), with
the public Host and, for an https public URL, ``X-Forwarded-Proto: https`` -- what a
correctly configured TLS proxy sends. A failure here is the app's, whatever the proxy does.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

from .fetch import Fetch, Response
from .served import RANGE_END, Exchanges

__all__ = ["in_process_exchanges"]

HOP = "in-process"


def _application() -> Callable[..., Iterable[bytes]]:
    from django.core.servers.basehttp import get_internal_wsgi_application
    from django.core.wsgi import get_wsgi_application

    try:
        app: Callable[..., Iterable[bytes]] = get_internal_wsgi_application()
    except Exception:
        app = get_wsgi_application()
    return app


@contextlib.contextmanager
def _quiet(notes: list[str]) -> Iterator[None]:
    """Keep Django's request logging (a traceback for a 500, a line for DisallowedHost) out
    of the report's output; the exception becomes one line of evidence instead.

    As Django's test client does, database connections are left alone: these are not real
    requests, and closing the caller's connection (inside ``manage.py`` or a transaction)
    at "request end" would be a side effect of a diagnosis.
    """
    from django.core.signals import got_request_exception, request_finished, request_started
    from django.db import close_old_connections

    def record(sender: object, request: object = None, **kwargs: object) -> None:
        import sys

        exc = sys.exc_info()[1]
        if exc is not None:
            notes.append(f"the view raised {type(exc).__name__}: {exc}")

    got_request_exception.connect(record, weak=False)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        got_request_exception.disconnect(record)


def _call(
    app: Callable[..., Iterable[bytes]],
    method: str,
    path: str,
    host: str,
    https: bool,
    extra: dict[str, str],
) -> Fetch:
    from django.test import RequestFactory

    factory = RequestFactory()
    meta: dict[str, Any] = {"HTTP_HOST": host, "HTTP_USER_AGENT": "mediaserve-doctor"}
    if https:
        meta["HTTP_X_FORWARDED_PROTO"] = "https"
    meta.update(extra)
    request = factory.generic(method, quote(path), **meta)
    environ = request.environ
    captured: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], None]:
        captured["status"] = status
        captured["headers"] = headers
        return lambda data: None

    scheme = "https" if https else "http"
    url = f"{scheme}://{host}{quote(path)}"
    result = Fetch(url=url)
    started = time.monotonic()
    try:
        with _quiet(result.notes):
            body = app(environ, start_response)
            digest = hashlib.sha256()
            head = bytearray()
            length = 0
            try:
                for chunk in body:
                    digest.update(chunk)
                    if len(head) < 524289:
                        head.extend(chunk[: 524289 - len(head)])
                    length += len(chunk)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
    except Exception as exc:  # the handler normally turns errors into 500s; be safe anyway
        result.error_kind = "protocol"
        result.error = f"the app raised {type(exc).__name__}: {exc}"
        return result
    code, _, reason = str(captured.get("status", "500 Internal Server Error")).partition(" ")
    result.chain.append(
        Response(
            url=url,
            method=method,
            status=int(code),
            reason=reason,
            headers=list(captured.get("headers", [])),
            length=length,
            sha256=digest.hexdigest(),
            head=bytes(head),
            elapsed=time.monotonic() - started,
        )
    )
    return result


def in_process_exchanges(path: str, host: str, https: bool) -> Exchanges:
    """GET, HEAD, a Range GET and a conditional GET of ``path`` through the app."""
    app = _application()
    get = _call(app, "GET", path, host, https, {})
    exchanges = Exchanges(get=get)
    final = get.final
    if final is None or final.status != 200:
        return exchanges
    exchanges.head = _call(app, "HEAD", path, host, https, {})
    exchanges.ranged = _call(app, "GET", path, host, https, {"HTTP_RANGE": f"bytes=0-{RANGE_END}"})
    etag = final.header("etag")
    if etag:
        exchanges.conditional = _call(app, "GET", path, host, https, {"HTTP_IF_NONE_MATCH": etag})
    return exchanges
