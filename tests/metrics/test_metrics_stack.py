"""Issue 15, end to end: a real Prometheus scrapes the example under gunicorn with two workers
(multiprocess mode) while real traffic runs, and finds exactly the answers that were sent;
the failure record in Redis, the staff-only media health page (in Chromium), the metrics
view's bearer token, the JSON event lines and `manage.py mediaserve health`."""

from __future__ import annotations

import http.client
import json
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import Chromium, ServerProcess, free_port, require

from .stack import (
    BIG_SIZE,
    SECRET,
    STAFF,
    TOKEN,
    Prometheus,
    django_env,
    make_media,
    manage,
    prepare_database,
    start_prometheus,
    start_redis,
    start_site,
)

META = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
WHATSAPP = "WhatsApp/2.23.20.0 A"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
HAMMER = "hammer/1.0"


@dataclass
class Stack:
    site: ServerProcess
    prometheus: Prometheus
    env: dict[str, str]
    statuses: list[tuple[str, int]]


def _get(site: ServerProcess, target: str, agent: str, **headers: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.putheader("User-Agent", agent)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _traffic() -> list[tuple[str, str, dict[str, str]]]:
    import time

    from mediaserve.access.rules import Signer

    # Signed an hour ago for a minute: a valid signature, expired (the app's key is SECRET_KEY).
    expired = Signer(SECRET, clock=lambda: time.time() - 3600).query(
        "signed/doc.pdf", expires_in=60
    )
    small_etag_probe = ("/media/small.jpg", BROWSER, {})
    requests = [
        *[("/media/big.bin", META, {"Range": "bytes=0-99"})] * 4,  # 206, in-process
        *[("/media/big.bin", META, {})] * 2,  # 200, sendfile
        *[("/media/missing.jpg", META, {})] * 3,  # 404 missing
        *[("/media/.env", WHATSAPP, {})] * 2,  # refused: dotfile
        ("/media/a/%2e%2e/%2e%2e/etc/passwd", WHATSAPP, {}),  # refused: traversal
        ("/media/signed/doc.pdf", BROWSER, {}),  # denied: no signature
        (f"/media/signed/doc.pdf?{expired}", BROWSER, {}),  # denied: expired signature
        ("/media/big.bin", BROWSER, {"Range": "bytes=999999999-"}),  # 416
        small_etag_probe,
        *[("/media/small.jpg", HAMMER, {})] * 8,  # 5 served, 3 rate-limited
    ]
    return requests


EXPECTED_TOTAL = 4 + 2 + 3 + 2 + 1 + 1 + 1 + 1 + 1 + 8 + 1  # + the 304 below


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require("prometheus")
    with tempfile.TemporaryDirectory(prefix="mediaserve-obs-") as scratch:
        work = Path(scratch)
        for name in ("media", "var", "redis", "multiproc", "prom"):
            (work / name).mkdir()
        make_media(work / "media")
        redis, redis_url = start_redis(work / "redis")
        env = django_env(work / "media", work / "var", redis_url)
        prepare_database(env)
        metrics_port = free_port()
        site = start_site(env, work / "multiproc", metrics_port)
        prometheus = Prometheus(start_prometheus(work / "prom", metrics_port, site.port))
        try:
            # Traffic while Prometheus scrapes: eight clients at a time, so both workers answer.
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(lambda r: (r[0], _get(site, r[0], r[1], **r[2])[0]), _traffic())
                )
            etag_status, _ = _get(site, "/media/small.jpg", BROWSER)
            conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
            conn.request("HEAD", "/media/small.jpg", headers={"User-Agent": BROWSER})
            etag = conn.getresponse().getheader("ETag") or ""
            conn.close()
            statuses.append(("304", _get(site, "/media/small.jpg", BROWSER, If_None_Match=etag)[0]))
            statuses.append(("etag-get", etag_status))
            yield Stack(site, prometheus, env, statuses)
        finally:
            prometheus.server.stop()
            site.stop()
            redis.stop()


def total(selector: str, job: str = "mediaserve") -> str:
    inner = f'job="{job}"' + (f",{selector}" if selector else "")
    return f"sum(mediaserve_responses_total{{{inner}}})"


def test_the_requests_got_the_answers_the_counts_will_be_checked_against(stack: Stack) -> None:
    statuses = [s for _, s in stack.statuses]
    assert statuses.count(206) == 4
    assert statuses.count(429) == 3, "the hammer's 6th to 8th requests"
    assert statuses.count(304) == 1
    assert statuses.count(416) == 1


def test_prometheus_finds_exactly_what_was_sent(stack: Stack) -> None:
    prom = stack.prometheus
    # The HEAD and the two extra GETs for the ETag are responses too.
    everything = EXPECTED_TOTAL + 2
    assert prom.wait_for(total(""), everything) == everything
    assert prom.query(total('consumer="meta_crawler",status="206"')) == 4
    assert prom.query(total('consumer="meta_crawler",status="200"')) == 2
    assert prom.query(total('consumer="meta_crawler",outcome="missing"')) == 3
    assert prom.query(total('outcome="refused",reason="dotfile",consumer="whatsapp"')) == 2
    assert prom.query(total('outcome="refused",reason="traversal"')) == 1
    assert prom.query(total('outcome="denied",reason="no_signature"')) == 1
    assert prom.query(total('outcome="denied",reason="expired_signature"')) == 1
    assert prom.query(total('outcome="throttled",reason="rate_limited"')) == 3
    assert prom.query(total('status="304"')) == 1
    assert prom.query(total('status="416"')) == 1
    # Bytes by delivery path: the two whole GETs went by sendfile, the ranges through Python.
    sent = (
        'sum(mediaserve_sent_bytes_total{job="mediaserve",consumer="meta_crawler",delivery="%s"})'
    )
    assert prom.query(sent % "sendfile") == 2 * BIG_SIZE
    from mediaserve.http.plan import not_found

    # The ranges' bytes, and the three 404s' small bodies: what Python wrote is counted.
    not_found_body = sum(len(part) for part in not_found().body if isinstance(part, bytes))
    assert prom.query(sent % "in_process") == 4 * 100 + 3 * not_found_body
    # One duration and one time-to-first-byte observation per response.
    count = 'sum(mediaserve_response_duration_seconds_count{job="mediaserve"})'
    assert prom.query(count) == everything
    ttfb = 'sum(mediaserve_time_to_first_byte_seconds_count{job="mediaserve"})'
    assert prom.query(ttfb) == everything


