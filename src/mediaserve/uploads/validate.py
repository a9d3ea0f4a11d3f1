"""Upload checks that need no framework: what a file really is, whether it may be kept, and
a name that is safe to store it under.

What a file is comes from its first bytes (magic numbers), never from the name or the
Content-Type the client sent: a ``.jpg`` holding HTML is refused here, and ``nosniff`` on
delivery covers anything that got in before. The Django validators and storage built on
this live in :mod:`mediaserve.django.validators`.

Default kinds and size limits are the WhatsApp Cloud API's media limits, read from
:mod:`mediaserve.policy.platforms` (the doctor reads the same table), so what a CRM accepts
can also be sent on WhatsApp:

========= =======================================
kind      extensions
========= =======================================
image     jpg, jpeg, png
video     mp4, 3gp
audio     aac, amr, mp3, m4a, ogg, opus
document  pdf, doc(x), xls(x), ppt(x), txt, csv
sticker   webp (animated ones get their own limit)
========= =======================================
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..policy.platforms import KB, MB, WHATSAPP, WHATSAPP_STICKER

__all__ = [
    "DEFAULT_LIMITS",
    "EXTENSIONS",
    "UploadProblem",
    "UploadRules",
    "check_upload",
    "is_animated_webp",
    "markup_in",
    "safe_name",
    "sniff",
]

#: extension -> (kind, the sniffed formats that extension may hold).
EXTENSIONS: dict[str, tuple[str, frozenset[str]]] = {
    "jpg": ("image", frozenset({"jpeg"})),
    "jpeg": ("image", frozenset({"jpeg"})),
    "png": ("image", frozenset({"png"})),
    "webp": ("sticker", frozenset({"webp"})),
    "mp4": ("video", frozenset({"mp4"})),
    "3gp": ("video", frozenset({"3gp", "mp4"})),
    "aac": ("audio", frozenset({"aac"})),
    "amr": ("audio", frozenset({"amr"})),
    "mp3": ("audio", frozenset({"mp3"})),
    "m4a": ("audio", frozenset({"m4a", "mp4"})),
    "ogg": ("audio", frozenset({"ogg"})),
    "opus": ("audio", frozenset({"ogg"})),
    "pdf": ("document", frozenset({"pdf"})),
    "doc": ("document", frozenset({"ole"})),
    "xls": ("document", frozenset({"ole"})),
    "ppt": ("document", frozenset({"ole"})),
    "docx": ("document", frozenset({"zip"})),
    "xlsx": ("document", frozenset({"zip"})),
    "pptx": ("document", frozenset({"zip"})),
    "txt": ("document", frozenset({"text"})),
    "csv": ("document", frozenset({"text"})),
}

_BINARY_DOC = frozenset({"pdf"})

#: kind -> largest size in bytes. "sticker" is the static limit; animated stickers get
#: ``ANIMATED_STICKER_LIMIT``.
DEFAULT_LIMITS: dict[str, int] = {kind.name: kind.max_bytes for kind in WHATSAPP}
ANIMATED_STICKER_LIMIT = WHATSAPP_STICKER.max_bytes_for(animated=True)

#: Bytes a sniff looks at: enough for every signature below and a text check.
SNIFF_BYTES = 4096

# ISO base media file format (MP4 family): "ftyp" at offset 4, then the major brand.
_FTYP_BRANDS = {
    b"isom": "mp4", b"iso2": "mp4", b"mp41": "mp4", b"mp42": "mp4", b"avc1": "mp4",
    b"M4V ": "mp4", b"dash": "mp4", b"M4A ": "m4a", b"M4B ": "m4a",
    b"3gp4": "3gp", b"3gp5": "3gp", b"3gp6": "3gp", b"3gp7": "3gp", b"3g2a": "3gp",
    b"qt  ": "mov", b"heic": "heic", b"heix": "heic", b"mif1": "heic", b"avif": "avif",
}  # fmt: skip
# C0 controls other than tab, LF, FF, CR, and DEL: present in binary formats, not in text.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# Markup a browser would render: never text, whatever the extension. Two readings of the
# sniff window (SNIFF_BYTES), since a "text" upload is served as text/plain and a browser or
# a download tool that ignores nosniff would sniff it as HTML:
# * at the start, after a byte order mark and white space: the tags the WHATWG MIME
#   Sniffing Standard (§7.1, "identifying a resource with an unknown MIME type") reads as
#   HTML there, a comment among them, and XML/SVG;
# * anywhere in the window: tags that run script, load content or make a document, so
#   "<!-- x --><script>", a CSV row holding "<iframe ...>" or a <script> after a first line
#   of prose are found too. Short prose tags (<b>, <a>, <p>) count only at the start: "if
#   a<b then" is text.
_BOM = b"\xef\xbb\xbf"
_TAG_END = rb"(?=[\s/>]|\Z)"
_LEADING_MARKUP = re.compile(
    rb"\s*(<!doctype\s+html|<\?xml|<!--|<(?:html|head|script|iframe|h1|div|font|table|a|style"
    rb"|title|b|body|br|p|svg)" + _TAG_END + rb")",
    re.I,
)
_ACTIVE_MARKUP = re.compile(
    rb"<(?:!doctype|\?xml|script|iframe|frame|frameset|object|embed|applet|svg|math|html|head"
    rb"|body|style|link|meta|base|form|img|image|video|audio|source|template|portal|xsl:\w+)"
    + _TAG_END,
    re.I,
)


def sniff(head: bytes) -> str | None:
    """The format the first bytes of a file announce, or None when no signature matches.

    Signatures are the formats' own specifications (JPEG SOI, PNG's 8-byte signature,
    RIFF/WEBP, ISO-BMFF ``ftyp``, ``%PDF-``, OLE2 compound files, ZIP local headers, Ogg
    ``OggS``, ``#!AMR``, MPEG audio frame sync/ID3, ADTS).
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "mp4-family")
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "ebml"  # WebM / Matroska
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return "mp3"  # MPEG-1/2 Layer III frame sync, or an ID3v2 tag in front of one
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS frame sync (layer bits 00)
    if markup_in(head) is not None:
        return "markup"
    if head and not _BINARY.search(head):
        # UTF-8, or a legacy 8-bit encoding (Excel's CSV export is Windows-1252): both are
        # text once control characters other than tab and line breaks are absent.
        return "text"
    return None


