"""The Prometheus text exposition for plain WSGI/ASGI apps and a private bind.

``wsgi_app`` and ``asgi_app`` answer any GET with the exposition (mount them on a port or
path that is not public); :func:`serve_in_thread` listens on a separate address in a daemon
thread, which is how ``mediaserve serve --metrics-bind`` and the gunicorn config helper
expose every worker's counts from the master process.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from . import exposition_text
from .prom import CONTENT_TYPE

__all__ = ["asgi_app", "parse_bind", "serve_in_thread", "wsgi_app"]


def wsgi_app(
    environ: MutableMapping[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """A WSGI app answering GET/HEAD with the text exposition."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
        return [b""]
    body = exposition_text()
    start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
    return [b"" if method == "HEAD" else body]


async def asgi_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """An ASGI app answering GET/HEAD with the text exposition (lifespan acknowledged)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        headers = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 405, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    body = exposition_text()
    headers = [
        (b"content-type", CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9100`` for IPv6) -> (host, port); ValueError naming the fix."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r}: give HOST:PORT, e.g. 127.0.0.1:9100")
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r}: the port must be a number, e.g. 127.0.0.1:9100") from None
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: the port must be between 1 and 65535")
    return host, port


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood stderr."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve_in_thread(bind: str) -> WSGIServer:
    """Serve the exposition on ``bind`` (HOST:PORT) in a daemon thread; returns the server
    (``shutdown()`` stops it). Raises OSError when the address cannot be bound."""
    host, port = parse_bind(bind)
    server_class: type[_Server] = _Server6 if ":" in host else _Server
    server = make_server(host, port, wsgi_app, server_class=server_class, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="mediaserve-metrics", daemon=True)
    thread.start()
    return server
