"""Faults between the app and the store, with a real SeaweedFS that the tests stop and start:
the answer is a 503 with Retry-After (never a 500, never a cacheable 404), one log line names
the endpoint, workers wait a bounded time, and the same processes recover when the store
comes back. Credentials and bucket mistakes name the setting to fix, never the secret.

The store here is this module's own, so stopping it disturbs no other test.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from storage_support import BUCKET, OFFLOADING_APP, start_site, storage_setting

from harness import SeaweedS3, ServerProcess, curl, start_nginx, start_seaweedfs
from mediaserve.proxyconf.store import nginx_offload_location

DATA = bytes(range(256)) * 1000
FAST_FAIL = {"CONNECT_TIMEOUT": 1, "READ_TIMEOUT": 1, "MAX_ATTEMPTS": 1, "RETRY_AFTER": 7}


@pytest.fixture(scope="module")
def store() -> Iterator[SeaweedS3]:
    with start_seaweedfs() as own:
        own.create_bucket(BUCKET)
        own.client().put_object(Bucket=BUCKET, Key="photo.jpg", Body=DATA)
        yield own


@pytest.fixture(scope="module")
def site(store: SeaweedS3) -> Iterator[ServerProcess]:
    server = start_site(storage_setting(store, MODE="proxy", **FAST_FAIL))
    yield server
    server.stop()


def _log_lines_since(server: ServerProcess, mark: int, needle: str) -> list[str]:
    return [line for line in server.logs()[mark:].splitlines() if needle in line]


def test_store_down_is_503_with_retry_after_and_one_log_line(
    site: ServerProcess, store: SeaweedS3
) -> None:
    assert curl(site.url("/media/photo.jpg")).status == 200
    store.stop()
    try:
        mark = len(site.logs())
        result = curl(site.url("/media/photo.jpg"), timeout=30)
    finally:
        store.start()
    assert result.status == 503
    assert result.headers["Retry-After"] == "7"
    assert result.headers["Cache-Control"] == "no-store"
    lines = _log_lines_since(site, mark, "mediaserve 503")
    assert len(lines) == 1, site.logs()[mark:]
    assert store.endpoint in lines[0]
    assert "Traceback" not in site.logs()[mark:]


def test_site_recovers_when_the_store_returns_without_a_restart(
    site: ServerProcess, store: SeaweedS3
) -> None:
    pid = site.pid
    store.stop()
    try:
        assert curl(site.url("/media/photo.jpg"), timeout=30).status == 503
    finally:
        store.start()
    result = curl(site.url("/media/photo.jpg"))
    assert (result.status, result.body) == (200, DATA)
    assert site.pid == pid
    # The same worker answered throughout: nothing was restarted to recover.
    assert site.logs().count("Booting worker") == 1


@pytest.fixture
def stalled_endpoint() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a store that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_a_hanging_store_is_503_after_the_bounded_timeout(
    store: SeaweedS3, stalled_endpoint: str
) -> None:
    """READ_TIMEOUT and MAX_ATTEMPTS bound how long a worker waits: the request ends with a
    503 naming the endpoint instead of piling workers up behind the store."""
    server = start_site(storage_setting(store, ENDPOINT_URL=stalled_endpoint, **FAST_FAIL))
    try:
        result = curl(server.url("/media/photo.jpg"), timeout=60)
    finally:
        server.stop()
    assert result.status == 503
    assert result.headers["Retry-After"] == "7"
    lines = [line for line in server.logs().splitlines() if "mediaserve 503" in line]
    assert len(lines) == 1
    assert stalled_endpoint in lines[0]


def test_wrong_credentials_name_the_setting_and_never_the_secret(store: SeaweedS3) -> None:
    secret = "wrong-secret-value-that-must-not-leak"
    server = start_site(storage_setting(store, SECRET_ACCESS_KEY=secret, **FAST_FAIL))
    try:
        result = curl(server.url("/media/photo.jpg"))
    finally:
        server.stop()
    assert result.status == 503
    logs = server.logs()
    assert "MEDIASERVE['STORAGE']['SECRET_ACCESS_KEY']" in logs
    assert secret not in logs
    assert secret.encode() not in result.body


def test_missing_bucket_is_503_naming_the_bucket_setting(store: SeaweedS3) -> None:
    """S3 answers a HEAD in a missing bucket with the same bare 404 as a missing key; the
    source asks about the bucket after a 404, so a typo is not a site of silent 404s."""
    server = start_site(storage_setting(store, BUCKET="no-such-bucket", **FAST_FAIL))
    try:
        result = curl(server.url("/media/photo.jpg"))
    finally:
        server.stop()
    assert result.status == 503
    assert "MEDIASERVE['STORAGE']['BUCKET']" in server.logs()


def test_missing_key_in_an_existing_bucket_stays_404(site: ServerProcess) -> None:
    assert curl(site.url("/media/not-there.jpg")).status == 404


def test_store_dying_mid_download_ends_the_connection_short(
    site: ServerProcess, store: SeaweedS3
) -> None:
    """Headers (200, Content-Length) are out when the store dies: the body must end early
    and the connection close, so no client or proxy reads the next response as the rest of
    this one; every byte that did arrive is right."""
    size = 64 * 1024 * 1024
    store.client().put_object(Bucket=BUCKET, Key="long.bin", Body=b"\x33" * size)
    received = 0
    with socket.create_connection((site.host, site.port), timeout=30) as sock:
        # A second request pipelined behind the first: a connection kept open after the
        # short body would answer it, and its bytes would read as the rest of the first body.
        sock.sendall(
            b"GET /media/long.bin HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /media/photo.jpg HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert f"Content-Length: {size}".encode() in head
        store.stop()
        try:
            received = len(body)
            assert set(body) <= {0x33}
            while chunk := sock.recv(1 << 20):  # EOF (b"") must come before `size` bytes
                assert set(chunk) == {0x33}
                received += len(chunk)
        finally:
            store.start()
    assert 0 < received < size


def test_offload_mode_store_down_is_503_from_nginx_then_recovers(store: SeaweedS3) -> None:
    """In offload mode nginx fetches from the store: its snippet turns the 502/504 of a dead
    store into the same 503 + Retry-After as proxy mode, and serves again once it is back."""
    app = start_site(storage_setting(store, MODE="offload", **FAST_FAIL))
    conf = OFFLOADING_APP.format(url=app.base_url) + nginx_offload_location(
        store.endpoint, retry_after=7, connect_timeout=1
    )
    front = start_nginx(conf)
    try:
        store.stop()
        try:
            down = curl(front.url("/media/photo.jpg"), timeout=30)
        finally:
            store.start()
        up = curl(front.url("/media/photo.jpg"))
    finally:
        front.stop()
        app.stop()
    assert down.status == 503
    assert down.headers["Retry-After"] == "7"
    assert "no-store" in down.headers.getall("Cache-Control")
    assert (up.status, up.body) == (200, DATA)