def markup_in(head: bytes) -> tuple[int, str] | None:
    """``(offset, tag)`` of the first markup a browser would render in the sniff window, or
    None: at the start (after a byte order mark and white space) any HTML, XML or SVG
    opening; anywhere else a tag that runs script, loads content or makes a document."""
    window = head[:SNIFF_BYTES]
    start = len(_BOM) if window.startswith(_BOM) else 0
    leading = _LEADING_MARKUP.match(window, start)
    if leading is not None:
        return leading.start(1), _shown(leading.group(1))
    found = _ACTIVE_MARKUP.search(window, start)
    if found is not None:
        return found.start(), _shown(found.group(0))
    return None


def _shown(tag: bytes) -> str:
    return tag.decode("ascii", "replace").lower()


def is_animated_webp(head: bytes) -> bool:
    """Whether a WebP is animated: a VP8X chunk first, with its animation flag (0x02) set."""
    return head[12:16] == b"VP8X" and len(head) > 20 and bool(head[20] & 0x02)


@dataclass(frozen=True)
class UploadProblem:
    """Why an upload is refused: ``message`` is for the person uploading (what was wrong,
    what is allowed); ``code`` is stable for programs (Django's ValidationError code)."""

    code: str
    message: str


@dataclass(frozen=True)
class UploadRules:
    """Which extensions may be uploaded and how large each kind may be."""

    allowed: frozenset[str] = field(default_factory=lambda: frozenset(EXTENSIONS))
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    animated_sticker_limit: int = ANIMATED_STICKER_LIMIT

    def __post_init__(self) -> None:
        unknown = sorted(set(self.allowed) - set(EXTENSIONS))
        if unknown:
            raise ValueError(
                f"no content check is known for {', '.join(unknown)}; "
                f"known: {', '.join(sorted(EXTENSIONS))}"
            )

    def allowed_text(self) -> str:
        return ", ".join(f".{ext}" for ext in sorted(self.allowed))


