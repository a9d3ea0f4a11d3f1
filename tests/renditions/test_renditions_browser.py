"""Headless Chromium displays the AVIF, WebP and JPEG renditions a real server sends.

A rendition that decodes in Pillow can still fail in a browser (an AVIF whose container a
browser rejects, a JPEG with a CMYK or 16-bit leftover, an EXIF tag that rotates it a second
time). So the harness's Django project runs under gunicorn with mediaserve's WSGI wrapper, the
corpus's rotated 12 MP Adobe RGB phone photo in its media root, and Debian's Chromium loads
each rendition URL as an ``<img>``: ``decode()`` must resolve, ``naturalWidth`` and
``naturalHeight`` must be the preset's box as displayed (portrait: the orientation was applied
once, and the browser did not apply it again), and the top-left pixel read back through a
canvas must be the photo's red marker in sRGB (the ICC profile was converted, not dropped).

The renditions are built on the first request (the lazy fallback), so the test also proves
that a URL computed before any build answers with the image, not a 404.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import Chromium, ServerProcess
from harness.django_site import start_django_site
from harness.images import Corpus, image_corpus, max_channel_distance
from mediaserve.renditions import BUILTIN_PRESETS
from mediaserve.renditions.keys import digest_of, rendition_name

pytestmark = pytest.mark.integration

SOURCE = "products/phone-photo.jpg"
#: Lossy AVIF/WebP at quality 70 and a 4:2:0 JPEG move a flat red block by a few units; a
#: rendition that kept the Adobe RGB numbers is ~35 away in red (220 vs 255), one that was
#: not rotated shows sky (~80, 120, 200) there.
COLOUR_TOLERANCE = 20

#: Load ``url`` as an image, wait for decode(), draw it on a canvas and read the pixel at
#: (3, 3). Resolves to an object even on failure, so the assertion can say what happened.
LOAD_IMAGE_JS = """
async (url) => {
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch (e) {
    return {ok: false, error: String(e)};
  }
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d", {colorSpace: "srgb"});
  ctx.drawImage(img, 0, 0);
  const px = Array.from(ctx.getImageData(3, 3, 1, 1).data);
  return {ok: true, width: img.naturalWidth, height: img.naturalHeight, pixel: px};
}
"""


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return image_corpus()


@pytest.fixture(scope="module")
def site(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The harness project (WSGI wrapper under gunicorn) with the phone photo as media."""
    root = tmp_path_factory.mktemp("media")
    (root / "products").mkdir()
    shutil.copyfile(corpus.photo.path, root / SOURCE)
    root.chmod(0o755)
    server = start_django_site("wrapper", "wsgi", media_root=root)
    try:
        yield server
    finally:
        server.stop()


def _url(site: ServerProcess, corpus: Corpus, preset: str, fmt: str | None) -> str:
    """The rendition URL as ``rendition_url`` forms it: MEDIA_URL + the content-addressed name."""
    name = rendition_name(
        SOURCE, BUILTIN_PRESETS[preset], digest_of(corpus.photo.path.read_bytes()), fmt
    )
    return site.url("/media/" + name)


def _expected_size(corpus: Corpus, box: int) -> tuple[int, int]:
    width, height = corpus.photo.display_size
    scale = min(box / width, box / height)
    return round(width * scale), round(height * scale)


def _load(chromium: Chromium, site: ServerProcess, url: str) -> tuple[dict[str, Any], Any]:
    page = chromium.open(site.url("/healthz"))
    try:
        result = page.evaluate(LOAD_IMAGE_JS, url)
        responses = [r for r in page.responses if r.url == url]
    finally:
        page.close()
    return result, responses


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("avif", "image/avif"), ("webp", "image/webp"), ("jpeg", "image/jpeg")],
)
def test_chromium_displays_each_format_upright_at_the_preset_size_in_srgb(
    chromium: Chromium, site: ServerProcess, corpus: Corpus, fmt: str, content_type: str
) -> None:
    url = _url(site, corpus, "thumb-400", fmt)
    result, responses = _load(chromium, site, url)
    assert result["ok"], f"Chromium could not decode {url}: {result}"
    # 3000x4000 as displayed -> 300x400: the orientation was applied once, by mediaserve.
    assert (result["width"], result["height"]) == _expected_size(corpus, 400)
    want = corpus.photo.expected_srgb(corpus.photo.mark_top_left or (0, 0, 0))
    assert max_channel_distance(tuple(result["pixel"]), want) <= COLOUR_TOLERANCE, (
        f"top-left pixel {result['pixel']} is not the red marker in sRGB {want}"
    )
    assert [r.status for r in responses] == [200]
    assert responses[0].headers.get("content-type") == content_type
    assert "immutable" in (responses[0].headers.get("cache-control") or "")


def test_chromium_gets_avif_from_the_negotiated_url(
    chromium: Chromium, site: ServerProcess, corpus: Corpus
) -> None:
    """Chromium's Accept lists image/avif first, so the extension-less URL answers AVIF,
    with ``Vary: Accept`` so a shared cache keeps the JPEG for crawlers apart."""
    url = _url(site, corpus, "thumb-200", None)
    result, responses = _load(chromium, site, url)
    assert result["ok"], f"Chromium could not decode {url}: {result}"
    assert (result["width"], result["height"]) == _expected_size(corpus, 200)
    assert [r.status for r in responses] == [200]
    assert responses[0].headers.get("content-type") == "image/avif"
    assert "accept" in (responses[0].headers.get("vary") or "").lower()


def test_chromium_displays_the_meta_catalog_jpeg(
    chromium: Chromium, site: ServerProcess, corpus: Corpus
) -> None:
    """The feed's image_link: 1024 px on the long side, a JPEG any crawler decodes."""
    url = _url(site, corpus, "meta-catalog", "jpeg")
    result, responses = _load(chromium, site, url)
    assert result["ok"], f"Chromium could not decode {url}: {result}"
    assert (result["width"], result["height"]) == _expected_size(corpus, 1024)
    assert responses[0].headers.get("content-type") == "image/jpeg"


def test_control_a_url_with_another_sources_key_is_not_an_image(
    chromium: Chromium, site: ServerProcess, corpus: Corpus, tmp_path: Path
) -> None:
    """The control: a key made from other bytes names no rendition, and Chromium's decode()
    rejects what comes back, so the passes above are not the harness accepting anything."""
    forged = rendition_name(SOURCE, BUILTIN_PRESETS["thumb-400"], digest_of(b"other"), "webp")
    result, responses = _load(chromium, site, site.url("/media/" + forged))
    assert not result["ok"]
    assert responses
    assert responses[0].status == 404
