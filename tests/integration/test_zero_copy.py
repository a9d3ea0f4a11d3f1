"""Zero-copy and stop-on-disconnect, proved with observables the app cannot fake.

* gunicorn: strace attached to the running worker records every ``sendfile``, ``read`` and
  ``pread64`` the worker makes. A 200 and a single-range 206 of 1 MiB must go out as sendfile
  calls adding up to exactly the body, while the worker reads (copies into Python) less than
  one chunk. A multipart 206, which cannot be one sendfile, is the control: the same trace
  then shows the bytes being read, so the counter does see copying when it happens.
* Every server: ``rchar`` in /proc/PID/io counts the bytes a process read through read,
  pread and sendfile. A client that reads 256 KiB of a 200 MiB download and hangs up must
  leave the server's count far below the file size (it stopped reading); the control, a
  completed 16 MiB range, shows the count rising by at least what was sent.

(That granian's ASGI mode gets ``http.response.pathsend`` for whole files is observed in
test_asgi_delivery.py, at the server's own ``send``.)
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from matrix_support import (
    BIG,
    BIG_SIZE,
    Served,
    open_download,
    rchar,
    start_server,
)

from harness import MediaTree, ServerProcess, curl, process_group_members, require

MiB = 1024 * 1024
#: What the worker may read while sending 1 MiB by sendfile: the request itself and the
#: headers, nothing near one 64 KiB chunk of the file.
COPY_ALLOWANCE = 32 * 1024


# -- gunicorn: sendfile under strace -----------------------------------------------------------


@dataclass
class Traced:
    server: ServerProcess
    trace: Path
    tree: MediaTree

    def lines(self) -> list[str]:
        return self.trace.read_text(errors="replace").splitlines()


def _returns(lines: list[str], syscall: str) -> list[int]:
    """The return values of ``syscall`` in strace lines (also ``<... resumed>`` halves)."""
    pattern = re.compile(rf"(?:(?<![\w]){syscall}\(|<\.\.\. {syscall} resumed>).*\)\s+=\s+(\d+)")
    return [int(m[1]) for line in lines if (m := pattern.search(line))]


@pytest.fixture(scope="module", params=["gunicorn-sync", "gunicorn-gthread"])
def traced(
    request: pytest.FixtureRequest,
    served_tree: MediaTree,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Traced]:
    """A gunicorn serving the tree, its worker (all threads) under strace."""
    strace = require("strace")
    server = start_server(request.param, served_tree.root)
    trace = tmp_path_factory.mktemp("strace") / "worker.log"
    assert server.pid is not None
    workers = [pid for pid in process_group_members(server.pid) if pid != server.pid]
    assert len(workers) == 1, workers
    tracer = subprocess.Popen(
        [strace, "-f", "-qq", "-e", "trace=sendfile,read,pread64,recvfrom",
         "-o", str(trace), "-p", str(workers[0])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Attached once requests show up in the trace (recvfrom reads the request line).
        deadline = time.monotonic() + 15
        while not (trace.exists() and "recvfrom" in trace.read_text(errors="replace")):
            if tracer.poll() is not None or time.monotonic() > deadline:
                tracer.kill()
                # Attaching needs ptrace rights over a non-child (root, CAP_SYS_PTRACE, or
                # kernel.yama.ptrace_scope=0).
                pytest.fail(f"strace could not trace the worker: {tracer.communicate()[1]}")
            curl(server.url("/media/hello.txt"))
            time.sleep(0.1)
        yield Traced(server, trace, served_tree)
    finally:
        tracer.terminate()
        tracer.wait(timeout=10)
        server.stop()


def _syscalls_during(traced: Traced, *curl_args: str, expect_sent: int) -> tuple[list[int], int]:
    """Run curl; return (sendfile return values, bytes read by read/pread64) it caused."""
    before = len(traced.lines())
    result = curl(*curl_args)
    assert result.status in (200, 206)
    # strace writes a line when the call returns, which can trail curl by a moment.
    deadline = time.monotonic() + 5
    while True:
        lines = traced.lines()[before:]
        sent = _returns(lines, "sendfile")
        if sum(sent) >= expect_sent or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.1)
    lines = traced.lines()[before:]
    copied = sum(_returns(lines, "pread64")) + sum(_returns(lines, "read"))
    return _returns(lines, "sendfile"), copied


def test_gunicorn_sends_a_whole_file_with_sendfile(traced: Traced) -> None:
    """A 200 of 1 MiB: sendfile carries every body byte, Python copies none of them."""
    data = traced.tree.files["random.bin"]
    sent, copied = _syscalls_during(
        traced, traced.server.url("/media/random.bin"), expect_sent=len(data)
    )
    assert sum(sent) == len(data), sent
    assert copied < COPY_ALLOWANCE, copied


def test_gunicorn_sends_a_single_range_with_sendfile(traced: Traced) -> None:
    """RFC 9110 §14.2: a 206 of one range is sendfile from the range's offset, exactly."""
    sent, copied = _syscalls_during(
        traced,
        traced.server.url("/media/random.bin"),
        "-H",
        "Range: bytes=1000-900999",
        expect_sent=900000,
    )
    assert sum(sent) == 900000, sent
    assert copied < COPY_ALLOWANCE, copied


