"""mediaserve.django.validators through real Django forms and a real storage directory."""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from harness import png_bytes
from mediaserve.django.validators import SafeFileSystemStorage, UploadValidator


def jpeg(size: tuple[int, int] = (40, 20), exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 10, 10))
    image.save(out, format="JPEG", **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    data = bytearray(png_bytes())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


class UploadForm(forms.Form):
    attachment = forms.FileField(validators=[UploadValidator()])


class PhotoForm(forms.Form):
    # A FileField: forms.ImageField runs Django's own decode first, with its own message.
    photo = forms.FileField(validators=[UploadValidator(allowed=["jpg", "jpeg", "png"])])


def errors_for(form_class: type[forms.Form], field: str, name: str, data: bytes) -> list[str]:
    form = form_class(files={field: SimpleUploadedFile(name, data)})
    return [] if form.is_valid() else list(form.errors[field])


def test_a_real_photo_passes(example_django: Any) -> None:
    assert errors_for(UploadForm, "attachment", "photo.jpg", jpeg()) == []


def test_html_renamed_jpg_is_a_form_error_saying_what_it_is(example_django: Any) -> None:
    errors = errors_for(UploadForm, "attachment", "cat.jpg", b"<html><script>x</script></html>")
    assert len(errors) == 1
    assert "named .jpg but its content is a markup file" in errors[0]


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf<html><body>hi</body></html>",  # behind a UTF-8 byte order mark
        b"<!-- export -->\n<script>alert(1)</script>",  # behind a comment
        b"sku,description\n" + b"A1,soap\n" * 60 + b"A2,<iframe src=//evil></iframe>\n",
    ],
    ids=["after-bom", "after-comment", "later-in-the-first-kb"],
)
def test_markup_in_a_csv_is_a_form_error_naming_where(example_django: Any, data: bytes) -> None:
    errors = errors_for(UploadForm, "attachment", "prices.csv", data)
    assert len(errors) == 1
    assert "named .csv but contains HTML markup" in errors[0]
    assert "at byte" in errors[0]


def test_a_plain_csv_with_comparisons_passes(example_django: Any) -> None:
    data = "sku;rule\r\nA1;price<10 and qty<=3\r\nA2;preço €\r\n".encode("cp1252")
    assert errors_for(UploadForm, "attachment", "rules.csv", data) == []


def test_a_disallowed_extension_lists_what_is_allowed(example_django: Any) -> None:
    errors = errors_for(PhotoForm, "photo", "drawing.svg", b"<svg/>")
    assert any("Allowed: .jpeg, .jpg, .png." in e for e in errors), errors


def test_a_decompression_bomb_is_refused_from_its_header(example_django: Any) -> None:
    """100 000 x 100 000 pixels would take 30 GB to decode: refused before decoding (Pillow
    itself refuses to open it past twice its MAX_IMAGE_PIXELS)."""
    errors = errors_for(UploadForm, "attachment", "bomb.png", png_claiming(100_000, 100_000))
    assert errors == ["The image has too many pixels; at most 40 megapixels are accepted."]


def test_an_image_over_the_pixel_limit_says_its_size(example_django: Any) -> None:
    """8000 x 6000 is within Pillow's own limit but over 40 megapixels: still never decoded."""
    errors = errors_for(UploadForm, "attachment", "big.png", png_claiming(8000, 6000))
    assert errors == ["The image is 8000 x 6000 pixels; at most 40 megapixels are accepted."]


def test_the_pixel_limit_is_configurable(example_django: Any) -> None:
    class Small(forms.Form):
        f = forms.FileField(validators=[UploadValidator(max_pixels=100)])

    assert errors_for(Small, "f", "a.png", png_bytes(16, 16)) == [
        "The image is 16 x 16 pixels; at most 0.0001 megapixels are accepted."
    ]


