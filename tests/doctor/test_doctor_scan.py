"""``--scan``: many targets, concurrently, with a progress bar on a terminal and a summary.

The end-to-end runs scan a catalog feed *file* (XML, as Meta's RSS feeds are written, and
CSV) whose links point at a real nginx on TLS: two good images, one deleted from disk (404),
one readable only by its owner (403). The summary must count them, name ``public`` as the
hop that fails most and list the failures in the feed's order, whatever the concurrency.
"""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from doctor_support import (
    HOST,
    PKI,
    PRIVATE,
    SHOE,
    SMALL,
    doctor,
    make_media,
    make_pki,
    start_proxy,
)

from harness import LOOPBACK, ServerProcess, require
from mediaserve.doctor.report import Finding, Report
from mediaserve.doctor.scan import (
    feed_links,
    links_in_xml_feed,
    render_table,
    run_scan,
    scan_json,
    scan_summary,
)

pytestmark = pytest.mark.integration

MISSING = "products/gone.jpg"
NAMES = (SHOE, MISSING, SMALL, PRIVATE)


# -- the scan machinery, on made-up reports ----------------------------------------------------


def _report(target: str, hop: str | None) -> Report:
    report = Report(target=target)
    report.add([Finding("file", "pass", "there")])
    if hop:
        report.add([Finding(hop, "fail", f"{target} broke at {hop}", [], f"fix {target}")])
    return report


def test_concurrency_is_bounded_and_order_kept() -> None:
    running, peak = 0, 0
    lock = threading.Lock()

    def slow(target: str) -> Report:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return _report(target, None)

    targets = [f"t{i}.jpg" for i in range(12)]
    started = time.monotonic()
    reports = run_scan(targets, slow, concurrency=3)
    elapsed = time.monotonic() - started
    assert [r.target for r in reports] == targets
    assert peak == 3
    assert elapsed < 12 * 0.05  # not one after the other


def test_a_target_that_raises_is_a_failure_not_the_end() -> None:
    def boom(target: str) -> Report:
        if target == "b":
            raise RuntimeError("disk on fire")
        return _report(target, None)

    reports = run_scan(["a", "b", "c"], boom, concurrency=2)
    assert [r.verdict for r in reports] == ["pass", "fail", "pass"]
    assert "RuntimeError: disk on fire" in reports[1].findings[0].summary


def test_summary_names_the_hop_that_fails_most_and_the_first_five() -> None:
    hops = ["public", None, "proxy", "public", "public", "file", "public", "tls", "public"]
    reports = [_report(f"img{i}.jpg", hop) for i, hop in enumerate(hops)]
    summary = scan_summary(reports)
    assert summary["counts"] == {"pass": 1, "warn": 0, "fail": 8}
    assert next(iter(summary["failing_hops"].items())) == ("public", 5)
    assert [f["target"] for f in summary["first_failures"]] == [
        "img0.jpg", "img2.jpg", "img3.jpg", "img4.jpg", "img5.jpg",
    ]  # fmt: skip
    table = render_table(reports)
    assert "Failing hops (the hop to fix first, per target):\n  public  5\n" in table
    assert "First 5 failure(s):\n  1. img0.jpg\n     public: img0.jpg broke at public\n" in table
    assert "     fix: fix img0.jpg" in table
    assert table.rstrip().endswith("9 checked: 1 pass, 0 warn, 8 fail")
    data = json.loads(scan_json(reports, elapsed=1.234))
    assert data["summary"]["failing_hops"]["public"] == 5
    assert data["summary"]["seconds"] == 1.23
    assert len(data["reports"]) == 9


def test_a_large_scan_lists_only_what_did_not_pass() -> None:
    reports = [_report(f"p{i}.jpg", "public" if i == 7 else None) for i in range(60)]
    table = render_table(reports)
    assert "p7.jpg" in table
    assert "p8.jpg" not in table
    assert "(59 passing targets not listed; --json has them)" in table


def test_progress_bar_counts_failures() -> None:
    progress = io.StringIO()
    run_scan(["a", "b"], lambda t: _report(t, "public" if t == "a" else None), progress)
    text = progress.getvalue()
    assert "] 2/2 b" in text
    assert "(1 failed)" in text
    assert text.endswith("\r")


