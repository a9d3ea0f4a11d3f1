"""The engine on real inputs: every output decoded and checked (size, orientation, mode,
colour profile, bytes), the way Meta, WhatsApp and browsers will read it."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from harness.images import Corpus
from mediaserve.policy.platforms import META_CATALOG_IMAGE, WHATSAPP_STICKER
from mediaserve.renditions import (
    BUILTIN_PRESETS,
    CannotFit,
    Preset,
    TooManyPixels,
    Undecodable,
    render,
)

from .conftest import close, corner, decode

CATALOG = BUILTIN_PRESETS["meta-catalog"]


def test_phone_photo_is_upright_srgb_jpeg_without_metadata(corpus: Corpus) -> None:
    """The usual upload: 12 MP, EXIF Orientation 6, Adobe RGB, GPS. Meta gets a portrait
    JPEG in sRGB with no EXIF (no rotation left to apply twice, no location leaked)."""
    photo = corpus.photo
    out = render(photo.path, CATALOG)
    image = decode(out.data)
    assert image.format == "JPEG"
    assert out.content_type == "image/jpeg"
    assert image.mode == "RGB"
    display_w, display_h = photo.display_size
    assert image.size == (round(display_w * 1024 / display_h), 1024)  # portrait, fits 1024
    assert (out.width, out.height) == image.size
    assert not image.getexif()  # orientation applied, then every tag dropped
    assert "icc_profile" not in image.info  # untagged sRGB
    assert photo.mark_top_left
    assert photo.mark_bottom_right
    assert close(corner(image, "top-left"), photo.expected_srgb(photo.mark_top_left))
    assert close(corner(image, "bottom-right"), photo.expected_srgb(photo.mark_bottom_right))


def test_adobe_rgb_is_converted_not_reinterpreted(corpus: Corpus) -> None:
    """Adobe RGB (220, 30, 30) is (255, 24, 24) in sRGB: keeping the numbers (what the
    thumbnailers do) dulls every red; the rendition must show the sRGB colour."""
    photo = corpus.photo
    image = decode(render(photo.path, BUILTIN_PRESETS["thumb-400"], "jpeg").data)
    assert photo.mark_top_left is not None
    expected = photo.expected_srgb(photo.mark_top_left)
    assert expected != photo.mark_top_left
    assert close(corner(image, "top-left"), expected, tolerance=12)
    assert not close(corner(image, "top-left"), photo.mark_top_left, tolerance=12)


def test_orientation_8_and_display_p3(corpus: Corpus) -> None:
    """The other rotation (8) with an iPhone's Display P3 profile: the tag, not a fixed
    rotation, decides."""
    item = corpus.photo_p3
    image = decode(render(item.path, CATALOG).data)
    assert image.size[0] < image.size[1]  # portrait, as displayed
    assert item.mark_top_left is not None
    assert close(corner(image, "top-left"), item.expected_srgb(item.mark_top_left))


@pytest.mark.parametrize("name", ["cmyk", "png16_rgb", "heic", "avif", "small"])
def test_every_input_becomes_an_8_bit_rgb_jpeg_meta_accepts(corpus: Corpus, name: str) -> None:
    item = getattr(corpus, name)
    if item is None:
        pytest.fail(f"the corpus has no {name}: install pillow-heif / a Pillow with AVIF")
    out = render(item.path, CATALOG)
    image = decode(out.data)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert min(image.size) >= (META_CATALOG_IMAGE.min_side_px or 0)
    assert len(out.data) <= META_CATALOG_IMAGE.max_bytes
    if item.mark_top_left is not None and name != "small":
        assert close(corner(image, "top-left"), item.mark_top_left, tolerance=40)
        assert item.mark_bottom_right is not None
        assert close(corner(image, "bottom-right"), item.mark_bottom_right, tolerance=40)


def test_small_screenshot_is_enlarged_to_metas_minimum_not_beyond(corpus: Corpus) -> None:
    """300x225 is under Meta's 500x500: enlarged until the short side is 500 (667x500),
    not to the 1024 box; no padding needed since the long side fits."""
    image = decode(render(corpus.small.path, CATALOG).data)
    assert image.size == (667, 500)


def test_16_bit_grey_keeps_its_ramp(corpus: Corpus) -> None:
    """A naive conversion clips I;16 to white: the ramp must stay dark at the top."""
    image = decode(render(corpus.png16_gray.path, CATALOG).data).convert("L")
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, image.size[1] - 5))
    assert isinstance(top, int)
    assert isinstance(bottom, int)
    assert top < 30
    assert bottom > 220


def test_animated_gif_gives_its_first_frame(corpus: Corpus) -> None:
    item = corpus.animated_gif
    image = decode(render(item.path, BUILTIN_PRESETS["thumb-200"], "webp").data)
    assert image.format == "WEBP"
    assert getattr(image, "n_frames", 1) == 1
    assert item.mark_top_left is not None
    assert close(corner(image, "bottom-right"), item.mark_top_left)


def test_alpha_is_flattened_on_the_background_for_jpeg_and_kept_for_webp(
    corpus: Corpus,
) -> None:
    """Transparent corners stored as black must come out white in a JPEG (the preset's
    background), and stay transparent in WebP."""
    path = corpus.alpha_png.path
    jpeg = decode(render(path, CATALOG).data)
    assert jpeg.mode == "RGB"
    assert close(corner(jpeg, "top-left"), (255, 255, 255), tolerance=4)
    green = jpeg.getpixel((jpeg.size[0] // 2, jpeg.size[1] // 2))
    assert close(tuple(green), (30, 160, 60))
    webp = decode(render(path, BUILTIN_PRESETS["thumb-400"], "webp").data)
    assert webp.mode == "RGBA"
    assert webp.getpixel((2, webp.size[1] - 3))[3] == 0
    blue = Preset("flat-blue", 300, 300, background="#0000ff")
    assert close(corner(decode(render(path, blue).data), "top-left"), (0, 0, 255), tolerance=8)


def test_decompression_bomb_is_refused_from_the_header(corpus: Corpus) -> None:
    started = time.perf_counter()
    with pytest.raises(TooManyPixels) as refused:
        render(corpus.bomb.path, CATALOG)
    assert refused.value.status == 413
    assert "20000x20000" in str(refused.value) or "decompression bomb" in str(refused.value)
    assert time.perf_counter() - started < 2.0  # refused, never decoded (decoding: ~10 s)


def test_own_pixel_limit_applies_below_pillows(corpus: Corpus) -> None:
    with pytest.raises(TooManyPixels, match="over the limit of 1,000,000"):
        render(corpus.photo.path, CATALOG, max_pixels=1_000_000)


@pytest.mark.parametrize(
    "data", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\0" * 64], ids=str
)
def test_undecodable_input_is_a_415_not_a_crash(data: bytes) -> None:
    with pytest.raises(Undecodable) as refused:
        render(data, CATALOG)
    assert refused.value.status == 415


def test_truncated_jpeg_is_undecodable_or_complete(corpus: Corpus) -> None:
    """Half a JPEG: a clear refusal, never a decoder exception leaking out."""
    data = corpus.cmyk.path.read_bytes()
    with pytest.raises(Undecodable):
        render(data[: len(data) // 2], CATALOG)


def test_sticker_is_exactly_512_square_webp_under_100_kb(corpus: Corpus) -> None:
    out = render(corpus.photo.path, BUILTIN_PRESETS["whatsapp-sticker"])
    image = decode(out.data)
    assert image.format == "WEBP"
    assert image.size == WHATSAPP_STICKER.exact_px
    assert len(out.data) <= WHATSAPP_STICKER.max_bytes
    # Portrait photo on a square canvas: transparent at the left and right edges.
    assert image.mode == "RGBA"
    assert image.getpixel((1, 256))[3] == 0


def test_og_image_fills_1200x630(corpus: Corpus) -> None:
    out = render(corpus.photo.path, BUILTIN_PRESETS["og-image"])
    assert decode(out.data).size == (1200, 630)
    assert len(out.data) <= 600 * 1000


def _noise(size: tuple[int, int]) -> bytes:
    import os

    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_byte_cap_lowers_quality_then_size_until_it_fits() -> None:
    """Noise is the worst case for JPEG: 1000x1000 of it is ~1 MB at q90; a 60 KB cap is
    reached only by going down in quality and then in size."""
    preset = Preset("capped", 1000, 1000, quality=90, max_bytes=60_000)
    out = render(_noise((1000, 1000)), preset)
    assert len(out.data) <= 60_000
    # Every quality step failed at full size; a smaller size then fits at some quality.
    assert out.width < 1000
    assert out.quality is not None
    assert preset.min_quality <= out.quality <= preset.quality
    assert decode(out.data).size == (out.width, out.height)


def test_byte_cap_that_cannot_be_met_fails_clearly() -> None:
    preset = Preset("hopeless", 512, 512, fit="pad", formats=("png",), max_bytes=2048)
    with pytest.raises(CannotFit, match="raise the preset's max_bytes") as failed:
        render(_noise((512, 512)), preset)
    assert failed.value.status == 422


@pytest.mark.parametrize("fmt", ["avif", "webp", "jpeg"])
def test_browser_formats_decode_as_what_they_claim(corpus: Corpus, fmt: str) -> None:
    out = render(corpus.photo.path, BUILTIN_PRESETS["thumb-400"], fmt)
    image = decode(out.data)
    assert Image.MIME[image.format] == out.content_type
    assert max(image.size) == 400


def test_jpeg_source_is_decoded_at_reduced_scale() -> None:
    """The draft path: a 4000x3000 JPEG made into 400 px must be decoded at 1/8 scale
    (libjpeg's DCT scaling), which is where the speed and memory come from."""
    from mediaserve.renditions.engine import _prepare

    big = Image.new("RGB", (4000, 3000), (10, 120, 200))
    buffer = io.BytesIO()
    big.save(buffer, "JPEG")
    decoded, _scale, canvas = _prepare(buffer.getvalue(), BUILTIN_PRESETS["thumb-400"], 10**8)
    assert decoded.size == (500, 375)
    assert canvas == (400, 300)