def test_a_truncated_jpeg_is_refused_as_unreadable(example_django: Any) -> None:
    data = jpeg((400, 400))
    errors = errors_for(UploadForm, "attachment", "cut.jpg", data[: len(data) // 3])
    assert len(errors) == 1
    assert "could not be read as an image" in errors[0]


def test_a_too_large_document_says_both_sizes(example_django: Any) -> None:
    class Tiny(forms.Form):
        f = forms.FileField(validators=[UploadValidator(limits={"document": 1024})])

    errors = errors_for(Tiny, "f", "big.pdf", b"%PDF-1.4\n" + b"0" * 2048)
    assert errors == ["The file is 2.01 KB; document files may be at most 1 KB."]


def test_the_validator_deconstructs_for_migrations() -> None:
    validator = UploadValidator(allowed=["pdf"], limits={"document": 10})
    path, args, kwargs = validator.deconstruct()
    assert path == "mediaserve.django.validators.UploadValidator"
    assert UploadValidator(*args, **kwargs) == validator


# -- the storage -----------------------------------------------------------------------------


@pytest.fixture
def storage_dir(tmp_path: Path) -> Iterator[Path]:
    """A storage root, written under a umask of 077 (what a hardened container may have)."""
    old = os.umask(0o077)
    try:
        yield tmp_path / "media"
    finally:
        os.umask(old)


def test_files_land_0644_and_directories_0755_whatever_the_umask(
    example_django: Any, storage_dir: Path
) -> None:
    storage = SafeFileSystemStorage(location=storage_dir)
    name = storage.save("uploads/2026/doc.pdf", ContentFile(b"%PDF-1.4"))
    assert (storage_dir / name).stat().st_mode & 0o777 == 0o644
    assert (storage_dir / "uploads").stat().st_mode & 0o777 == 0o755
    assert (storage_dir / "uploads" / "2026").stat().st_mode & 0o777 == 0o755


def test_hostile_names_are_stored_safely(example_django: Any, storage_dir: Path) -> None:
    storage = SafeFileSystemStorage(location=storage_dir)
    name = storage.save('uploads/.ev il\r\n"name\u202e.PDF', ContentFile(b"%PDF-1.4"))
    assert name == "uploads/ev_il_name.pdf"


def test_the_same_name_twice_gives_two_files(example_django: Any, storage_dir: Path) -> None:
    storage = SafeFileSystemStorage(location=storage_dir)
    first = storage.save("u/invoice.pdf", ContentFile(b"%PDF-1 first"))
    second = storage.save("u/invoice.pdf", ContentFile(b"%PDF-1 second"))
    assert first != second
    assert (storage_dir / first).read_bytes() == b"%PDF-1 first"
    assert (storage_dir / second).read_bytes() == b"%PDF-1 second"


def _gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = {1: "S", 2: (23.0, 33.0, 1.0), 3: "W", 4: (46.0, 38.0, 2.0)}
    exif[0x8825] = gps
    return exif


def test_exif_and_gps_are_stripped_when_asked(example_django: Any, storage_dir: Path) -> None:
    original = jpeg((40, 20), _gps_exif())
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(0x8825)  # the control: the GPS position is there
    storage = SafeFileSystemStorage(location=storage_dir, strip_metadata=True)
    name = storage.save("photos/me.jpg", ContentFile(original))
    with Image.open(storage_dir / name) as after:
        exif = after.getexif()
        assert not exif.get_ifd(0x8825)
        assert 0x010F not in exif
        assert after.size == (20, 40)  # the orientation was applied to the pixels


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photos/invoice.jpg", b"%PDF-1.4 not an image"),
        ("photos/page.png", b"<html><script>alert(1)</script>"),
        ("photos/cut.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 "),  # a truncated WebP header
        ("photos/empty.jpeg", b""),
    ],
)
def test_strip_metadata_stores_a_non_image_as_it_came_without_raising(
    example_django: Any, storage_dir: Path, caplog: pytest.LogCaptureFixture, name: str, data: bytes
) -> None:
    """The storage is not the validator: a non-image with an image name (a project without
    UploadValidator) is stored, not a 500 for the person uploading, and the log says so."""
    storage = SafeFileSystemStorage(location=storage_dir, strip_metadata=True)
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        stored = storage.save(name, ContentFile(data))
    assert (storage_dir / stored).read_bytes() == data
    assert any(
        "not an image Pillow can read" in r.getMessage() and "UploadValidator" in r.getMessage()
        for r in caplog.records
    )