def test_control_a_multipart_range_is_copied_and_the_trace_sees_it(traced: Traced) -> None:
    """multipart/byteranges interleaves boundaries with file bytes: no single sendfile.
    The trace then shows the parts being read, which proves it would catch copying."""
    data = traced.tree.files["random.bin"]
    before = len(traced.lines())
    result = curl(
        traced.server.url("/media/random.bin"), "-H", "Range: bytes=0-299999,400000-699999"
    )
    assert result.status == 206
    assert data[:300000] in result.body
    assert data[400000:700000] in result.body
    time.sleep(0.3)
    lines = traced.lines()[before:]
    assert sum(_returns(lines, "sendfile")) == 0
    assert sum(_returns(lines, "pread64")) >= 600000


# -- every server: reading stops when the client hangs up ---------------------------------------


def _settled_rchar(server: ServerProcess, quiet: float = 0.2, limit: float = 10.0) -> int:
    """The server's rchar once it stopped changing for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    value = rchar(server)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        again = rchar(server)
        if again == value:
            break
        value = again
    return value


@pytest.mark.parametrize("range_header", [None, "Range: bytes=1-"], ids=["200", "206"])
def test_reading_stops_when_the_client_hangs_up(served: Served, range_header: str | None) -> None:
    """A player that seeks drops its download; the server must not read the other 199 MiB
    into a dead socket (ASGI: the http.disconnect watch; WSGI: the server stops iterating
    or sendfile fails with EPIPE)."""
    before = _settled_rchar(served.server)
    headers = [range_header] if range_header else []
    with open_download(served.server, f"/media/{BIG}", *headers) as sock:
        received = 0
        while received < 256 * 1024:
            chunk = sock.recv(65536)
            assert chunk, "the server closed before sending 256 KiB"
            received += len(chunk)
    read = _settled_rchar(served.server) - before
    assert read < 32 * MiB, f"{served.kind} read {read / MiB:.0f} MiB for a dropped download"


def test_control_rchar_sees_the_bytes_a_server_sends(served: Served) -> None:
    """Without this, a counter stuck at zero would pass the test above."""
    before = _settled_rchar(served.server)
    with open_download(served.server, f"/media/{BIG}", "Range: bytes=0-16777215") as sock:
        received = 0
        while chunk := sock.recv(1 << 20):
            received += len(chunk)
    assert received > 16 * MiB  # the body plus the header block
    read = _settled_rchar(served.server) - before
    assert read >= 16 * MiB, read
    assert 32 * MiB < BIG_SIZE  # the hang-up test's bound is meaningful for this file
