"""Single flight, for real: N concurrent first requests for one missing rendition, spread
over two gunicorn worker processes (a file lock beside the media), and over two app
processes that share only a SeaweedFS bucket and a Redis (a lock in Django's cache), build
it once, and every client gets the same bytes with the immutable headers."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import (
    SeaweedS3,
    ServerProcess,
    free_port,
    require,
    start_gunicorn,
    start_seaweedfs,
)
from harness.images import Corpus
from harness.paths import TESTS_DIR
from mediaserve.renditions import BUILTIN_PRESETS
from mediaserve.renditions.keys import digest_of, rendition_name

pytestmark = pytest.mark.integration

CLIENTS = 12
NAME = "products/photo.jpg"
BUILT = re.compile(r"INFO pid=(\d+) mediaserve\.renditions: mediaserve built rendition (\S+)")
ACCESS = ["--access-logformat", "pid=%(p)s %(r)s %(s)s"]


def _url(corpus: Corpus, preset: str = "meta-catalog", fmt: str | None = None) -> str:
    digest = digest_of(corpus.photo_p3.path.read_bytes())
    return "/media/" + rendition_name(NAME, BUILTIN_PRESETS[preset], digest, fmt)


def _stampede(
    servers: list[ServerProcess], path: str, accept: str = "*/*", clients: int = CLIENTS
) -> list[tuple]:
    """``clients`` requests released at once, alternating between ``servers``."""
    barrier = threading.Barrier(clients)
    results: list[tuple] = [()] * clients

    def one(i: int) -> None:
        server = servers[i % len(servers)]
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        try:
            barrier.wait()
            conn.request("GET", path, headers={"Accept": accept})
            response = conn.getresponse()
            results[i] = (response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return results


def _check_same_immutable_answers(results: list[tuple], content_type: str) -> None:
    statuses = [r[0] for r in results]
    assert statuses == [200] * CLIENTS, statuses
    assert len({r[2] for r in results}) == 1  # every client got the same bytes
    for _status, headers, _body in results:
        assert headers["Content-Type"] == content_type
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["ETag"]


def _warm_both_workers(server: ServerProcess) -> None:
    """Until both workers answered once: a worker still importing Django when the stampede
    starts would leave every request to the other, and prove nothing across processes."""
    for _ in range(100):
        _stampede([server], "/media/missing", clients=2)
        if len(set(re.findall(r"pid=<?(\d+)>? GET /media/missing", server.logs()))) == 2:
            return
        time.sleep(0.1)
    pytest.fail("one gunicorn worker never answered: " + server.log_tail(20))


def test_two_worker_processes_build_a_missing_rendition_once(
    tmp_path: Path, corpus: Corpus
) -> None:
    """Sync workers answer one request at a time: while one builds, the other must take the
    next connections, so both processes meet the missing rendition (a gthread worker could
    take all twelve into its own threads)."""
    media = tmp_path / "media"
    (media / "products").mkdir(parents=True)
    shutil.copy(corpus.photo_p3.path, media / NAME)
    server = start_gunicorn(
        "renditions.site_wsgi:application",
        env={
            "DJANGO_SETTINGS_MODULE": "renditions.site_settings",
            "RENDITIONS_SITE_MEDIA_ROOT": str(media),
        },
        pythonpath=[TESTS_DIR], workers=2, worker_class="sync",
        extra_args=ACCESS, ready_path="/media/missing",
    )  # fmt: skip
    try:
        _warm_both_workers(server)
        url = _url(corpus, "thumb-800")  # negotiated: AVIF for this Accept
        results = _stampede([server], url, accept="image/avif,image/webp,*/*")
        _check_same_immutable_answers(results, "image/avif")
        assert all(r[1]["Vary"] == "Accept" for r in results)
        logs = server.logs()
        builds = BUILT.findall(logs)
        assert len(builds) == 1, logs[-3000:]
        answered = set(re.findall(rf"pid=<?(\d+)>? GET {re.escape(url)} HTTP/1.1 200", logs))
        assert len(answered) == 2, logs[-3000:]  # both workers took part
        # Built once, stored beside the media, then a plain file: a Range works on it.
        (stored,) = [p for p in (media / "renditions").rglob("*.avif")]
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", url, headers={"Accept": "image/avif", "Range": "bytes=0-9"})
        response = conn.getresponse()
        assert response.status == 206
        assert response.read() == stored.read_bytes()[:10]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    from harness import ServerProcess as Process

    binary = require("redis-server")
    require("redis")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mediaserve-redis-") as data:
        server = Process(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", data],
            port=port, name="redis-server",
        ).start()  # fmt: skip
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.stop()


@pytest.fixture(scope="module")
def seaweed() -> Iterator[SeaweedS3]:
    store = start_seaweedfs()
    yield store
    store.close()


def test_two_hosts_sharing_a_bucket_and_redis_build_once(
    seaweed: SeaweedS3, redis_url: str, corpus: Corpus
) -> None:
    bucket = seaweed.create_bucket("renditions-flight")
    seaweed.client().put_object(Bucket=bucket, Key=NAME, Body=corpus.photo_p3.path.read_bytes())
    storage = {
        "BACKEND": "s3",
        "BUCKET": bucket,
        "ENDPOINT_URL": seaweed.endpoint,
        "REGION": seaweed.region,
        "ACCESS_KEY_ID": seaweed.access_key,
        "SECRET_ACCESS_KEY": seaweed.secret_key,
        "ADDRESSING_STYLE": "path",
        "MODE": "proxy",
    }
    env = {
        "DJANGO_SETTINGS_MODULE": "renditions.site_settings",
        "RENDITIONS_SITE_STORAGE": json.dumps(storage),
        "RENDITIONS_SITE_REDIS": redis_url,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    hosts: list[ServerProcess] = []
    for _ in range(2):
        hosts.append(
            start_gunicorn(
                "renditions.site_wsgi:application",
                env=env,
                pythonpath=[TESTS_DIR],
                workers=1,
                worker_class="gthread",
                threads=8,
                extra_args=ACCESS,
                ready_path="/media/missing",
            )
        )
    try:
        url = _url(corpus)
        results = _stampede(hosts, url)
        _check_same_immutable_answers(results, "image/jpeg")
        builds = [b for host in hosts for b in BUILT.findall(host.logs())]
        assert len(builds) == 1, [h.log_tail(30) for h in hosts]
        # Built into the bucket, with the headers a CDN reading the bucket needs.
        key = url.removeprefix("/media/")
        head = seaweed.client().head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == "image/jpeg"
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
        assert head["ContentLength"] == len(results[0][2])
    finally:
        for host in hosts:
            host.stop()


def test_redirect_mode_builds_into_the_bucket_before_redirecting(
    seaweed: SeaweedS3, corpus: Corpus
) -> None:
    """In redirect mode the app answers without reading the object (the client fetches it
    from the bucket): a missing rendition must be built first, or the redirect is a 404."""
    bucket = seaweed.create_bucket("renditions-redirect")
    seaweed.client().put_object(Bucket=bucket, Key=NAME, Body=corpus.photo_p3.path.read_bytes())
    storage = {
        "BACKEND": "s3",
        "BUCKET": bucket,
        "ENDPOINT_URL": seaweed.endpoint,
        "REGION": seaweed.region,
        "ACCESS_KEY_ID": seaweed.access_key,
        "SECRET_ACCESS_KEY": seaweed.secret_key,
        "ADDRESSING_STYLE": "path",
        "MODE": "redirect",
    }
    env = {
        "DJANGO_SETTINGS_MODULE": "renditions.site_settings",
        "RENDITIONS_SITE_STORAGE": json.dumps(storage),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    host = start_gunicorn(
        "renditions.site_wsgi:application", env=env, pythonpath=[TESTS_DIR],
        extra_args=ACCESS, ready_path="/media/missing",
    )  # fmt: skip
    try:
        url = _url(corpus, "og-image")
        conn = http.client.HTTPConnection(host.host, host.port, timeout=60)
        conn.request("GET", url)
        response = conn.getresponse()
        response.read()
        assert response.status in (302, 303, 307), host.log_tail(20)
        location = response.getheader("Location") or ""
        assert url.removeprefix("/media/").split("/")[-1] in location
        head = seaweed.client().head_object(Bucket=bucket, Key=url.removeprefix("/media/"))
        assert head["ContentType"] == "image/jpeg"
        assert len(BUILT.findall(host.logs())) == 1
    finally:
        host.stop()
