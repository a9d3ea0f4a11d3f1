"""Offload mode against a real SeaweedFS: the app (gunicorn) answers with X-Accel-Redirect to
a presigned URL, and a real nginx, configured with ``nginx_offload_location``, fetches it
from the store. The bytes never pass through Python; the key arrives at the store exactly
as signed, whatever characters it holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from storage_support import (
    BUCKET,
    HERE,
    OFFLOADING_APP,
    UNICODE_KEY,
    start_site,
    storage_setting,
)

from harness import NginxSite, SeaweedS3, ServerProcess, curl, start_nginx
from harness.servers import server_env
from mediaserve.proxyconf.store import nginx_offload_location

ODD_KEY = "odd/+=&!'()*,;:@$ ~.txt"  # characters SigV4 and nginx escape differently


@pytest.fixture(scope="module")
def app(seaweed: SeaweedS3, bucket: dict[str, bytes]) -> Iterator[ServerProcess]:
    seaweed.client().put_object(Bucket=BUCKET, Key=ODD_KEY, Body=b"odd key\n")
    server = start_site(storage_setting(seaweed, MODE="offload"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def front(app: ServerProcess, seaweed: SeaweedS3) -> Iterator[ServerProcess]:
    conf = OFFLOADING_APP.format(url=app.base_url) + nginx_offload_location(seaweed.endpoint)
    server = start_nginx(conf)
    yield server
    server.stop()


def test_app_answers_with_x_accel_redirect_to_a_presigned_path(app: ServerProcess) -> None:
    result = curl(app.url("/media/big.bin"), "-H", "X-Mediaserve-Offload: x-accel-redirect")
    assert (result.status, result.body) == (200, b"")
    target = result.headers["X-Accel-Redirect"]
    assert target.startswith(f"/_mediaserve_store/{BUCKET}/big.bin?")
    assert "X-Amz-Signature=" in target


def test_without_the_proxy_the_app_streams_the_object(
    app: ServerProcess, bucket: dict[str, bytes]
) -> None:
    """No X-Mediaserve-Offload header (the app reached directly, or a proxy without the
    offload location): an X-Accel-Redirect would reach the client as an empty 200."""
    result = curl(app.url("/media/big.bin"))
    assert (result.status, result.body) == (200, bucket["big.bin"])
    assert "X-Accel-Redirect" not in result.headers
    assert "X-Mediaserve-Offload header is absent" in app.logs()


def test_get_through_nginx_is_byte_exact(front: ServerProcess, bucket: dict[str, bytes]) -> None:
    result = curl(front.url("/media/big.bin"))
    assert (result.status, result.body) == (200, bucket["big.bin"])
    assert result.headers["Cache-Control"] == "public, max-age=3600"
    assert result.headers["X-Content-Type-Options"] == "nosniff"
    assert "x-amz-request-id" not in result.headers


def test_range_through_nginx_is_206(front: ServerProcess, bucket: dict[str, bytes]) -> None:
    result = curl(front.url("/media/big.bin"), "-H", "Range: bytes=100-1099")
    assert (result.status, result.body) == (206, bucket["big.bin"][100:1100])


def test_head_through_nginx_is_signed_for_head(
    front: ServerProcess, bucket: dict[str, bytes]
) -> None:
    result = curl(front.url("/media/big.bin"), "-I")
    assert result.status == 200
    assert result.headers["Content-Length"] == str(len(bucket["big.bin"]))


def test_revalidation_through_nginx_is_304(front: ServerProcess) -> None:
    etag = curl(front.url("/media/hello.txt")).headers["ETag"]
    assert curl(front.url("/media/hello.txt"), "-H", f"If-None-Match: {etag}").status == 304


@pytest.mark.parametrize("key", [UNICODE_KEY, ODD_KEY])
def test_keys_needing_escapes_reach_the_store_as_signed(
    front: ServerProcess, bucket: dict[str, bytes], key: str
) -> None:
    """nginx unescapes the X-Accel-Redirect URI and re-escapes it once when proxying: the
    signature over the canonical key must still hold."""
    result = curl(front.url("/media/" + quote(key)))
    assert result.status == 200, result.body
    assert result.body == (bucket[UNICODE_KEY] if key == UNICODE_KEY else b"odd key\n")


def test_missing_key_is_the_stores_404(front: ServerProcess) -> None:
    assert curl(front.url("/media/no-such-object.bin")).status == 404


def test_unsafe_key_is_404_from_the_app(front: ServerProcess, app: ServerProcess) -> None:
    result = curl(front.url("/media/dir/%2e%2e/hello.txt"))
    assert result.status == 404
    assert "X-Accel-Redirect" not in curl(app.url("/media/.hidden")).headers


def test_the_internal_location_is_not_reachable_from_outside(front: ServerProcess) -> None:
    """``internal``: a client cannot use nginx as an open, signed proxy to the store."""
    assert curl(front.url(f"/_mediaserve_store/{BUCKET}/hello.txt")).status == 404


def test_the_bytes_never_pass_through_the_app(front: ServerProcess, app: ServerProcess) -> None:
    curl(front.url("/media/big.bin"))
    # nginx talks HTTP/1.0 to the app; direct requests (another test) are streamed.
    lines = [line for line in app.logs().splitlines() if '"GET /media/big.bin HTTP/1.0"' in line]
    assert lines
    assert all(re.search(r'" 200 0 ', line) for line in lines), lines


@pytest.fixture(scope="module")
def generated_front(app: ServerProcess, seaweed: SeaweedS3) -> Iterator[ServerProcess]:
    """nginx running what ``mediaserve config nginx`` prints for the project's settings."""
    storage = storage_setting(seaweed, MODE="offload")

    def conf(site: NginxSite) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mediaserve.cli", "config", "nginx",
             "--settings", "s3site.settings", "--listen", f"127.0.0.1:{site.port}",
             "--upstream", f"127.0.0.1:{app.port}"],
            capture_output=True, text=True, timeout=60, check=False,
            env=server_env({"S3SITE_STORAGE": json.dumps(storage)}, [HERE]),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    server = start_nginx(conf)
    yield server
    server.stop()


def test_generated_nginx_config_offloads_to_the_store(
    generated_front: ServerProcess, bucket: dict[str, bytes]
) -> None:
    result = curl(generated_front.url("/media/big.bin"), "-H", "Range: bytes=10-20009")
    assert (result.status, result.body) == (206, bucket["big.bin"][10:20010])
    whole = curl(generated_front.url("/media/" + quote(UNICODE_KEY)))
    assert (whole.status, whole.body) == (200, bucket[UNICODE_KEY])