def test_strip_metadata_strips_a_png_named_jpg(example_django: Any, storage_dir: Path) -> None:
    """Metadata goes whatever the name claims: the PNG's text chunk (a location) is removed
    and the file stays a PNG."""
    info = PngInfo()
    info.add_text("Location", "-23.55,-46.63")
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, format="PNG", pnginfo=info)
    with Image.open(io.BytesIO(out.getvalue())) as before:
        assert before.info.get("Location")  # the control
    storage = SafeFileSystemStorage(location=storage_dir, strip_metadata=True)
    stored = storage.save("photos/me.jpg", ContentFile(out.getvalue()))
    with Image.open(storage_dir / stored) as after:
        assert after.format == "PNG"
        assert "Location" not in after.info


def test_metadata_is_kept_unless_asked(example_django: Any, storage_dir: Path) -> None:
    storage = SafeFileSystemStorage(location=storage_dir)
    name = storage.save("photos/me.jpg", ContentFile(jpeg((40, 20), _gps_exif())))
    with Image.open(storage_dir / name) as kept:
        assert kept.getexif().get_ifd(0x8825)


# -- through Django's upload handlers ----------------------------------------------------------


@pytest.fixture
def upload_site(media_settings: Any, tmp_path: Path) -> Iterator[Path]:
    """MEDIA_ROOT is a fresh directory, served at /media/, with the upload view; the process
    umask is 077, as in a hardened container."""
    from django.test import override_settings

    root = tmp_path / "media"
    root.mkdir()
    old = os.umask(0o077)
    try:
        with override_settings(MEDIA_ROOT=str(root), ROOT_URLCONF="dj_urls_upload",
                               FILE_UPLOAD_PERMISSIONS=None):  # fmt: skip
            yield root
    finally:
        os.umask(old)


def test_a_large_upload_is_stored_0644_under_a_safe_name_and_served(upload_site: Path) -> None:
    """3 MB is past FILE_UPLOAD_MAX_MEMORY_SIZE: Django streams it to a 0600 temporary file
    and moves it into place; the storage still leaves it readable (0644) in a 0755 folder."""
    from django.test import Client

    data = b"%PDF-1.4\n" + bytes(range(256)) * (3 * 4096)
    upload = SimpleUploadedFile("../../Relatório final\u202e.PDF", data)
    response = Client().post("/upload/", {"attachment": upload})
    assert response.status_code == 200, response.content
    name = response.json()["name"]
    assert name == "chat/Relatório_final.pdf"
    assert (upload_site / name).stat().st_mode & 0o777 == 0o644
    assert (upload_site / "chat").stat().st_mode & 0o777 == 0o755
    served = Client().get("/media/chat/Relat%C3%B3rio_final.pdf")
    assert b"".join(served.streaming_content) == data  # type: ignore[attr-defined]


def test_a_rejected_upload_is_a_400_naming_the_problem_and_stores_nothing(
    upload_site: Path,
) -> None:
    from django.test import Client

    upload = SimpleUploadedFile("cat.jpg", b"<html><script>alert(1)</script></html>")
    response = Client().post("/upload/", {"attachment": upload})
    assert response.status_code == 400
    assert "named .jpg but its content is a markup file" in response.json()["errors"][0]
    assert list(upload_site.iterdir()) == []


def test_an_uploaded_photo_loses_its_gps_position(upload_site: Path) -> None:
    from django.test import Client

    upload = SimpleUploadedFile("me.jpg", jpeg((40, 20), _gps_exif()))
    name = Client().post("/upload/", {"attachment": upload}).json()["name"]
    with Image.open(upload_site / name) as stored:
        assert not stored.getexif().get_ifd(0x8825)
