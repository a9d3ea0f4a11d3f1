"""Presets, names and negotiation: pure functions, every edge a URL or a setting can reach."""

from __future__ import annotations

import pytest

from mediaserve.renditions import BUILTIN_PRESETS, Preset, PresetError, preset_from_dict
from mediaserve.renditions.keys import parse_name, rendition_key, rendition_name
from mediaserve.renditions.negotiate import choose_format
from mediaserve.renditions.presets import decimal_bytes, parse_color, passing_preset

THUMB = BUILTIN_PRESETS["thumb-400"]
CATALOG = BUILTIN_PRESETS["meta-catalog"]
DIGEST = "ab" * 32


def test_builtin_presets_take_their_limits_from_the_platform_table() -> None:
    assert CATALOG.min_side == 500
    assert CATALOG.max_bytes == 8_000_000  # 8 MB in the strict reading
    assert BUILTIN_PRESETS["whatsapp-image"].max_bytes == 5_000_000
    sticker = BUILTIN_PRESETS["whatsapp-sticker"]
    assert (sticker.width, sticker.height, sticker.formats) == (512, 512, ("webp",))
    assert sticker.max_bytes == 100_000
    assert BUILTIN_PRESETS["og-image"].max_bytes == 600_000
    assert decimal_bytes(1234) == 1234


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"width": 0, "height": 10}, "width must be a whole number of pixels from 1 to 8192"),
        ({"width": 10, "height": True}, "height must be a whole number"),
        ({"width": 10, "height": 10, "fit": "stretch"}, "fit 'stretch' must be one of"),
        ({"width": 10, "height": 10, "formats": ["gif"]}, "format(s) 'gif' unknown"),
        ({"width": 10, "height": 10, "formats": []}, "formats must be a non-empty list"),
        ({"width": 10, "height": 10, "quality": 101}, "quality must be from 1 to 100"),
        ({"width": 10, "height": 10, "max_bytes": 10}, "max_bytes must be a number of bytes"),
        ({"width": 10, "height": 10, "background": "red"}, "use '#rrggbb'"),
        ({"width": 10, "height": 10, "colour": "#fff"}, "unknown field(s) colour"),
        ({"width": 10}, "a new preset needs height"),
        ({"width": 10, "height": 10, "min_side": 11}, "min_side must be a number of pixels"),
    ],
)
def test_a_bad_preset_is_refused_naming_the_field(fields: dict, message: str) -> None:
    with pytest.raises(PresetError) as refused:
        preset_from_dict("thumb-x", fields)
    assert message in str(refused.value)


@pytest.mark.parametrize("name", ["Thumb", "a.b", "-x", "a/b", "", "x" * 65])
def test_preset_names_are_url_segments(name: str) -> None:
    with pytest.raises(PresetError, match="lower-case letters"):
        Preset(name, 10, 10)


def test_tuning_a_builtin_keeps_its_other_fields_and_changes_its_urls() -> None:
    tuned = preset_from_dict("meta-catalog", {"quality": 90}, CATALOG)
    assert tuned.min_side == CATALOG.min_side
    assert tuned.quality == 90
    assert rendition_key(DIGEST, tuned, "a.jpg") != rendition_key(DIGEST, CATALOG, "a.jpg")


def test_key_depends_on_bytes_preset_and_name() -> None:
    key = rendition_key(DIGEST, CATALOG, "a.jpg")
    assert len(key) == 24
    assert rendition_key("cd" * 32, CATALOG, "a.jpg") != key
    assert rendition_key(DIGEST, CATALOG, "b.jpg") != key
    assert rendition_key(DIGEST, CATALOG, "a.jpg") == key  # stable across processes


def test_names_round_trip_through_the_parser() -> None:
    presets = dict(BUILTIN_PRESETS)
    for preset, fmt in [(CATALOG, None), (THUMB, "webp"), (THUMB, None), (THUMB, "jpeg")]:
        name = rendition_name("products/é x.jpg", preset, DIGEST, fmt)
        readings = parse_name(name, presets)
        assert any(
            r.preset == preset
            and r.source_name == "products/é x.jpg"
            and r.fmt == (fmt or (None if preset.negotiated else preset.fallback))
            and r.matches(DIGEST)
            for r in readings
        ), (name, readings)


def test_only_the_right_reading_matches_when_names_look_alike() -> None:
    """``a.jpg.webp`` is the WebP of ``a.jpg`` or the negotiated ``a.jpg.webp``: the key,
    which covers the name, tells them apart."""
    name = rendition_name("a.jpg", THUMB, DIGEST, "webp")
    readings = parse_name(name, dict(BUILTIN_PRESETS))
    assert [r.source_name for r in readings] == ["a.jpg", "a.jpg.webp"]
    assert [r.matches(DIGEST) for r in readings] == [True, False]


@pytest.mark.parametrize(
    "name",
    [
        "renditions/nope/" + "0" * 24 + "/a.jpg.jpg",  # undeclared preset
        "renditions/meta-catalog/xyz/a.jpg.jpg",  # not a key
        "renditions/meta-catalog/" + "0" * 24,  # no source
        "products/a.jpg",  # not a rendition
        "renditions/meta-catalog/" + "0" * 24 + "/a.jpg.webp",  # format not in the preset
    ],
)
def test_names_that_are_no_rendition_parse_to_nothing(name: str) -> None:
    assert parse_name(name, dict(BUILTIN_PRESETS)) == []


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "jpeg"),
        ("", "jpeg"),
        ("*/*", "jpeg"),
        ("image/*", "jpeg"),
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "avif"),
        ("image/webp,*/*", "webp"),
        ("IMAGE/WEBP", "webp"),
        ("image/avif;q=0, image/webp;q=0.5", "webp"),
        ("image/avif;q=zero", "jpeg"),
        ("image/avif" + ", x" * 2000, "jpeg"),  # over the parse cap: the fallback
    ],
)
def test_accept_chooses_only_what_the_client_names(accept: str | None, expected: str) -> None:
    assert choose_format(THUMB, accept) == expected


def test_a_one_format_preset_is_never_negotiated() -> None:
    assert choose_format(CATALOG, "image/avif,image/webp") == "jpeg"


def test_colours_and_the_doctors_preset_names() -> None:
    assert parse_color("#fff") == (255, 255, 255, 255)
    assert parse_color("transparent")[3] == 0
    assert parse_color("#11223380") == (0x11, 0x22, 0x33, 0x80)
    assert passing_preset("catalog image") == "meta-catalog"
    assert passing_preset("sticker") == "whatsapp-sticker"
    assert passing_preset("document") is None
