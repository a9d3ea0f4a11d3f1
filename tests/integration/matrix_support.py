"""What the server-matrix tests share: the servers, the extra files, the ``Served`` handle.

``served`` is parametrized over every way mediaserve runs without Django: gunicorn (sync and
gthread workers, WSGI), uvicorn (ASGI), granian (WSGI and ASGI) and the standalone
``mediaserve serve`` CLI. A test that takes ``served`` runs once per server; pytest orders the
tests so each server starts once.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness import (
    APPS_DIR,
    MediaTree,
    ServerProcess,
    free_port,
    process_group_members,
    require,
    start_granian,
    start_gunicorn,
    start_uvicorn,
)

#: Extra files of the sizes that cross the delivery paths' boundaries (empty, one byte, one
#: small read, several 256 KiB chunks).
SIZED_FILES = {
    "sizes/empty.bin": 0,
    "sizes/one.bin": 1,
    "sizes/ten-k.bin": 10 * 1024,
    "sizes/three-m.bin": 3 * 1024 * 1024 + 17,
}
VIDEO = "video/clip.webm"
#: A sparse file (no disk blocks, reads at memory speed) for memory and disconnect checks;
#: not in ``MediaTree.files`` (the tests never hold it in memory).
BIG = "big/sparse.bin"
BIG_SIZE = 200 * 1024 * 1024

SERVERS = ("gunicorn-sync", "gunicorn-gthread", "uvicorn", "granian-wsgi", "granian-asgi", "cli")


@dataclass(frozen=True)
class Served:
    """A running server and the tree it serves at ``/media/``."""

    kind: str
    server: ServerProcess
    tree: MediaTree

    @property
    def has_fallback_app(self) -> bool:
        return self.kind != "cli"

    def url(self, name: str) -> str:
        from urllib.parse import quote

        return self.server.url("/media/" + quote(name))


def start_server(kind: str, root: Path) -> ServerProcess:
    env = {"MEDIA_TEST_ROOT": str(root)}
    if kind.startswith("gunicorn"):
        require("gunicorn")
        threaded = kind == "gunicorn-gthread"
        return start_gunicorn(
            "media_app:wsgi",
            env=env,
            pythonpath=[APPS_DIR],
            worker_class="gthread" if threaded else "sync",
            threads=4 if threaded else 1,
        )
    if kind == "uvicorn":
        require("uvicorn")
        return start_uvicorn("media_app:asgi", env=env, pythonpath=[APPS_DIR])
    if kind.startswith("granian"):
        require("granian")
        interface = "wsgi" if kind == "granian-wsgi" else "asgi"
        return start_granian(
            f"media_app:{interface}", interface=interface, env=env, pythonpath=[APPS_DIR]
        )
    port = free_port()
    # granian explicitly: this tree's 200 MiB file would make `--server auto` pick gunicorn,
    # which the gunicorn rows already cover; the auto choice has its own tests
    # (test_cli_server_choice.py).
    argv = [sys.executable, "-m", "mediaserve.cli", "serve", str(root),
            "--port", str(port), "--prefix", "/media/", "--server", "granian"]  # fmt: skip
    return ServerProcess(
        argv, port=port, ready_url="/media/hello.txt", name="mediaserve-serve", env=dict(os.environ)
    ).start()


# What each server prints when the application raises: gunicorn "[ERROR] Error handling
# request", uvicorn "ERROR:    Exception in ASGI application", granian "[ERROR] Application
# callable raised an exception", each followed by a traceback. test_attacks proves this
# pattern sees a real crash in every server's log (its control request, CRASH_PATH).
ERROR_PATTERN = re.compile(r"Traceback \(most recent call last\)|\[ERROR\]|^ERROR:", re.M)
CRASH_PATH = "/__crash__"


def settled_logs(server: ServerProcess, quiet: float = 0.3, limit: float = 5.0) -> str:
    """The server's output once it has stopped growing for ``quiet`` seconds (granian
    prints a traceback after the access line, so a log read at once can miss it)."""
    deadline = time.monotonic() + limit
    text = server.logs()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        again = server.logs()
        if again == text:
            break
        text = again
    return text


def error_count(server: ServerProcess) -> int:
    """How many error lines and tracebacks the server has logged so far."""
    return len(ERROR_PATTERN.findall(settled_logs(server)))


def _proc_field(server: ServerProcess, name: str, key: str) -> int:
    total = 0
    assert server.pid is not None
    for pid in process_group_members(server.pid):
        try:
            lines = open(f"/proc/{pid}/{name}").read().splitlines()  # noqa: SIM115
        except OSError:
            continue
        for line in lines:
            if line.startswith(key):
                total += int(line.split()[1])
    return total


def rchar(server: ServerProcess) -> int:
    """Bytes the server's processes passed through read/pread/sendfile so far
    (``rchar`` in /proc/PID/io counts page-cache reads too, unlike ``read_bytes``)."""
    return _proc_field(server, "io", "rchar:")


def rss_kib(server: ServerProcess) -> int:
    """Resident memory of the server's process group, in KiB."""
    return _proc_field(server, "status", "VmRSS:")


def request_bytes(target: str, *headers: str, method: str = "GET") -> bytes:
    lines = "".join(f"{h}\r\n" for h in headers)
    return f"{method} {target} HTTP/1.1\r\nHost: t\r\n{lines}\r\n".encode("latin-1")


def open_download(server: ServerProcess, target: str, *headers: str) -> socket.socket:
    """A socket with a request sent and nothing read yet."""
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.sendall(request_bytes(target, *headers, "Connection: close"))
    return sock


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """(Content-Range, bytes) of each part of a multipart/byteranges body (RFC 9110 §14.6)."""
    match = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", content_type)
    assert match, content_type
    delimiter = b"--" + match[1].encode()
    assert body.startswith(delimiter), body[:80]
    parts = []
    for chunk in body.split(b"\r\n" + delimiter)[:-1]:
        chunk = chunk.removeprefix(delimiter)
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        fields = dict(
            line.split(b": ", 1)
            for line in head.split(b"\r\n")
            if line  # type: ignore[misc]
        )
        parts.append((fields[b"Content-Range"].decode(), data))
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n"), body[-80:]
    return parts
