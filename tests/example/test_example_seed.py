"""The `seed` management command: sample products, images, a video and docker-test.txt."""

from __future__ import annotations

import io
import itertools
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytestmark = pytest.mark.usefixtures("example_django")


def seed(**options: Any) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    options.setdefault("no_video", True)  # encoding is tested once, below
    call_command("seed", stdout=out, stderr=out, **options)
    return out.getvalue()


def products() -> list[Any]:
    from catalog.models import Product

    return list(Product.objects.order_by("sku"))


@pytest.fixture
def strict_umask() -> Iterator[None]:
    # A umask of 077 would leave files 0600 and directories 0700, unreadable to a proxy or a
    # sidecar running as another user: the modes must not depend on it.
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def test_seed_twice_creates_each_product_once(media_root: Path) -> None:
    seed(count=4)
    first = [(p.pk, p.sku, p.image.name) for p in products()]
    seed(count=4)
    assert [(p.pk, p.sku, p.image.name) for p in products()] == first
    assert [sku for _, sku, _ in first] == ["DEMO-001", "DEMO-002", "DEMO-003", "DEMO-004"]


def test_second_seed_generates_no_files(media_root: Path) -> None:
    seed(count=2)
    before = sorted(media_root.rglob("*"))
    assert "0 new), 0 images" in seed(count=2)
    assert sorted(media_root.rglob("*")) == before


def test_seed_keeps_edits_made_in_the_admin(media_root: Path) -> None:
    seed(count=1)
    (product,) = products()
    product.name = "Renamed by the shop owner"
    product.save()
    seed(count=1)
    assert products()[0].name == "Renamed by the shop owner"


def test_seed_regenerates_an_image_missing_from_media_root(media_root: Path) -> None:
    # A wiped or freshly mounted media volume with an old database must heal on restart.
    seed(count=1)
    (product,) = products()
    Path(product.image.path).unlink()
    seed(count=1)
    (product,) = products()
    assert Path(product.image.path).is_file()


def test_larger_count_adds_products_past_the_sample_list(media_root: Path) -> None:
    seed(count=14)
    names = [p.name for p in products()]
    assert len(names) == len(set(names)) == 14


def test_count_below_one_is_refused(media_root: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        seed(count=0)


def test_images_are_jpeg_of_at_least_500_by_500(media_root: Path) -> None:
    # Meta's catalog rejects product images smaller than 500x500.
    seed(count=3)
    for product in products():
        with Image.open(product.image.path) as image:
            assert image.format == "JPEG"
            assert image.width >= 500
            assert image.height >= 500
        # Stored, not just computed on load: pages size <img> without opening the file.
        stored = type(product).objects.values_list("image_width", "image_height")
        assert stored.get(pk=product.pk) == image.size


def test_each_image_looks_different(media_root: Path) -> None:
    seed(count=6)
    corners = set()
    for product in products():
        with Image.open(product.image.path) as image:
            corners.add(image.convert("RGB").getpixel((5, 5)))
    assert len(corners) == 6


def test_files_are_0644_and_directories_0755_whatever_the_umask(
    media_root: Path, strict_umask: None
) -> None:
    seed(count=2)
    assert stat.S_IMODE(media_root.stat().st_mode) == 0o755
    paths = list(media_root.rglob("*"))
    assert paths
    for path in paths:
        expected = 0o755 if path.is_dir() else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_docker_test_txt_is_written_into_media_root(media_root: Path) -> None:
    from catalog.samples import DOCKER_TEST_TEXT

    seed(count=1)
    assert (media_root / "docker-test.txt").read_text(encoding="utf-8") == DOCKER_TEST_TEXT


def test_docker_test_txt_is_rewritten_only_when_changed(media_root: Path) -> None:
    seed(count=1)
    path = media_root / "docker-test.txt"
    os.utime(path, (1_000_000_000, 1_000_000_000))
    seed(count=1)
    assert path.stat().st_mtime == 1_000_000_000  # untouched: validators stay stable
    path.write_text("stale\n", encoding="utf-8")
    seed(count=1)
    assert path.read_text(encoding="utf-8") != "stale\n"


def test_video_is_skipped_with_a_reason_when_ffmpeg_is_missing(
    media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog import samples

    def no_ffmpeg() -> str:
        raise ImportError("No module named 'imageio_ffmpeg'")

    monkeypatch.setattr(samples, "ffmpeg_exe", no_ffmpeg)
    output = seed(count=1, no_video=False)
    assert "product video skipped: No module named 'imageio_ffmpeg'" in output
    assert not products()[0].video


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample video, encoded once for the tests that only read it."""
    from catalog import samples

    out = tmp_path_factory.mktemp("video") / "sample.webm"
    samples.product_video(samples.sample_product(1), out)
    return out


class TestVideo:
    @staticmethod
    def ffmpeg(*args: str) -> str:
        from catalog.samples import ffmpeg_exe

        result = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", *args], capture_output=True, text=True, check=False
        )
        return result.stderr

    def frames(self, video: Path) -> list[str]:
        log = self.ffmpeg("-i", str(video), "-vf", "showinfo", "-f", "null", "-")
        return [line for line in log.splitlines() if "pts_time:" in line]

    def test_is_vp9_in_webm_which_every_chromium_decodes(self, video: Path) -> None:
        # VP9 in WebM is royalty-free, so every Chromium build decodes it whatever its codec
        # flags (H.264 depends on how a distribution built it); Firefox and Safari play it too.
        assert video.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML magic: Matroska/WebM
        info = self.ffmpeg("-i", str(video))
        assert re.search(r"Input #0, matroska,webm", info), info
        assert re.search(r"Video: vp9 \(Profile 0\), yuv420p", info), info
        assert "Audio:" not in info

    def test_is_a_few_mb_larger_than_metas_probe_range(self, video: Path) -> None:
        """Meta probes with Range: bytes=0-524288; a smaller file would answer that with the
        whole file, and the example would never show a real partial response."""
        from catalog.samples import VIDEO_MIN_BYTES

        assert VIDEO_MIN_BYTES >= 4 * 524289
        assert video.stat().st_size >= VIDEO_MIN_BYTES

    def test_lasts_a_few_seconds(self, video: Path) -> None:
        assert 2 <= len(self.frames(video)) / 24 <= 10

    def test_has_a_keyframe_at_least_every_second(self, video: Path) -> None:
        # Seeking decodes from the keyframe before the target; one per second keeps it quick.
        times = [
            float(re.search(r"pts_time:([0-9.]+)", line).group(1))  # type: ignore[union-attr]
            for line in self.frames(video)
            if "iskey:1" in line
        ]
        assert times[0] == 0
        assert max(b - a for a, b in itertools.pairwise(times)) <= 1.0


def test_seed_gives_the_first_product_the_video_once_and_0644(
    media_root: Path, strict_umask: None
) -> None:
    seed(count=2, no_video=False)
    first, second = products()
    assert first.video.name.endswith(".webm")
    assert not second.video
    path = Path(first.video.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert "0 video generated" in seed(count=2, no_video=False)
