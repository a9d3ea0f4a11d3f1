"""ACCESS applies to object storage as it does to MEDIA_ROOT: a signed prefix in the bucket is
unreadable without a valid signature on every entry point (view, WSGI and ASGI wrappers), and
what a signature admits is sent ``private, no-store`` -- in proxy and redirect mode alike."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from storage_support import BUCKET, HERE, start_site, storage_setting

from harness import SeaweedS3, ServerProcess, curl
from harness.servers import server_env

INVOICE = "invoices/2026/inv-7.pdf"
DATA = b"%PDF-1.4\n" + bytes(range(256)) * 64
ACCESS = {"invoices/": "signed"}


@pytest.fixture(scope="module")
def invoice(seaweed: SeaweedS3, bucket: dict[str, bytes]) -> bytes:
    seaweed.client().put_object(Bucket=BUCKET, Key=INVOICE, Body=DATA)
    return DATA


@pytest.fixture(scope="module", params=["view", "wsgi-wrapper", "asgi-wrapper"])
def site(
    request: pytest.FixtureRequest, seaweed: SeaweedS3, invoice: bytes
) -> Iterator[ServerProcess]:
    storage = storage_setting(seaweed, MODE="proxy")
    server = start_site(
        storage,
        wrapped=request.param != "view",
        asgi=request.param == "asgi-wrapper",
        access=ACCESS,
    )
    yield server
    server.stop()


def signed_url(name: str) -> str:
    """Signed the way the project signs (its SECRET_KEY), from a separate process."""
    code = (
        "import django; django.setup(); from mediaserve import signed_url; "
        f"print(signed_url({name!r}, expires_in=600))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
        env=server_env({"DJANGO_SETTINGS_MODULE": "s3site.settings",
                        "S3SITE_ACCESS": '{"invoices/": "signed"}'}, [HERE]),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_unsigned_object_under_a_signed_prefix_is_404(site: ServerProcess) -> None:
    result = curl(site.url("/media/" + INVOICE))
    assert result.status == 404
    assert not result.body.startswith(b"%PDF")


def test_upper_case_detour_is_404_too(site: ServerProcess) -> None:
    assert curl(site.url("/media/INVOICES/2026/inv-7.pdf")).status == 404


def test_signed_object_is_streamed_privately(site: ServerProcess) -> None:
    result = curl(site.url(signed_url(INVOICE)))
    assert (result.status, result.body) == (200, DATA)
    assert result.headers["cache-control"] == "private, no-store"


def test_signed_range_works(site: ServerProcess) -> None:
    result = curl(site.url(signed_url(INVOICE)), "-H", "Range: bytes=9-99")
    assert (result.status, result.body) == (206, DATA[9:100])


def test_public_objects_are_unaffected(site: ServerProcess, bucket: dict[str, bytes]) -> None:
    name = next(k for k in bucket if "/" not in k and k.endswith(".txt"))
    result = curl(site.url("/media/" + name))
    assert (result.status, result.body) == (200, bucket[name])
