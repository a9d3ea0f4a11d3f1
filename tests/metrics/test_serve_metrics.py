"""``mediaserve serve --metrics-bind``: every worker's counts on a separate private address."""

from __future__ import annotations

import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import ServerProcess, free_port, require

pytest.importorskip("prometheus_client")


@pytest.fixture(params=["gunicorn", "granian"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, int]]:
    require(request.param)
    (tmp_path / "a.txt").write_bytes(b"a" * 5000)
    port, metrics_port = free_port(), free_port()
    server = ServerProcess(
        [sys.executable, "-m", "mediaserve", "serve", str(tmp_path), "--port", str(port),
         "--workers", "2", "--server", request.param,
         "--metrics-bind", f"127.0.0.1:{metrics_port}"],
        port=port, ready_url="/a.txt", name=f"serve-{request.param}",
    ).start()  # fmt: skip
    try:
        yield server, metrics_port
    finally:
        server.stop()


def _scrape(metrics_port: int) -> tuple[float, float]:
    """(200 responses, body bytes) summed over every worker, from the metrics address."""
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as page:
        text = page.read().decode()
    ok = sent = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mediaserve_responses_total" and sample.labels["status"] == "200":
                ok += sample.value
            if sample.name == "mediaserve_sent_bytes_total":
                sent += sample.value
    return ok, sent


def test_the_metrics_bind_sums_every_worker(served: tuple[ServerProcess, int]) -> None:
    server, metrics_port = served
    time.sleep(1.5)  # the readiness probes' responses reach the shared files (1 s flush)
    ok_before, sent_before = _scrape(metrics_port)
    for _ in range(6):
        with urllib.request.urlopen(server.url("/a.txt"), timeout=5) as answer:
            assert answer.read() == b"a" * 5000
    # Workers add their responses to the shared files once a second (metrics/prom.py).
    deadline = time.monotonic() + 5
    ok, sent = _scrape(metrics_port)
    while ok - ok_before < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
        ok, sent = _scrape(metrics_port)
    assert ok - ok_before == 6
    assert sent - sent_before == 6 * 5000
    # Not on the public port: there it is a file name like any other.
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(server.url("/metrics"), timeout=5)
