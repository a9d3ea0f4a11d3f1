"""mediaserve.uploads: sniffing real files' first bytes, the allow-list and limits, safe names."""

from __future__ import annotations

import io
import unicodedata

import pytest
from PIL import Image

from harness import png_bytes
from mediaserve.policy.platforms import KB, MB, WHATSAPP, WHATSAPP_STICKER
from mediaserve.uploads.validate import (
    ANIMATED_STICKER_LIMIT,
    DEFAULT_LIMITS,
    UploadRules,
    check_upload,
    is_animated_webp,
    safe_name,
    sniff,
)


def image_bytes(fmt: str, size: tuple[int, int] = (8, 8), **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, format=fmt, **options)
    return out.getvalue()


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (8, 8), (i * 40, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("JPEG"), "jpeg"),
        (png_bytes(), "png"),
        (image_bytes("GIF"), "gif"),
        (image_bytes("WEBP"), "webp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "mp4"),
        (b"\x00\x00\x00\x18ftyp3gp5\x00\x00\x00\x00", "3gp"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00", "m4a"),
        (b"OggS\x00\x02" + b"\x00" * 20, "ogg"),
        (b"#!AMR\n\x3c", "amr"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x64\x00", "mp3"),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", "aac"),
        (b"PK\x03\x04\x14\x00\x06\x00", "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "ole"),
        (b"name,price\nsoap,2.50\n", "text"),
        ("café, naïve\n".encode(), "text"),
        ("preço;R$ 2,50\r\n".encode("cp1252"), "text"),  # Excel's CSV export
        (b"<!DOCTYPE html><script>alert(1)</script>", "markup"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'>", "markup"),
        (b"\x00\x01\x02garbage", None),
    ],
)
def test_sniff_names_the_format_from_the_first_bytes(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_text_cut_inside_a_character_is_still_text() -> None:
    """The sniff window may end in the middle of a multi-byte UTF-8 character."""
    assert sniff("é".encode() * 100 + "é".encode()[:1]) == "text"


def test_a_real_photo_with_its_extension_is_accepted() -> None:
    assert check_upload("photo.JPG", image_bytes("JPEG"), 20_000) == ("image", None)


def test_html_named_jpg_is_refused_and_the_message_says_what_it_is() -> None:
    """The classic: a page renamed .jpg that old browsers would sniff and render."""
    kind, problem = check_upload("cat.jpg", b"<html><script>alert(1)</script>", 40)
    assert kind == "image"
    assert problem is not None
    assert problem.code == "content"
    assert "named .jpg but its content is a markup file" in problem.message
    assert ".jpg" in problem.message.split("one of:")[1]


def test_a_png_named_jpg_is_refused() -> None:
    _, problem = check_upload("photo.jpg", png_bytes(), 100)
    assert problem is not None
    assert "content is a png file" in problem.message


@pytest.mark.parametrize("name", ["page.html", "drawing.svg", "run.exe", "archive.zip", "noext"])
def test_extensions_outside_the_allow_list_are_refused_with_the_list(name: str) -> None:
    _, problem = check_upload(name, b"whatever", 8)
    assert problem is not None
    assert problem.code == "extension"
    assert "Allowed: .3gp, .aac" in problem.message


def test_an_empty_file_is_refused_as_empty() -> None:
    _, problem = check_upload("doc.pdf", b"", 0)
    assert problem is not None
    assert "its content is empty" in problem.message


@pytest.mark.parametrize(
    ("name", "head", "limit"),
    [
        ("photo.jpg", image_bytes("JPEG"), 5 * MB),
        ("clip.mp4", b"\x00\x00\x00\x18ftypisom", 16 * MB),
        ("voice.ogg", b"OggS\x00", 16 * MB),
        ("doc.pdf", b"%PDF-1.4", 100 * MB),
        ("sticker.webp", image_bytes("WEBP"), 100 * KB),
    ],
)
def test_whatsapp_size_limits_per_kind(name: str, head: bytes, limit: int) -> None:
    """At the limit is accepted, one byte more is refused with both sizes in the message."""
    assert check_upload(name, head, limit)[1] is None
    _, problem = check_upload(name, head, limit + 1)
    assert problem is not None
    assert problem.code == "size"
    assert "may be at most" in problem.message


def test_an_animated_sticker_gets_the_larger_limit() -> None:
    data = animated_webp()
    assert is_animated_webp(data)
    assert not is_animated_webp(image_bytes("WEBP"))
    assert check_upload("s.webp", data, 300 * KB)[1] is None
    _, problem = check_upload("s.webp", data, ANIMATED_STICKER_LIMIT + 1)
    assert problem is not None
    assert "animated sticker files may be at most 500 KB" in problem.message
    _, static = check_upload("s.webp", image_bytes("WEBP"), 300 * KB)
    assert static is not None


def test_default_limits_are_the_platform_table() -> None:
    """The limits are read from mediaserve.policy.platforms, which the doctor reads too."""
    assert {kind.name: kind.max_bytes for kind in WHATSAPP} == DEFAULT_LIMITS
    assert ANIMATED_STICKER_LIMIT == WHATSAPP_STICKER.animated_max_bytes == 500 * KB
    assert DEFAULT_LIMITS["sticker"] == 100 * KB


def test_limits_and_allow_list_are_configurable() -> None:
    rules = UploadRules(allowed=frozenset({"pdf"}), limits={**DEFAULT_LIMITS, "document": 10})
    assert check_upload("a.pdf", b"%PDF-1.4", 10, rules)[1] is None
    assert check_upload("a.pdf", b"%PDF-1.4", 11, rules)[1] is not None
    assert check_upload("a.jpg", image_bytes("JPEG"), 10, rules)[1] is not None


def test_an_allow_list_entry_without_a_content_check_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="no content check is known for html"):
        UploadRules(allowed=frozenset({"pdf", "html"}))


# -- safe names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\photo.JPG", "photo.jpg"),
        ("/abs/path/invoice.pdf", "invoice.pdf"),
        (".htaccess", "htaccess"),
        ("..", "file"),
        ("", "file"),
        ("my holiday photo (1).jpeg", "my_holiday_photo_1.jpeg"),
        ('quote".svg', "quote.svg"),
        ("cr\r\nSet-Cookie: a=b.pdf", "crSet-Cookie_a_b.pdf"),
        ("nul\x00.pdf", "nul.pdf"),
        ("rtl\u202egnp.exe", "rtlgnp.exe"),
        ("файл.pdf", "файл.pdf"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_safe_name_normalises_to_nfc() -> None:
    """macOS uploads "é" decomposed; stored names must be one form or the same name is two."""
    decomposed = unicodedata.normalize("NFD", "café.jpg")
    assert decomposed != "café.jpg"
    assert safe_name(decomposed) == "café.jpg"


def test_safe_name_caps_the_length_in_bytes_and_keeps_the_extension() -> None:
    name = safe_name("é" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 247
    assert name.encode().decode() == name  # no half character at the cut
