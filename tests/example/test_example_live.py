"""The example started the way the README starts it, checked with curl and headless Chromium.

``scripts/example.sh`` creates .venv, installs the package and execs ``example/run.sh``; these
tests run that same ``example/run.sh`` with this interpreter (EXAMPLE_PYTHON), a free port and a
temporary var directory: migrate, collectstatic, seed, then gunicorn with DEBUG off.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness import REPO_ROOT, Chromium, ServerProcess, curl, free_port, require

RUN_SH = REPO_ROOT / "example" / "run.sh"


@dataclass(frozen=True)
class Example:
    server: ServerProcess
    var_dir: Path

    @property
    def media_root(self) -> Path:
        return self.var_dir / "media"


@pytest.fixture(scope="module")
def example() -> Iterator[Example]:
    require("gunicorn")
    require("ffmpeg")
    with tempfile.TemporaryDirectory(prefix="mediaserve-example-") as tmp:
        var_dir = Path(tmp) / "var"
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "EXAMPLE_", "ADMIN_")) and k not in ("PORT", "HOST")
        }
        env.update(
            EXAMPLE_PYTHON=sys.executable, PORT=str(port), EXAMPLE_VAR_DIR=str(var_dir),
            SEED_COUNT="6", WEB_WORKERS="1", MEDIA_ROOT="", PUBLIC_BASE_URL="",
        )  # fmt: skip
        server = ServerProcess(
            ["bash", str(RUN_SH)], port=port, env=env, ready_url="/healthz", timeout=180,
            name="example",
        )  # fmt: skip
        with server.start():
            yield Example(server, var_dir)


def _feed_rows(example: Example) -> list[dict[str, str]]:
    result = curl(example.server.url("/feed.csv"))
    assert result.status == 200
    return list(csv.DictReader(io.StringIO(result.text)))


def test_run_sh_prints_the_urls_to_try(example: Example) -> None:
    logs = example.server.logs()
    assert f"http://127.0.0.1:{example.server.port}" in logs
    assert "/feed.csv" in logs


def test_debug_is_off(example: Example) -> None:
    result = curl(example.server.url("/no-such-page/"))
    assert result.status == 404
    assert b"DEBUG = True" not in result.body
    assert b"URLconf" not in result.body


def test_feed_image_links_are_served_byte_for_byte(example: Example) -> None:
    rows = _feed_rows(example)
    assert len(rows) == 6
    for row in rows:
        link = urlsplit(row["image_link"])
        assert link.scheme == "http"
        assert link.netloc == f"127.0.0.1:{example.server.port}"
        result = curl(row["image_link"])
        assert result.status == 200
        assert result.headers["content-type"] == "image/jpeg"
        relative = link.path.removeprefix("/media/")
        from urllib.parse import unquote

        assert result.body == (example.media_root / unquote(relative)).read_bytes()


def test_seeded_image_ranges_and_validators(example: Example) -> None:
    url = _feed_rows(example)[0]["image_link"]
    full = curl(url)
    part = curl(url, "-H", "Range: bytes=0-1023")
    assert (part.status, part.body) == (206, full.body[:1024])
    again = curl(url, "-H", f"If-None-Match: {full.headers['etag']}")
    assert again.status == 304


def test_metas_probe_of_the_demo_video_is_a_real_partial_response(example: Example) -> None:
    """The README's main job: Meta's fetchers send ``Range: bytes=0-524288``. The seeded video
    is a few MB, so the answer is a 206 of exactly the first 524 289 bytes, not the file."""
    videos = sorted((example.media_root / "videos").glob("*.webm"))
    assert len(videos) == 1, videos
    whole = videos[0].read_bytes()
    assert len(whole) >= 4 * 524289
    url = example.server.url(f"/media/videos/{videos[0].name}")
    probe = curl(url, "-H", "Range: bytes=0-524288", "-A", "facebookexternalhit/1.1")
    assert probe.status == 206
    assert probe.headers["content-range"] == f"bytes 0-524288/{len(whole)}"
    assert probe.body == whole[:524289]
    assert probe.headers["content-type"] == "video/webm"


def test_docker_test_txt_is_served(example: Example) -> None:
    result = curl(example.server.url("/media/docker-test.txt"))
    assert result.status == 200
    assert result.body == (example.media_root / "docker-test.txt").read_bytes()


def test_admin_login_page_has_its_css(example: Example) -> None:
    """Static files work with DEBUG off too (the admin is how products are managed)."""
    page = curl(example.server.url("/admin/login/"))
    assert page.status == 200
    css = curl(example.server.url("/static/admin/css/base.css"))
    assert css.status == 200


def test_catalog_in_chromium_loads_every_image_and_seeks_the_video(
    example: Example, chromium: Chromium
) -> None:
    page = chromium.open(example.server.url("/"))
    try:
        # Images are lazy: scroll through the page so each one is requested.
        page.evaluate(
            """async () => {
                for (const img of document.images) {
                    img.scrollIntoView();
                    await new Promise(r => setTimeout(r, 20));
                }
            }"""
        )
        page.wait_for(
            "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=30
        )
        widths = page.evaluate("() => [...document.images].map(i => i.naturalWidth)")
        assert len(widths) == 6
        # Thumbnail renditions picked from srcset (decoded by the browser: AVIF here), each
        # reported at the 240 px the page lays it out at.
        assert all(w == 240 for w in widths), widths
        sources = page.evaluate("() => [...document.images].map(i => i.currentSrc)")
        assert all("/media/renditions/thumb-" in src for src in sources), sources

        page.evaluate("() => document.querySelector('video').scrollIntoView()")
        page.wait_for("() => document.querySelector('video').readyState >= 1", timeout=30)
        duration = page.evaluate("() => document.querySelector('video').duration")
        assert duration > 3
        seeked = page.evaluate(
            """async (target) => {
                const v = document.querySelector('video');
                await new Promise(resolve => {
                    v.addEventListener('seeked', resolve, {once: true});
                    v.currentTime = target;
                });
                await new Promise(resolve => {
                    if (v.readyState >= 2) return resolve();
                    v.addEventListener('loadeddata', resolve, {once: true});
                });
                return v.currentTime;
            }""",
            duration - 0.5,
        )
        assert abs(seeked - (duration - 0.5)) < 0.6
        video = [r for r in page.responses if r.resource_type == "media"]
        assert video, [r.url for r in page.responses]
        assert all(r.status == 206 for r in video), [(r.url, r.status) for r in video]
        assert all(r.request_headers.get("range", "").startswith("bytes=") for r in video)
        # The video is a few MB: the seek is a range that starts past the beginning, and the
        # browser cancels the download it no longer needs (ERR_ABORTED on the media URL is
        # how seeking looks). Anything else failing is a bug.
        starts = [int(r.request_headers["range"][6:].split("-")[0] or 0) for r in video]
        assert max(starts) > 524289, starts
        failed = [f for f in page.failed_requests
                  if not (f.endswith("net::ERR_ABORTED") and "/media/videos/" in f)]  # fmt: skip
        assert not failed, page.failed_requests
    finally:
        page.close()


def test_example_sh_is_valid_bash_and_execs_run_sh() -> None:
    script = REPO_ROOT / "scripts" / "example.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "example/run.sh" in text