def _size_text(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.3g} MB"
    if size >= KB:
        return f"{size / KB:.3g} KB"
    return f"{size} bytes"


def extension_of(name: str) -> str:
    return os.path.splitext(name)[1].lower().lstrip(".")


def check_upload(
    name: str, head: bytes, size: int, rules: UploadRules | None = None
) -> tuple[str, UploadProblem | None]:
    """``(kind, problem)`` for an upload named ``name`` of ``size`` bytes starting with
    ``head`` (at least ``SNIFF_BYTES`` of it, or the whole file); problem None when it may be
    kept. Pure: the caller reads the bytes."""
    rules = rules or UploadRules()
    ext = extension_of(name)
    if ext not in rules.allowed:
        shown = f"'.{ext}' files" if ext else "files without an extension"
        return "", UploadProblem(
            "extension", f"{shown} are not accepted. Allowed: {rules.allowed_text()}."
        )
    kind, formats = EXTENSIONS[ext]
    found = sniff(head)
    if found == "markup" and "text" in formats:
        offset, tag = markup_in(head) or (0, "<")
        others = sorted(e for e in rules.allowed if EXTENSIONS[e] == ("document", _BINARY_DOC))
        instead = f", or send it as {' / '.join('.' + e for e in others)}" if others else ""
        return kind, UploadProblem(
            "content",
            f"The file is named .{ext} but contains HTML markup ({tag!r} at byte {offset}) "
            f"that a browser could render as a page. Remove the markup{instead}.",
        )
    if found not in formats:
        what = "empty" if size == 0 else (f"a {found} file" if found else "of an unknown type")
        return kind, UploadProblem(
            "content",
            f"The file is named .{ext} but its content is {what}. Upload a real "
            f".{ext} file, or one of: {rules.allowed_text()}.",
        )
    limit = rules.limits.get(kind, DEFAULT_LIMITS[kind])
    label = kind
    if kind == "sticker" and is_animated_webp(head):
        limit, label = rules.animated_sticker_limit, "animated sticker"
    if size > limit:
        return kind, UploadProblem(
            "size",
            f"The file is {_size_text(size)}; {label} files may be at most {_size_text(limit)}.",
        )
    return kind, None


# Characters kept in a stored name: letters and digits of any script, "-", "_" and ".".
_UNSAFE_CHARS = re.compile(r"[^\w.-]+")
#: Bytes per path component on Linux/macOS file systems (NAME_MAX), minus room for the
#: "_abc1234" a storage appends on a collision.
MAX_NAME_BYTES = 255 - 8


def safe_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A name that is safe to store and to serve: the last path component of ``name``,
    NFC-normalised (macOS sends NFD: "é" as "e" + U+0301), without control characters,
    quotes, spaces or leading dots (no dotfiles), the extension lower-cased, at most
    ``max_bytes`` UTF-8 bytes. Never empty.
    """
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").lstrip(".")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = _UNSAFE_CHARS.sub("_", stem).strip("._-") or "file"
    ext = _UNSAFE_CHARS.sub("", ext).lower()[:16]
    suffix = f".{ext}" if ext else ""
    budget = max_bytes - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")[:budget]
    stem = encoded.decode("utf-8", "ignore").rstrip("._-") or "file"  # no half characters
    return stem + suffix
