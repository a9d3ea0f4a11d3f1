"""The Django view's one observer call (WSGI and ASGI), the settings that switch it, the
health record in a cache, the metrics view's access rules and the checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from mediaserve import metrics

META = "facebookexternalhit/1.1"
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def site(example_django: Any, tmp_path: Path) -> Iterator[Path]:
    from django.core.cache import caches
    from django.test import override_settings

    (tmp_path / "big.bin").write_bytes(b"b" * 200_000)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "p.txt").write_bytes(b"secret")
    with override_settings(
        MEDIA_ROOT=str(tmp_path),
        MEDIA_URL="/media/",
        ROOT_URLCONF="metrics.obs_view_urls",
        CACHES=LOCMEM,
        ALLOWED_HOSTS=["testserver"],
        WSGI_APPLICATION=None,
        MEDIASERVE={"METRICS": True, "METRICS_TOKEN": "tok", "ACCESS": {"private/": "private"}},
    ):
        caches["default"].clear()
        yield tmp_path
    metrics.disable()


def count(name: str, **labels: str) -> float:
    text = metrics.exposition_text().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_override_settings_installs_the_observer(site: Path) -> None:
    observer = metrics.OBSERVER
    assert observer is not None
    assert observer.prometheus is not None


def test_the_view_under_wsgi_counts_once_after_the_body(site: Path) -> None:
    from django.test import Client

    response = Client().get("/media/big.bin", HTTP_USER_AGENT=META, HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == b"b" * 10  # type: ignore[attr-defined]
    response.close()
    assert count("mediaserve_responses_total", status="206", consumer="meta_crawler") == 1
    assert count("mediaserve_sent_bytes_total", consumer="meta_crawler") == 10


def test_the_view_under_asgi_counts_its_bytes(site: Path) -> None:
    from django.test import AsyncClient

    async def fetch() -> bytes:
        response = await AsyncClient().get("/media/big.bin", headers={"User-Agent": META})
        body = b"".join([chunk async for chunk in response.streaming_content])
        await asyncio.to_thread(response.close)
        return body

    assert len(asyncio.run(fetch())) == 200_000
    assert count("mediaserve_responses_total", status="200", consumer="meta_crawler") == 1
    assert count("mediaserve_sent_bytes_total", consumer="meta_crawler") == 200_000


def test_a_private_refusal_by_meta_lands_in_the_record(site: Path) -> None:
    from django.test import Client

    from mediaserve.django.observability import health_record

    response = Client().get("/media/private/p.txt", HTTP_USER_AGENT=META)
    assert response.status_code == 404
    response.close()
    assert count("mediaserve_responses_total", outcome="denied", reason="private") == 1
    record = health_record()
    assert record is not None
    deadline = time.monotonic() + 5
    while not record.recent() and time.monotonic() < deadline:
        time.sleep(0.05)
    (entry,) = record.recent()
    assert entry["consumer"] == "meta_crawler"
    assert entry["path"] == "/media/private/p.txt"
    assert entry["reason"] == "private"


def test_the_record_is_a_bounded_ring(site: Path) -> None:
    from mediaserve.django.observability import HealthRecord

    record = HealthRecord("default", 3)
    for n in range(5):
        record.write({"path": f"/media/{n}", "consumer": "whatsapp", "time": n})
    assert [e["path"] for e in record.recent()] == ["/media/4", "/media/3", "/media/2"]
    assert record.recent("meta_crawler") == []


def test_the_metrics_view_admits_the_token_and_staff_only(site: Path) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    assert client.get("/admin/mediaserve/metrics").status_code == 404
    assert client.get("/admin/mediaserve/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 404
    answer = client.get("/admin/mediaserve/metrics", HTTP_AUTHORIZATION="Bearer tok")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=0.0.4")
    user = get_user_model().objects.create_user("obs-staff", password="x", is_staff=True)
    try:
        client.force_login(user)
        assert client.get("/admin/mediaserve/metrics").status_code == 200
        health = client.get("/admin/mediaserve/health/")
        assert health.status_code == 200
        assert b"Media health" in health.content
    finally:
        user.delete()


@pytest.mark.parametrize(
    ("extra", "check_id"),
    [
        ({"HEALTH_CACHE": "nope"}, "mediaserve.E080"),
        ({"LOG_FORMAT": "xml"}, "mediaserve.E082"),
        ({"HEALTH_RECORD": -1}, "mediaserve.E082"),
    ],
)
def test_bad_observability_settings_are_named_by_checks(
    example_django: Any, extra: dict[str, Any], check_id: str
) -> None:
    from django.test import override_settings

    from mediaserve.django.checks.observability import check_observability

    with override_settings(MEDIASERVE=extra, CACHES=LOCMEM):
        assert [m.id for m in check_observability()] == [check_id]
    metrics.disable()


def test_dummy_cache_is_warned(example_django: Any) -> None:
    from django.test import override_settings

    from mediaserve.django.checks.observability import check_observability

    dummy = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    with override_settings(MEDIASERVE={}, CACHES=dummy):
        assert [m.id for m in check_observability()] == ["mediaserve.W080"]
    metrics.disable()
