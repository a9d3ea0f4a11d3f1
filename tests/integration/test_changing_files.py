"""Files that change while they are being downloaded, on every server.

* Replaced by rename (how uploads and deploys swap files): the download in flight keeps
  sending the old file's bytes, complete and exact, because headers and body come from one
  open descriptor (issue #2, "Safe lookup").
* Truncated in place: the response cannot be completed, so the connection must end. A
  short body on a connection kept alive would make the next response's bytes the tail of
  this one for any proxy that reuses the connection (RFC 9112 §6.3, message framing).

The client reads 64 KiB with a small receive buffer, so the server is still mid-body (blocked
on the socket) when the file changes.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from matrix_support import Served, request_bytes

MiB = 1024 * 1024


def _start(served: Served, name: str, *headers: str) -> tuple[socket.socket, bytes]:
    """Send the request and read the first bytes of the answer."""
    sock = socket.create_connection((served.server.host, served.server.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(request_bytes(f"/media/{name}", *headers))
    first = sock.recv(64 * 1024)
    assert first.startswith(b"HTTP/1.1 20"), first[:80]
    time.sleep(0.3)  # let the server fill the socket buffers and block mid-body
    return sock, first


def _rest(sock: socket.socket) -> tuple[bytes, str]:
    """Everything until the server closes (or goes quiet for the socket timeout)."""
    chunks = []
    try:
        while chunk := sock.recv(MiB):
            chunks.append(chunk)
        how = "closed"
    except TimeoutError:
        how = "kept open"
    except ConnectionResetError:
        how = "reset"
    return b"".join(chunks), how


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o644)


@pytest.mark.parametrize("range_header", [None, "Range: bytes=1-"], ids=["200", "206"])
def test_a_file_replaced_mid_download_still_sends_the_old_bytes(
    served: Served, range_header: str | None
) -> None:
    old = bytes(range(256)) * (16 * MiB // 256)
    path = served.tree.root / f"swap-{served.kind}-{range_header is None}.bin"
    _write(path, old)
    staged = path.with_name(path.name + ".new")
    _write(staged, b"N" * len(old))
    headers = [range_header] if range_header else []
    sock, first = _start(served, path.name, *headers, "Connection: close")
    with sock:
        os.replace(staged, path)
        rest, how = _rest(sock)
    _, _, body = (first + rest).partition(b"\r\n\r\n")
    assert body == (old[1:] if range_header else old), (how, len(body))
    assert path.read_bytes() == b"N" * len(old)


@pytest.mark.parametrize(
    "range_header",
    [None, "Range: bytes=1-", "Range: bytes=0-0,2-33554430"],
    ids=["200", "206", "multipart"],
)
def test_a_file_truncated_mid_download_ends_the_connection(
    served: Served, range_header: str | None
) -> None:
    """A second request is pipelined behind the first: a server that kept the connection
    alive after the short body answers it, and its bytes land where the client still
    expects body bytes. (gunicorn's gthread worker did, for sendfile and multipart bodies.)"""
    path = served.tree.root / f"shrink-{served.kind}-{len(range_header or '')}.bin"
    with path.open("wb") as f:
        f.truncate(32 * MiB)  # sparse: zeros
    path.chmod(0o644)
    sock, first = _start(served, path.name, *([range_header] if range_header else []))
    with sock:
        os.truncate(path, 4 * MiB)
        sock.sendall(request_bytes("/media/hello.txt"))
        rest, how = _rest(sock)
    _, _, body = (first + rest).partition(b"\r\n\r\n")
    assert b"HTTP/1.1 200" not in body, f"{served.kind} answered on after a short body"
    assert how in ("closed", "reset"), f"{served.kind}: the connection stayed open"
    assert len(body) < 32 * MiB - 1
