"""`mediaserve serve DIR`: the options as a user types them, against the running server.

The RFC 9110 behaviour of the CLI's default set-up (granian WSGI, ``--prefix /media/``) is in
the server matrix (the "cli" subject). Here: the default prefix, ``--prefix`` without slashes,
``--cache-control``, ``--interface asgi``, and start-up errors that must be one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness import MediaTree, ServerProcess, curl, free_port, media_tree


def _cli(root: str, *options: str) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "mediaserve.cli", "serve", root, "--port", str(port), *options]
    prefix = options[options.index("--prefix") + 1].strip("/") if "--prefix" in options else ""
    ready = f"/{prefix}/hello.txt" if prefix else "/hello.txt"
    return ServerProcess(
        argv, port=port, ready_url=ready, name="mediaserve-serve", env=dict(os.environ)
    ).start()


@pytest.fixture(scope="module")
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        yield t


@pytest.fixture(scope="module")
def default_cli(tree: MediaTree) -> Iterator[ServerProcess]:
    """No --prefix; a custom Cache-Control."""
    server = _cli(str(tree.root), "--cache-control", "private, max-age=60")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def asgi_cli(tree: MediaTree) -> Iterator[ServerProcess]:
    """granian's ASGI interface, a prefix typed without slashes."""
    server = _cli(str(tree.root), "--interface", "asgi", "--prefix", "files")
    yield server
    server.stop()


def test_the_default_prefix_serves_the_directory_at_the_root(
    default_cli: ServerProcess, tree: MediaTree
) -> None:
    result = curl(default_cli.url("/nested/deeper/doc.txt"))
    assert (result.status, result.body) == (200, tree.files["nested/deeper/doc.txt"])


def test_the_root_itself_is_404_not_a_listing(default_cli: ServerProcess) -> None:
    result = curl(default_cli.url("/"))
    assert result.status == 404
    assert b"hello.txt" not in result.body


def test_cache_control_option_is_sent(default_cli: ServerProcess) -> None:
    result = curl(default_cli.url("/image.png"))
    assert result.headers["cache-control"] == "private, max-age=60"


def test_the_announced_url_serves_files(asgi_cli: ServerProcess, tree: MediaTree) -> None:
    """The start-up line names the URL with the prefix normalised ("files" -> "/files/"),
    and that URL works (it read "http://127.0.0.1:PORTfiles" before)."""
    announced = f"at http://127.0.0.1:{asgi_cli.port}/files/ (granian asgi, 1 worker(s))"
    assert announced in asgi_cli.logs()
    result = curl(asgi_cli.url("/files/hello.txt"))
    assert (result.status, result.body) == (200, tree.files["hello.txt"])


def test_asgi_interface_serves_ranges_byte_exact(asgi_cli: ServerProcess, tree: MediaTree) -> None:
    data = tree.files["random.bin"]
    whole = curl(asgi_cli.url("/files/random.bin"))
    assert (whole.status, whole.body) == (200, data)
    part = curl(asgi_cli.url("/files/random.bin"), "-H", "Range: bytes=70000-")
    assert (part.status, part.body) == (206, data[70000:])
    assert part.headers["content-range"] == f"bytes 70000-{len(data) - 1}/{len(data)}"


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "serve", *args, "--port", str(free_port())],
        capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_a_file_instead_of_a_directory_is_one_line(tree: MediaTree) -> None:
    done = _run_cli(str(tree.root / "hello.txt"))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"mediaserve serve: {str(tree.root / 'hello.txt')!r} is not a directory"
    )


def test_a_bad_chunk_size_is_one_line_before_the_server_starts(tree: MediaTree) -> None:
    """It was a traceback in each granian worker, after "Listening at", then exit 1."""
    done = _run_cli(str(tree.root), env={"MEDIASERVE_CHUNK_SIZE": "abc"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mediaserve serve: MEDIASERVE_CHUNK_SIZE must be a number of bytes, not 'abc'"
    )


def test_a_line_break_in_cache_control_is_refused(tree: MediaTree) -> None:
    """A CR/LF in a header value would split the response (header injection)."""
    done = _run_cli(str(tree.root), "--cache-control", "public\r\nSet-Cookie: session=x")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mediaserve serve: header 'Cache-Control' contains a line break or NUL"
    )