def test_both_workers_answered_and_the_django_view_exposes_the_same_sums(stack: Stack) -> None:
    pids = set(re.findall(r"pid=<?(\d+)>? GET /media/", stack.site.logs()))
    assert len(pids) == 2, f"one worker took every request: {pids}"
    prom = stack.prometheus
    expected = EXPECTED_TOTAL + 2
    assert prom.wait_for(total("", job="django"), expected) == expected
    assert prom.query(total('consumer="meta_crawler",status="206"', job="django")) == 4


def test_the_metrics_view_is_refused_without_staff_or_token(stack: Stack) -> None:
    status, _ = _get(stack.site, "/admin/mediaserve/metrics", BROWSER)
    assert status == 404
    status, _ = _get(stack.site, "/admin/mediaserve/metrics", BROWSER, Authorization="Bearer no")
    assert status == 404
    status, body = _get(
        stack.site, "/admin/mediaserve/metrics", BROWSER, Authorization=f"Bearer {TOKEN}"
    )
    assert status == 200
    assert b"mediaserve_responses_total" in body


def test_the_health_page_is_refused_to_anonymous_users(stack: Stack) -> None:
    status, _ = _get(stack.site, "/admin/mediaserve/health/", BROWSER)
    assert status == 302  # to the admin login
    status, _ = _get(stack.site, "/admin/mediaserve/health/doctor/?path=/media/x", BROWSER)
    assert status == 302


def test_one_json_event_line_per_refusal_and_failure(stack: Stack) -> None:
    events = [
        json.loads(line[line.index("{") :])
        for line in stack.site.logs().splitlines()
        if "mediaserve.events" in line and "{" in line
    ]
    missing = [e for e in events if e["outcome"] == "missing" and e["consumer"] == "meta_crawler"]
    assert len(missing) == 3
    assert {e["path"] for e in missing} == {"/media/missing.jpg"}
    dotfiles = [e for e in events if e["reason"] == "dotfile"]
    assert len(dotfiles) == 2
    assert all(e["consumer"] == "whatsapp" for e in dotfiles)
    assert sum(e["reason"] == "rate_limited" for e in events) == 3
    assert not [e for e in events if e["status"] in (200, 206, 304)]


def _health_json(stack: Stack) -> tuple[int, dict[str, object]]:
    done = manage(stack.env, "mediaserve", "health", "--json", check=False)
    return done.returncode, json.loads(done.stdout)


def test_manage_py_mediaserve_health_lists_meta_and_whatsapp_failures(stack: Stack) -> None:
    import time

    deadline = time.monotonic() + 10
    code, data = _health_json(stack)
    while len(data["failures"]) < 6 and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.3)
        code, data = _health_json(stack)
    failures = data["failures"]
    assert isinstance(failures, list)
    assert code == 1, "failures recorded: exit 1 for cron jobs"
    assert sorted((f["consumer"], f["reason"]) for f in failures) == [
        ("meta_crawler", "not_found"), ("meta_crawler", "not_found"),
        ("meta_crawler", "not_found"), ("whatsapp", "dotfile"), ("whatsapp", "dotfile"),
        ("whatsapp", "traversal"),
    ]  # fmt: skip
    table = manage(stack.env, "mediaserve", "health", "--consumer", "whatsapp", check=False)
    assert table.returncode == 1
    assert "/media/.env" in table.stdout
    assert "missing.jpg" not in table.stdout


def test_health_page_for_staff_in_chromium_links_to_the_doctor(stack: Stack) -> None:
    require("chromium")
    require("playwright")
    test_manage_py_mediaserve_health_lists_meta_and_whatsapp_failures(stack)  # record written
    with Chromium() as browser:
        page = browser.new_page()
        page.goto(stack.site.url("/admin/mediaserve/health/"))
        assert "/admin/login/" in page.page.url, "anonymous: sent to the login page"
        user, password = STAFF
        page.page.fill("#id_username", user)
        page.page.fill("#id_password", password)
        page.page.click("input[type=submit]")
        page.page.wait_for_url("**/admin/mediaserve/health/")
        rows = page.page.locator("#media-health tbody tr")
        assert rows.count() == 6
        meta = page.page.locator('tr[data-consumer="meta_crawler"]')
        assert meta.count() == 3
        assert "/media/missing.jpg" in meta.first.inner_text()
        meta.first.locator("a.doctor-link").click()
        page.page.wait_for_selector("#doctor-verdict")
        report = page.page.inner_text("#doctor-report")
        assert "missing.jpg" in report
        assert page.page.inner_text("#doctor-verdict") in ("fail", "warn")
