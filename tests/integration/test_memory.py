"""No server path buffers a whole file: RSS stays flat while 200 MiB go out.

The resident memory of the server's process group (worker and parent) is sampled while the
download is in flight, every 16 MiB the client receives, not only before and after: a server
that buffered the file and freed it at the end would pass a before/after check. The file is
sparse, so it costs no disk and reads at memory speed.
"""

from __future__ import annotations

import os

import pytest
from matrix_support import BIG, BIG_SIZE, Served, open_download, rss_kib

MiB = 1024 * 1024
#: Growth allowed while 200 MiB go out: chunks queued ahead of the client (granian queues
#: several 64 KiB chunks per response), allocator slack. A buffered file would be +200 MiB.
GROWTH_LIMIT_KIB = 24 * 1024


def _download(served: Served, *headers: str) -> tuple[int, int]:
    """Download BIG to nowhere; return (bytes received, peak RSS in KiB seen meanwhile)."""
    peak = rss_kib(served.server)
    buffer = bytearray(1 << 20)
    received = next_sample = 0
    with open_download(served.server, f"/media/{BIG}", *headers) as sock:
        while count := sock.recv_into(buffer):
            received += count
            if received >= next_sample:
                peak = max(peak, rss_kib(served.server))
                next_sample += 16 * MiB
    return received, max(peak, rss_kib(served.server))


@pytest.mark.parametrize("range_header", [None, "Range: bytes=1-"], ids=["200", "206"])
def test_a_200_mib_download_never_buffers_the_file(
    served: Served, range_header: str | None
) -> None:
    headers = [range_header] if range_header else []
    # Warm up: imports, the I/O pool and the first chunk buffers are not the file.
    _download(served, "Range: bytes=0-8388607")
    before = rss_kib(served.server)
    received, peak = _download(served, *headers)
    body = BIG_SIZE - (1 if range_header else 0)
    assert received > body  # the body and its header block arrived whole
    assert peak - before < GROWTH_LIMIT_KIB, (
        f"{served.kind}: RSS {before} KiB -> peak {peak} KiB while sending {body} bytes"
    )


def test_the_big_file_is_sparse(served: Served) -> None:
    """The 200 MiB cost no disk, so these tests stay cheap on CI."""
    assert os.stat(served.tree.root / BIG).st_blocks * 512 < MiB
