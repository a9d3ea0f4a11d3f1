"""mediaserve.policy.platforms: upload validation and the doctor's consumer hop read one
table of Meta's limits, so what one accepts the other does not report (and back)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mediaserve.doctor.consumer import _rules
from mediaserve.doctor.fetch import Response
from mediaserve.http.content_types import guess_type
from mediaserve.policy.platforms import (
    KB,
    MB,
    META_CATALOG_IMAGE,
    WHATSAPP,
    WHATSAPP_STICKER,
    MediaKind,
    whatsapp_kind,
)
from mediaserve.uploads.validate import EXTENSIONS, check_upload, is_animated_webp


def webp(size: tuple[int, int] = (512, 512), *, frames: int = 1) -> bytes:
    images = [Image.new("RGBA", size, (i * 60, 0, 0, 255)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="WEBP", save_all=frames > 1, append_images=images[1:])
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 600), (10, 200, 30)).save(out, format="JPEG")
    return out.getvalue()


# One real file start per kind: (upload name, Content-Type served, first bytes).
SAMPLES: dict[str, tuple[str, str, bytes]] = {
    "image": ("a.jpg", "image/jpeg", jpeg()),
    "video": ("a.mp4", "video/mp4", b"\x00\x00\x00\x18ftypisom" + bytes(20)),
    "audio": ("a.mp3", "audio/mpeg", b"ID3\x04\x00" + bytes(20)),
    "document": ("a.pdf", "application/pdf", b"%PDF-1.7\n" + bytes(20)),
    "sticker": ("a.webp", "image/webp", webp()),
    "animated sticker": ("a.webp", "image/webp", webp(frames=3)),
}


def doctor_verdict(content_type: str, head: bytes, size: int) -> tuple[str, list[str]]:
    """The worst verdict of the consumer hop's WhatsApp rules for a served file of ``size``."""
    answer = Response(
        url="https://shop.example.com/media/x", method="GET", status=206, reason="",
        headers=[("Content-Type", content_type), ("Content-Range", f"bytes 0-9/{size}"),
                 ("ETag", '"x"')],
        length=len(head), sha256="", head=head, elapsed=0.0,
    )  # fmt: skip
    found = _rules("whatsapp", answer, None, None)
    worst = "fail" if any(f.verdict == "fail" for f in found) else "pass"
    return worst, [f.summary for f in found]


def limit_of(sample: str) -> int:
    return WHATSAPP_STICKER.max_bytes_for(animated=True) if sample == "animated sticker" else (
        next(k for k in WHATSAPP if k.name == sample).max_bytes
    )  # fmt: skip


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_uploads_and_doctor_draw_the_line_at_the_same_byte(sample: str) -> None:
    """At the limit both accept; one byte over, both refuse."""
    name, content_type, head = SAMPLES[sample]
    limit = limit_of(sample)
    assert check_upload(name, head, limit)[1] is None
    assert doctor_verdict(content_type, head, limit)[0] == "pass"
    problem = check_upload(name, head, limit + 1)[1]
    assert problem is not None
    assert problem.code == "size"
    verdict, summaries = doctor_verdict(content_type, head, limit + 1)
    assert verdict == "fail", summaries


def test_a_static_sticker_over_100_kb_is_refused_by_both() -> None:
    """The two used to disagree: uploads said 100 KB, the doctor passed 400 KB stickers."""
    head = webp()
    assert not is_animated_webp(head)
    assert check_upload("s.webp", head, 400 * KB)[1] is not None
    verdict, summaries = doctor_verdict("image/webp", head, 400 * KB)
    assert verdict == "fail"
    assert "400 KB is over the static sticker limit of 100 KB" in summaries


def test_an_animated_sticker_may_be_500_kb_in_both() -> None:
    head = webp(frames=3)
    assert is_animated_webp(head)
    assert check_upload("s.webp", head, 400 * KB)[1] is None
    assert doctor_verdict("image/webp", head, 400 * KB)[0] == "pass"


def test_a_sticker_must_be_512_px_square() -> None:
    verdict, summaries = doctor_verdict("image/webp", webp((300, 300)), 10 * KB)
    assert verdict == "fail"
    assert "sticker: 300x300 px, WhatsApp needs exactly 512x512" in summaries
    assert doctor_verdict("image/webp", webp(), 10 * KB)[0] == "pass"


def test_limit_messages_keep_their_units() -> None:
    """MB limits read as before ("5.3 MB is over the image limit of 5 MB")."""
    _, summaries = doctor_verdict("image/jpeg", jpeg(), int(5.3 * MB))
    assert "5.3 MB is over the image limit of 5 MB" in summaries


def test_every_upload_extension_is_a_type_its_kind_accepts() -> None:
    """An upload kept as a "video" must be a type WhatsApp takes as video. CSV is the one
    deliberate extra: CRMs store exports as documents, Meta lists only text/plain."""
    for ext, (kind_name, _formats) in EXTENSIONS.items():
        kind = next(k for k in WHATSAPP if k.name == kind_name)
        base = guess_type(f"x.{ext}").split(";", 1)[0]
        if ext == "csv":
            assert base == "text/csv"
            continue
        assert base in kind.types, (ext, base, kind.name)


def test_meta_documented_numbers() -> None:
    """The table as Meta documents it (WhatsApp Cloud API "Supported media types")."""
    limits = {kind.name: kind.max_bytes for kind in WHATSAPP}
    assert limits == {"image": 5 * MB, "video": 16 * MB, "audio": 16 * MB,
                      "sticker": 100 * KB, "document": 100 * MB}  # fmt: skip
    assert WHATSAPP_STICKER.animated_max_bytes == 500 * KB
    assert WHATSAPP_STICKER.exact_px == (512, 512)
    assert (META_CATALOG_IMAGE.max_bytes, META_CATALOG_IMAGE.min_side_px) == (8 * MB, 500)


def test_kind_lookup_takes_the_first_kind_accepting_either_type() -> None:
    assert whatsapp_kind("image/webp", None) is WHATSAPP_STICKER
    assert whatsapp_kind("text/html", "image/png") is next(k for k in WHATSAPP if k.name == "image")
    assert whatsapp_kind("video/webm", None) is None


def test_max_bytes_for_ignores_animation_where_it_has_no_limit() -> None:
    kind = MediaKind("x", frozenset({"a/b"}), 10)
    assert kind.max_bytes_for(animated=True) == 10
