"""`mediaserve serve --server gunicorn`: the standalone server's sendfile option.

granian (the default) answers the most small-file requests per second, but its WSGI mode has no
``wsgi.file_wrapper``, so every byte of a large file passes through Python. ``--server gunicorn``
exists for large-file-heavy directories: these tests prove it really moves the bytes with
sendfile(2) (traced with strace, not inferred), for a 200 and for a single-range 206, and that
the bytes are exact.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import MediaTree, ServerProcess, curl, free_port, media_tree, require


@pytest.fixture(scope="module")
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        yield t


@pytest.fixture(scope="module")
def traced(
    tree: MediaTree, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, Path]]:
    """`mediaserve serve --server gunicorn` run under strace, tracing only sendfile."""
    require("strace")
    trace = tmp_path_factory.mktemp("strace") / "sendfile.log"
    port = free_port()
    argv = [
        "strace", "-f", "-qq", "-e", "trace=sendfile", "-o", str(trace),
        sys.executable, "-m", "mediaserve.cli", "serve", str(tree.root),
        "--server", "gunicorn", "--port", str(port), "--prefix", "/media/",
    ]  # fmt: skip
    server = ServerProcess(
        argv, port=port, ready_url="/media/hello.txt", name="mediaserve-gunicorn"
    )
    with server.start():
        yield server, trace


def _sendfile_counts(trace: Path) -> list[int]:
    """The bytes each sendfile call strace saw actually sent (its return value).

    strace prints ``sendfile(out, in, [offset] => [new offset], count) = sent``.
    """
    counts = []
    for line in trace.read_text().splitlines():
        match = re.search(r"sendfile\(\d+, \d+, .*\)\s+=\s+(\d+)", line)
        if match:
            counts.append(int(match[1]))
    return counts


def _sent_since(trace: Path, before: int, expected: int) -> list[int]:
    """The sendfile counts after the first ``before``, once they add up to ``expected``
    (strace writes a line after the call returns, which can trail curl by a moment)."""
    deadline = time.monotonic() + 5
    while True:
        sent = _sendfile_counts(trace)[before:]
        if sum(sent) >= expected or time.monotonic() > deadline:
            return sent
        time.sleep(0.05)


def test_whole_file_is_sent_with_sendfile(
    traced: tuple[ServerProcess, Path], tree: MediaTree
) -> None:
    server, trace = traced
    before = len(_sendfile_counts(trace))
    result = curl(server.url("/media/random.bin"))
    assert result.status == 200
    assert result.body == tree.files["random.bin"]
    assert result.headers["server"].startswith("gunicorn")
    sent = _sent_since(trace, before, len(tree.files["random.bin"]))
    assert sum(sent) == len(tree.files["random.bin"]), sent


def test_single_range_is_sent_with_sendfile(
    traced: tuple[ServerProcess, Path], tree: MediaTree
) -> None:
    """RFC 9110 §14.2: the 206 carries exactly the range; gunicorn sends it from the offset."""
    server, trace = traced
    data = tree.files["random.bin"]
    before = len(_sendfile_counts(trace))
    result = curl(server.url("/media/random.bin"), "-H", "Range: bytes=1000-300999")
    assert result.status == 206
    assert result.headers["content-range"] == f"bytes 1000-300999/{len(data)}"
    assert result.body == data[1000:301000]
    sent = _sent_since(trace, before, 300000)
    assert sum(sent) == 300000, sent


def test_gunicorn_refuses_the_asgi_interface(tree: MediaTree) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "serve", str(tree.root),
         "--server", "gunicorn", "--interface", "asgi"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--server gunicorn serves WSGI only" in done.stderr


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_a_taken_port_is_one_clear_line(tree: MediaTree, server: str) -> None:
    """Neither a Rust backtrace (granian) nor five seconds of retries (gunicorn)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mediaserve.cli", "serve", str(tree.root),
             "--server", server, "--port", str(port)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"mediaserve serve: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another server running? choose --port)"
    )


# --- --server auto (the default): granian unless large files dominate the tree -------------


def _tree(root: Path, sizes: dict[str, int]) -> Path:
    root.mkdir(mode=0o755)
    for name, size in sizes.items():
        with (root / name).open("wb") as f:
            f.truncate(size)  # sparse: the size is what counts, not the blocks
        (root / name).chmod(0o644)
    return root


def test_auto_picks_granian_for_small_files(tmp_path: Path) -> None:
    from mediaserve.cli.standalone import choose_server

    root = _tree(tmp_path / "photos", {f"{i}.jpg": 40_000 for i in range(200)})
    server, why = choose_server(str(root))
    assert server == "granian", why
    assert "200 files" in why


def test_auto_picks_gunicorn_when_large_files_dominate(tmp_path: Path) -> None:
    """Even with ten times as many small files: sending the tree once costs gunicorn less
    (sendfile), which is what the per-request and per-byte costs measured in bench/ say."""
    from mediaserve.cli.standalone import choose_server

    sizes = {f"{i}.jpg": 40_000 for i in range(100)}
    sizes |= {f"{i}.mp4": 200 * 1024 * 1024 for i in range(10)}
    server, why = choose_server(str(_tree(tmp_path / "videos", sizes)))
    assert server == "gunicorn", why


def test_auto_ignores_dotfiles_and_symlinks(tmp_path: Path) -> None:
    """What cannot be served does not weigh in the choice."""
    from mediaserve.cli.standalone import sample_tree

    root = _tree(tmp_path / "t", {"a.jpg": 1000, ".big": 10**9})
    (root / "link.mp4").symlink_to(root / ".big")
    sample = sample_tree(str(root))
    assert (sample.files, sample.total, sample.complete) == (1, 1000, True)


def test_auto_serves_a_video_tree_with_gunicorn(tmp_path: Path) -> None:
    """The default command on a large-file tree starts gunicorn and says why."""
    require("gunicorn")
    root = _tree(tmp_path / "v", {"film.mp4": 300 * 1024 * 1024, "poster.jpg": 5000})
    port = free_port()
    argv = [sys.executable, "-m", "mediaserve.cli", "serve", str(root), "--port", str(port)]
    server = ServerProcess(argv, port=port, ready_url="/poster.jpg", name="mediaserve-auto")
    with server.start():
        result = curl(server.url("/poster.jpg"))
        assert result.status == 200
        assert result.headers["server"].startswith("gunicorn")
        assert "auto: 2 files" in server.logs()
        assert "sendfile" in server.logs()


def test_hot_cache_flag_is_checked(tree: MediaTree) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "serve", str(tree.root), "--hot-cache", "-1"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--hot-cache: must be at least 0" in done.stderr
