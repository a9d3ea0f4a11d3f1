"""What the server-matrix tests share: the servers, the extra files, the ``Served`` handle.

``served`` is parametrized over every way mediaserve runs without Django: gunicorn (sync and
gthread workers, WSGI), uvicorn (ASGI), granian (WSGI and ASGI) and the standalone
``mediaserve serve`` CLI. A test that takes ``served`` runs once per server; pytest orders the
tests so each server starts once.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import (
    APPS_DIR,
    MediaTree,
    ServerProcess,
    free_port,
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
    argv = [sys.executable, "-m", "mediaserve.cli", "serve", str(root),
            "--port", str(port), "--prefix", "/media/"]  # fmt: skip
    return ServerProcess(
        argv, port=port, ready_url="/media/hello.txt", name="mediaserve-serve", env=dict(os.environ)
    ).start()
