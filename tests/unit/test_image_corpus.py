"""The image corpus (tests/harness/images.py) is what it claims to be.

The renditions tests trust each item's description (displayed size, marker colours, ICC
profile); if the corpus lied, a wrong engine could pass them. Each test checks one claim with
Pillow, independently of mediaserve.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms, ImageOps

from harness.images import (
    BOMB_SIDE,
    PHOTO_STORED_SIZE,
    Corpus,
    image_corpus,
    max_channel_distance,
)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return image_corpus()


def test_photo_is_a_rotated_12mp_phone_jpeg(corpus: Corpus) -> None:
    with Image.open(corpus.photo.path) as im:
        assert im.format == "JPEG"
        assert im.size == PHOTO_STORED_SIZE
        assert im.getexif()[0x0112] == 6
        assert im.getexif().get_ifd(0x8825), "GPS present, so stripping it can be tested"
        assert im.width * im.height >= 12_000_000
    # "Phone photos of 3-8 MB" (issue 12): the JPEG must weigh like one, or decode time lies.
    assert 3_000_000 <= corpus.photo.size_bytes <= 6_000_000


@pytest.mark.parametrize("name", ["photo", "photo_p3"])
def test_markers_are_where_the_description_says_once_orientation_applies(
    corpus: Corpus, name: str
) -> None:
    item = getattr(corpus, name)
    with Image.open(item.path) as im:
        shown = ImageOps.exif_transpose(im).convert("RGB")
    assert shown.size == item.display_size
    assert max_channel_distance(shown.getpixel((4, 4)), item.mark_top_left) <= 6
    corner = (shown.width - 5, shown.height - 5)
    assert max_channel_distance(shown.getpixel(corner), item.mark_bottom_right) <= 6


@pytest.mark.parametrize("name", ["photo", "photo_p3"])
def test_embedded_profile_is_wide_gamut_and_changes_colours(corpus: Corpus, name: str) -> None:
    item = getattr(corpus, name)
    with Image.open(item.path) as im:
        icc = im.info["icc_profile"]
    assert icc == item.icc_profile
    ImageCms.ImageCmsProfile(io.BytesIO(icc))  # LittleCMS parses it
    # Converting to sRGB must move the red marker visibly, or the ICC test proves nothing.
    assert max_channel_distance(item.expected_srgb(item.mark_top_left), item.mark_top_left) >= 10


def test_adobe_profile_matches_the_published_matrix(corpus: Corpus) -> None:
    # Adobe RGB (1998) (100, 150, 200) is sRGB (66, 151, 203) by the published RGB->XYZ
    # matrix and IEC 61966-2-1's XYZ->sRGB, computed by hand outside this file.
    assert corpus.photo.expected_srgb((100, 150, 200)) == (66, 151, 203)


def test_cmyk_sixteen_bit_and_palette_items_have_their_modes(corpus: Corpus) -> None:
    with Image.open(corpus.cmyk.path) as im:
        assert im.mode == "CMYK"
    with Image.open(corpus.png16_gray.path) as im:
        assert im.mode == "I;16"
        assert im.getpixel((0, 0)) == 0
        assert im.getpixel((0, im.height - 1)) == 65535
    raw = corpus.png16_rgb.path.read_bytes()
    assert raw[24:26] == bytes((16, 2)), "IHDR: bit depth 16, colour type 2 (RGB)"
    with Image.open(corpus.animated_gif.path) as im:
        assert im.mode == "P"
        assert getattr(im, "n_frames", 1) == 3
    with Image.open(corpus.alpha_png.path) as im:
        assert im.mode == "RGBA"
        assert im.getpixel((0, 0)) == (0, 0, 0, 0)


def test_heic_is_decodable_when_pillow_heif_is_installed(corpus: Corpus) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    assert corpus.heic is not None
    heif = pillow_heif.open_heif(corpus.heic.path)
    assert heif.size == corpus.heic.display_size


def test_bomb_is_small_and_refused_by_pillows_own_limit(corpus: Corpus) -> None:
    assert corpus.bomb.size_bytes < 100_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(corpus.bomb.path)
    assert corpus.bomb.display_size == (BOMB_SIDE, BOMB_SIDE)


def test_corpus_is_deterministic(tmp_path_factory: pytest.TempPathFactory) -> None:
    from harness.images import build_corpus

    again = build_corpus(tmp_path_factory.mktemp("again"))
    first = image_corpus()
    for a, b in zip(first, again, strict=True):
        if a.format in ("HEIF", "AVIF"):
            continue  # encoders may embed a library version; the pixels are what matters
        assert a.path.read_bytes() == b.path.read_bytes(), a.name
