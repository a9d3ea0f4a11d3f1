"""How ASGIMedia moves bytes, observed from outside: pathsend, streaming, disconnects.
(Memory under every server is test_memory.py's.)

The app under test is ``apps/spy_app.py``: ASGIMedia behind a recorder of the messages it hands
to the real server, readable at ``/spy``. Bodies are still checked byte for byte with curl.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import (
    APPS_DIR,
    MediaTree,
    ServerProcess,
    curl,
    media_tree,
    start_granian,
    start_uvicorn,
)

BIG = "big.bin"
BIG_SIZE = 256 * 1024 * 1024  # sparse: costs no disk, reads at memory speed


@pytest.fixture(scope="module")
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        with (t.root / BIG).open("wb") as f:
            f.truncate(BIG_SIZE)
        (t.root / BIG).chmod(0o644)
        yield t


def _start(kind: str, root: Path) -> ServerProcess:
    env = {"MEDIA_TEST_ROOT": str(root)}
    if kind == "uvicorn":
        return start_uvicorn("spy_app:app", env=env, pythonpath=[APPS_DIR], ready_path="/spy")
    return start_granian(
        "spy_app:app", interface="asgi", env=env, pythonpath=[APPS_DIR], ready_path="/spy"
    )


@pytest.fixture(scope="module")
def uvicorn_spy(tree: MediaTree) -> Iterator[ServerProcess]:
    server = _start("uvicorn", tree.root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def granian_spy(tree: MediaTree) -> Iterator[ServerProcess]:
    server = _start("granian", tree.root)
    yield server
    server.stop()


def _records(server: ServerProcess, path: str) -> list[dict[str, Any]]:
    return [r for r in json.loads(curl(server.url("/spy")).body) if r["path"] == path]


def test_granian_gets_pathsend_for_a_whole_file(
    granian_spy: ServerProcess, tree: MediaTree
) -> None:
    """granian advertises http.response.pathsend: the file goes by path, no body bytes in Python."""
    result = curl(granian_spy.url("/media/random.bin"))
    assert result.body == tree.files["random.bin"]
    last = _records(granian_spy, "/media/random.bin")[-1]
    assert last["types"] == ["http.response.start", "http.response.pathsend"]
    assert last["body_bytes"] == 0


def test_granian_streams_a_range_exactly(granian_spy: ServerProcess, tree: MediaTree) -> None:
    """pathsend can only send whole files; a 206 is read off the loop in bounded chunks."""
    result = curl(granian_spy.url("/media/random.bin"), "-H", "Range: bytes=1000-400999")
    assert (result.status, result.body) == (206, tree.files["random.bin"][1000:401000])
    last = _records(granian_spy, "/media/random.bin")[-1]
    assert "http.response.pathsend" not in last["types"]
    assert last["body_bytes"] == 400000


def test_uvicorn_streams_without_pathsend(uvicorn_spy: ServerProcess, tree: MediaTree) -> None:
    """uvicorn advertises neither pathsend nor zerocopysend: bounded body messages."""
    result = curl(uvicorn_spy.url("/media/random.bin"))
    assert result.body == tree.files["random.bin"]
    last = _records(uvicorn_spy, "/media/random.bin")[-1]
    assert last["types"] == ["http.response.start", "http.response.body"]
    assert (last["body_bytes"], last["done"]) == (len(tree.files["random.bin"]), True)


def test_reading_stops_when_the_client_disconnects(uvicorn_spy: ServerProcess) -> None:
    """Without the http.disconnect watch the app would read all 256 MiB into a dead socket
    (uvicorn drops sends after a disconnect silently); with it, reading stops."""
    with socket.create_connection((uvicorn_spy.host, uvicorn_spy.port), timeout=10) as sock:
        sock.sendall(f"GET /media/{BIG} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        received = 0
        while received < 256 * 1024:
            received += len(sock.recv(65536))
    # The record stops growing once the app notices; give it a moment, then compare.
    previous = -1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        record = _records(uvicorn_spy, f"/media/{BIG}")[-1]
        if record["body_bytes"] == previous:
            break
        previous = record["body_bytes"]
        time.sleep(0.3)
    assert record["done"] is False
    assert record["body_bytes"] < 64 * 1024 * 1024, record
