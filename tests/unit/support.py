"""Helpers shared by the unit and property tests: run adapters in-process, execute plans,
and parse multipart/byteranges bodies strictly."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediaserve.delivery.body import BodyReader
from mediaserve.http.plan import FileMeta, RequestHeaders, ResponsePlan
from mediaserve.pipeline import Mount, Outcome, Pipeline, Request
from mediaserve.sources.base import OpenFile

Message = dict[str, Any]


def open_fd_count() -> int:
    """Descriptors open in this process (Linux)."""
    return len(os.listdir("/proc/self/fd"))


def execute(plan: ResponsePlan, fd: int, chunk_size: int = 4096) -> bytes:
    """The body a plan describes, read from ``fd`` the way the adapters read it."""
    st = os.fstat(fd)
    opened = OpenFile(os.dup(fd), FileMeta("file", st.st_size, st.st_mtime_ns, ""), "", st)
    try:
        return b"".join(BodyReader(opened, plan.body, chunk_size).chunks())
    finally:
        opened.close()


def decide(
    mount: Mount,
    method: str,
    name: str,
    headers: RequestHeaders | None = None,
    client: str | None = None,
    **pipeline: object,
) -> Outcome:
    """The pipeline's outcome for ``name`` under ``mount`` (access/limiter in ``pipeline``);
    the caller closes ``outcome.body``."""
    request = Request(
        method, (mount.prefix + name).encode(), None, "", headers or RequestHeaders(), client
    )
    outcome = Pipeline(mount, **pipeline).decide(request)  # type: ignore[arg-type]
    assert outcome is not None
    return outcome


def execute_on(plan: ResponsePlan, path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return execute(plan, fd)
    finally:
        os.close(fd)


def boundary_of(content_type: str) -> str:
    match = re.fullmatch(
        r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,\-./:=?]{1,70})", content_type
    )
    assert match, f"not a multipart/byteranges type with a valid boundary: {content_type!r}"
    return match.group(1)


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


@dataclass
class Part:
    headers: dict[str, str]
    first: int
    last: int
    complete_length: int
    data: bytes


def parse_byteranges(body: bytes, boundary: str) -> list[Part]:
    """A strict parser for RFC 9110 §14.6 / RFC 2046 §5.1.1 as the plan lays it out.

    Every part must open with the delimiter, carry headers ending in an empty line and a
    Content-Range; its payload is exactly the Content-Range's length, followed directly by
    CRLF and the next delimiter or the close delimiter, and nothing may follow the close.
    """
    delimiter = b"--" + boundary.encode("ascii")
    pos = 0
    parts: list[Part] = []
    assert body.startswith(delimiter + b"\r\n"), body[:80]
    pos = len(delimiter) + 2
    while True:
        end_headers = body.index(b"\r\n\r\n", pos)
        headers: dict[str, str] = {}
        for line in body[pos:end_headers].split(b"\r\n"):
            name, sep, value = line.decode("latin-1").partition(":")
            assert sep, f"header line without a colon: {line!r}"
            assert name.lower() not in headers, f"repeated part header {name!r}"
            headers[name.lower()] = value.strip()
        match = _CONTENT_RANGE.fullmatch(headers["content-range"])
        assert match, headers["content-range"]
        first, last, complete = (int(g) for g in match.groups())
        start = end_headers + 4
        stop = start + (last - first + 1)
        parts.append(Part(headers, first, last, complete, body[start:stop]))
        assert body[stop : stop + 2] == b"\r\n", "payload not followed by CRLF"
        assert body[stop + 2 : stop + 2 + len(delimiter)] == delimiter, "no delimiter after part"
        pos = stop + 2 + len(delimiter)
        if body[pos : pos + 2] == b"--":
            assert body[pos + 2 :] == b"\r\n", "bytes after the close delimiter"
            return parts
        assert body[pos : pos + 2] == b"\r\n", "delimiter not followed by CRLF"
        pos += 2


# -- WSGI ---------------------------------------------------------------------------------------


@dataclass
class WSGIResult:
    status: str
    headers: list[tuple[str, str]]
    iterable: Iterable[bytes]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


def environ(
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    server_software: str = "wsgiref/0.2",
    **extra: Any,
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": server_software,
        "REMOTE_ADDR": "192.0.2.7",
        "wsgi.url_scheme": "http",
    }
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    env.update(extra)
    return env


def call_wsgi(
    app: Callable[..., Iterable[bytes]],
    env: dict[str, Any],
    *,
    consume: bool = True,
    close: bool = True,
) -> WSGIResult:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    iterable = app(env, start_response)
    result = WSGIResult(captured["status"], captured["headers"], iterable)
    if consume:
        result.chunks = list(iterable)
        if close and hasattr(iterable, "close"):
            iterable.close()
    return result


# -- ASGI ---------------------------------------------------------------------------------------


def http_scope(
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    extensions: dict[str, Any] | None = None,
    raw_path: bytes | None = None,
    root_path: str = "",
) -> dict[str, Any]:
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode("utf-8"),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in items],
        "client": ("192.0.2.9", 50000),
        "server": ("testserver", 80),
        "extensions": extensions or {},
    }


async def _forever() -> Message:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def run_asgi(
    app: Callable[..., Awaitable[None]],
    scope: dict[str, Any],
    *,
    incoming: list[Message] | None = None,
    on_send: Callable[[Message, list[Message]], Awaitable[None]] | None = None,
    receive: Callable[[], Awaitable[Message]] | None = None,
) -> list[Message]:
    """Run ``app`` for one scope; returns every message it sent, in order.

    ``incoming`` are handed out by ``receive`` first (default: the request with no body);
    after them ``receive`` waits forever, like a client that stays connected.
    """
    sent: list[Message] = []
    queue = list(
        incoming
        if incoming is not None
        else [{"type": "http.request", "body": b"", "more_body": False}]
    )

    async def default_receive() -> Message:
        if queue:
            return queue.pop(0)
        return await _forever()

    async def send(message: Message) -> None:
        sent.append(dict(message))
        if on_send is not None:
            await on_send(message, sent)

    async def main() -> None:
        await asyncio.wait_for(app(scope, receive or default_receive, send), timeout=10)

    asyncio.run(main())
    return sent


def asgi_headers(messages: list[Message]) -> dict[str, str]:
    start = messages[0]
    assert start["type"] == "http.response.start"
    names = [k.decode("latin-1") for k, _ in start["headers"]]
    assert len(names) == len(set(names)), f"repeated header in {names}"
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}


def asgi_body(messages: list[Message]) -> bytes:
    return b"".join(m["body"] for m in messages if m["type"] == "http.response.body")
