"""Real HTTP clients for tests: the curl binary, and raw bytes over a socket.

:func:`curl` runs ``/usr/bin/curl`` and returns status, every header (a case-insensitive
multi-dict) and the body bytes. :func:`raw_request` writes bytes exactly as given to a
socket, for malformed requests curl refuses to send, and parses what comes back.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple


class Headers(Mapping[str, str]):
    """HTTP header fields: case-insensitive names, every field kept in wire order.

    ``headers["Name"]`` gives the field value, or, when the field occurs several times, the
    values joined with ", " as RFC 9110 §5.3 allows recipients to combine them. Use
    :meth:`getall` to see each occurrence (``Set-Cookie`` must never be combined) and
    :meth:`fields` for the raw list. Iteration yields each distinct name once, lower-cased.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = [(k, v) for k, v in fields]

    @classmethod
    def parse(cls, block: str | bytes) -> Headers:
        """Parse ``Name: value`` lines (a status line, if present, is skipped)."""
        text = block.decode("iso-8859-1") if isinstance(block, bytes) else block
        fields: list[tuple[str, str]] = []
        for line in text.splitlines():
            if not line.strip() or line.startswith("HTTP/"):
                continue
            if line[0] in " \t" and fields:  # obsolete line folding, RFC 9112 §5.2
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}")
                continue
            name, sep, value = line.partition(":")
            if sep:
                fields.append((name.strip(), value.strip()))
        return cls(fields)

    def getall(self, name: str) -> list[str]:
        """Every value of field ``name``, in order; ``[]`` when absent."""
        wanted = name.lower()
        return [v for k, v in self._fields if k.lower() == wanted]

    def fields(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs as received, original case, duplicates kept."""
        return list(self._fields)

    def __getitem__(self, name: str) -> str:
        values = self.getall(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._fields)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for k, _ in self._fields:
            seen.setdefault(k.lower())
        return iter(seen)

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._fields})

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


# -- curl ------------------------------------------------------------------------------------


class CurlError(RuntimeError):
    """curl exited non-zero (and ``check=True``)."""

    def __init__(self, message: str, result: CurlResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class CurlResult:
    """What one curl run got back.

    ``status`` and ``headers`` are those of the *last* response (after redirects with ``-L``
    or a ``100 Continue``); ``responses`` has ``(status, headers)`` of each one, in order.
    ``status`` is 0 when no response arrived. ``info`` is curl's ``--write-out '%{json}'``.
    """

    status: int
    headers: Headers
    body: bytes
    returncode: int
    stderr: str
    argv: list[str]
    responses: list[tuple[int, Headers]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def http_version(self) -> str:
        """The HTTP version curl reports ("1.1", "2")."""
        return str(self.info.get("http_version", ""))


_VERSION_FLAGS = {"--http1.0", "-0", "--http1.1", "--http2", "--http2-prior-knowledge", "--http3"}


def curl_binary() -> str:
    found = shutil.which("curl")
    if not found:
        raise FileNotFoundError("curl not found: apt-get install curl")
    return found


def curl(
    *args: str | os.PathLike[str],
    timeout: float = 30.0,
    check: bool = True,
) -> CurlResult:
    """Run the real ``curl`` with ``args`` (one URL) and capture the response.

    Added unless given: ``--http1.1``. Always added: ``-sS``, ``--noproxy '*'`` (loopback
    never goes through a proxy from the environment), ``--globoff`` (``[]{}`` in URLs are
    literal), ``--path-as-is`` (``/../`` is sent as written: traversal tests need that),
    ``--max-time``, and ``-D``/``-o``/``--write-out`` to files the harness reads, so don't
    pass those. With ``check=True`` a non-zero curl exit raises :class:`CurlError`; with
    ``check=False`` inspect ``returncode`` (e.g. 18: body shorter than Content-Length, 52:
    empty reply).
    """
    user_args = [os.fspath(a) for a in args]
    version = [] if _VERSION_FLAGS.intersection(user_args) else ["--http1.1"]
    with tempfile.TemporaryDirectory(prefix="mediaserve-curl-") as tmp:
        head_file = Path(tmp) / "headers"
        body_file = Path(tmp) / "body"
        argv = [
            curl_binary(), "-sS", *version, "--noproxy", "*", "--globoff", "--path-as-is",
            "--max-time", f"{timeout:g}",
            *user_args,
            "-D", str(head_file), "-o", str(body_file), "--write-out", "%{json}",
        ]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, timeout=timeout + 10, check=False)
        raw_headers = head_file.read_bytes() if head_file.exists() else b""
        body = body_file.read_bytes() if body_file.exists() else b""
    try:
        info = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError:
        info = {"raw": proc.stdout.decode("utf-8", "replace")}
    responses = _split_header_blocks(raw_headers)
    status, headers = responses[-1] if responses else (0, Headers())
    result = CurlResult(
        status=status,
        headers=headers,
        body=body,
        returncode=proc.returncode,
        stderr=proc.stderr.decode("utf-8", "replace"),
        argv=argv,
        responses=responses,
        info=info,
    )
    if check and proc.returncode != 0:
        raise CurlError(
            f"curl exited {proc.returncode}: {result.stderr.strip()}\n  {' '.join(argv)}",
            result,
        )
    return result


def _split_header_blocks(raw: bytes) -> list[tuple[int, Headers]]:
    """``-D`` output holds one block per response (redirects, 1xx): parse each."""
    blocks: list[tuple[int, Headers]] = []
    text = raw.decode("iso-8859-1").replace("\r\n", "\n")
    for block in text.split("\n\n"):
        lines = block.strip("\n").splitlines()
        if not lines or not lines[0].startswith("HTTP/"):
            continue
        parts = lines[0].split()
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        blocks.append((status, Headers.parse("\n".join(lines[1:]))))
    return blocks


# -- raw sockets -----------------------------------------------------------------------------


class RawResponse(NamedTuple):
    """``(status, headers, body)`` of the final response; status 0 when the server sent none
    (it closed the connection, or timed out, without a status line)."""

    status: int
    headers: Headers
    body: bytes


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def until(self, marker: bytes) -> bytes | None:
        while marker not in self.buf:
            if not self._fill():
                return None
        head, _, self.buf = self.buf.partition(marker)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n and self._fill():
            pass
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self) -> bytes:
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out


def raw_request(
    host: str, port: int, data: bytes, *, timeout: float = 10.0, head: bool | None = None
) -> RawResponse:
    """Send ``data`` verbatim to ``host:port`` and parse one HTTP/1.x response.

    1xx interim responses are skipped. The body is framed by ``Transfer-Encoding: chunked``
    (decoded), then ``Content-Length``, else read until the server closes; none for HEAD
    (detected from ``data``, or forced with ``head``), 204 and 304. Send
    ``Connection: close`` when the response has no framing, or the read waits for ``timeout``.
    """
    is_head = data.split(b" ", 1)[0].upper() == b"HEAD" if head is None else head
    with socket.create_connection((host, port), timeout=timeout) as sock:
        _send(sock, data)
        reader = _Reader(sock)
        while True:
            head_bytes = reader.until(b"\r\n\r\n")
            if head_bytes is None:
                leftover = reader.buf
                if not leftover.startswith(b"HTTP/"):
                    return RawResponse(0, Headers(), leftover)
                head_bytes, reader.buf = leftover, b""
            status_line, _, header_block = head_bytes.partition(b"\r\n")
            parts = status_line.split()
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            headers = Headers.parse(header_block)
            if 100 <= status < 200 and status != 101:
                continue
            break
        if is_head or status in (204, 304) or 100 <= status < 200:
            return RawResponse(status, headers, b"")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return RawResponse(status, headers, _read_chunked(reader))
        lengths = headers.getall("content-length")
        if lengths and lengths[0].strip().isdigit():
            return RawResponse(status, headers, reader.exactly(int(lengths[0])))
        return RawResponse(status, headers, reader.rest())


def _read_chunked(reader: _Reader) -> bytes:
    body = b""
    while True:
        size_line = reader.until(b"\r\n")
        if size_line is None:
            return body + reader.rest()
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:  # last chunk; then trailer fields up to an empty line (RFC 9112 §7.1)
            while reader.until(b"\r\n"):
                pass
            return body
        body += reader.exactly(size)
        reader.exactly(2)  # CRLF after the chunk data


def raw_exchange(host: str, port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``data`` and return every byte received until the server closes or ``timeout``."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        _send(sock, data)
        return _Reader(sock).rest()


def _send(sock: socket.socket, data: bytes) -> None:
    # A server may answer (400) and close before reading everything: still read its answer.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)
