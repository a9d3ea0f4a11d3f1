"""A hello app in both shapes, for proving the harness and for proxy tests.

Routes (same for ``wsgi`` and ``asgi``):

* ``/``        ``hello from wsgi|asgi`` (text/plain), header ``X-App-Interface``.
* ``/echo``    JSON of method, path, query string and request headers; answers with two
               ``X-Multi`` header fields, to test multi-value header handling.
* ``/chunked`` three body parts without Content-Length (servers send chunked encoding).
* anything else: 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

CHUNKS = (b"first,", b"second,", b"third\n")


def _echo_body(method: str, path: str, query: str, headers: dict[str, str]) -> bytes:
    return json.dumps(
        {"method": method, "path": path, "query": query, "headers": headers}, sort_keys=True
    ).encode()


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        body = b"hello from wsgi\n"
        start_response(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
             ("X-App-Interface", "wsgi")],
        )  # fmt: skip
        return [body]
    if path == "/echo":
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        body = _echo_body(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), headers)
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
             ("X-Multi", "one"), ("X-Multi", "two")],
        )  # fmt: skip
        return [body]
    if path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter(CHUNKS)
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]


async def asgi(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
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
    path = scope["path"]
    if path == "/":
        body = b"hello from asgi\n"
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()),
                   (b"x-app-interface", b"asgi")]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif path == "/echo":
        request_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = _echo_body(
            scope["method"], path, scope["query_string"].decode("latin-1"), request_headers
        )
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()),
                   (b"x-multi", b"one"), (b"x-multi", b"two")]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif path == "/chunked":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        for i, part in enumerate(CHUNKS):
            await send(
                {"type": "http.response.body", "body": part, "more_body": i < len(CHUNKS) - 1}
            )
    else:
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"not found\n"})