def test_xml_feeds_rss_and_atom() -> None:
    rss = """<?xml version="1.0"?>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel><title>t</title>
<item><g:id>1</g:id><g:image_link>https://shop.example.com/media/a.jpg</g:image_link>
<g:additional_image_link>https://shop.example.com/media/b.jpg,https://shop.example.com/media/c.jpg</g:additional_image_link></item>
<item><g:id>2</g:id><g:image_link>https://shop.example.com/media/a.jpg</g:image_link></item>
</channel></rss>"""
    urls, why = feed_links(rss)
    assert why is None
    assert [u.rsplit("/", 1)[1] for u in urls] == ["a.jpg", "b.jpg", "c.jpg"]
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">'
        "<entry><g:image_link>https://x.example/m/1.png</g:image_link></entry></feed>"
    )
    assert links_in_xml_feed(atom) == (["https://x.example/m/1.png"], None)
    assert "not valid XML" in (links_in_xml_feed("<rss><item>")[1] or "")
    assert "no image_link" in (links_in_xml_feed("<rss></rss>")[1] or "")


# -- end to end: the CLI against a real nginx --------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[ServerProcess, PKI, Path]]:
    require("nginx")
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-scan-"))
    folder.chmod(0o755)
    pki = make_pki(folder / "pki")
    media = make_media(folder / "files")
    nginx = start_proxy(pki, f"location /media/ {{ alias {media}/; }}")
    try:
        yield nginx, pki, folder
    finally:
        nginx.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _feed(folder: Path, port: int, kind: str) -> Path:
    links = [f"https://{HOST}:{port}/media/{name}" for name in NAMES]
    if kind == "xml":
        items = "".join(
            f"<item><g:id>{i}</g:id><g:image_link>{link}</g:image_link></item>"
            for i, link in enumerate(links)
        )
        text = (
            '<?xml version="1.0"?><rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">'
            f"<channel><title>shop</title>{items}</channel></rss>"
        )
    else:
        text = "id,title,image_link\r\n" + "".join(
            f"{i},item {i},{link}\r\n" for i, link in enumerate(links)
        )
    path = folder / f"feed.{kind}"
    path.write_text(text)
    return path


def test_scan_of_an_xml_feed_file(site: tuple[ServerProcess, PKI, Path]) -> None:
    nginx, pki, folder = site
    feed = _feed(folder, nginx.port, "xml")
    run = doctor("--scan", str(feed), "--concurrency", "3", proxy=nginx, pki=pki)
    assert run.code == 2, run.stdout
    data = run.data
    assert [r["target"].rsplit("/media/", 1)[1] for r in data["reports"]] == list(NAMES)
    assert data["summary"]["counts"] == {"pass": 2, "warn": 0, "fail": 2}
    assert data["summary"]["failing_hops"] == {"public": 2}
    first = data["summary"]["first_failures"]
    assert [f["target"].rsplit("/media/", 1)[1] for f in first] == [MISSING, PRIVATE]
    assert "404" in first[0]["summary"]
    assert "403" in first[1]["summary"]


def test_scan_text_table_and_no_bar_off_a_terminal(
    site: tuple[ServerProcess, PKI, Path],
) -> None:
    nginx, pki, folder = site
    feed = _feed(folder, nginx.port, "csv")
    argv = [sys.executable, "-m", "mediaserve.cli", "doctor", "--scan", str(feed),
            "--resolve", f"{HOST}:{nginx.port}:{LOOPBACK}", "--cafile", pki.ca,
            "--timeout", "5"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DOCTOR_"))}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert "Failing hops (the hop to fix first, per target):\n  public  2\n" in done.stdout
    assert f"  1. https://{HOST}:{nginx.port}/media/{MISSING}" in done.stdout
    assert done.stdout.rstrip().endswith("4 checked: 2 pass, 0 warn, 2 fail")

    # On a terminal, the bar is drawn on stderr (and wiped at the end).
    leader, follower = pty.openpty()
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=follower, env=env, text=True
    ) as process:
        os.close(follower)
        out, _ = process.communicate(timeout=60)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert b"] 4/4 " in drawn
    assert b"(2 failed)" in drawn
    assert "4 checked" in out


def test_scan_input_errors_are_named() -> None:
    run = doctor("--scan", "/nonexistent/feed.csv")
    assert run.code == 2
    assert "no such file" in run.first["summary"]
    bad = subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "doctor", "--scan", "x", "--concurrency", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "--concurrency: a whole number from 1 to 64" in bad.stderr
    npm = doctor("https://shop.example.com/media/a.jpg", "--npm-data", "/nonexistent")
    assert npm.code == 2
    assert "no nginx/proxy_host folder" in npm.first["summary"]
