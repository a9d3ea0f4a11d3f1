"""What a file's first bytes say it is, and an image's size read from its header.

Meta's crawler and WhatsApp look at the bytes, not at the name: a ``.jpg`` that is really
a WebP, or an HTML error page saved under an image name, is rejected even though every
server along the way answered 200. Only the leading bytes are needed (at most 512 KiB for a
JPEG whose size marker sits after large EXIF/ICC segments), which is what a crawler's
``Range: bytes=0-524288`` returns too. Standard library only: no Pillow needed.
"""

from __future__ import annotations

import struct

from ..uploads.validate import sniff

__all__ = ["FORMAT_TYPES", "image_size", "same_family", "sniffed_type"]

#: The format names of :func:`mediaserve.uploads.sniff` as the content types a name or a
#: Content-Type header would say. One reading of the signatures for uploads and the doctor:
#: a file the upload check calls MP3 is audio/mpeg here, and only then.
FORMAT_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "wav": "audio/wav",
    "mp4": "video/mp4",
    "mp4-family": "video/mp4",
    "m4a": "audio/mp4",
    "3gp": "video/3gpp",
    "mov": "video/quicktime",
    "heic": "image/heic",
    "avif": "image/avif",
    "pdf": "application/pdf",
    "ole": "application/x-ole-storage",  # doc/xls/ppt
    "zip": "application/zip",  # also docx/xlsx/pptx
    "ogg": "audio/ogg",
    "amr": "audio/amr",
    "ebml": "video/webm",  # WebM or Matroska
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
}

_OFFICE_ZIP = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/zip",
}
_OFFICE_OLE = {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}


def sniffed_type(data: bytes) -> str | None:
    """The content type the leading bytes prove, or None when they prove nothing.

    The signatures are the upload check's (:func:`mediaserve.uploads.sniff`); the doctor only
    adds what it looks for beyond uploads: BMP, and HTML (an error page saved under an image
    name) or SVG/XML told apart, HTML also when it does not start the file. Plain text
    proves nothing here: every name may hold it.
    """
    found = sniff(data)
    if found in FORMAT_TYPES:
        return FORMAT_TYPES[found]
    if data[:2] == b"BM":
        return "image/bmp"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "text/html"
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return "image/svg+xml" if b"<svg" in data[:2048].lower() else "application/xml"
    return None


def base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def same_family(declared: str, sniffed: str) -> bool:
    """Whether a declared type (from a name or a header) agrees with the sniffed one.

    Containers are shared: an ``.m4a`` is an MP4, a ``.docx`` a ZIP, a ``.mkv`` an EBML
    file like WebM, so those pairs agree.
    """
    declared = base_type(declared)
    if declared == sniffed:
        return True
    if sniffed == "application/zip" and declared in _OFFICE_ZIP:
        return True
    if sniffed == "application/x-ole-storage" and declared in _OFFICE_OLE:
        return True
    mp4ish = {"video/mp4", "audio/mp4", "video/quicktime", "video/3gpp", "video/3gpp2"}
    if sniffed in mp4ish and declared in mp4ish:
        return True
    if sniffed == "video/webm" and declared in ("video/webm", "audio/webm", "video/x-matroska"):
        return True
    if sniffed == "audio/ogg" and declared in ("audio/ogg", "audio/opus", "video/ogg"):
        return True
    return sniffed == "image/heic" and declared == "image/heif"


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG, JPEG, GIF or WebP header; None if not found."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        if marker == 0xDA:  # start of scan: no frame header before it
            return None
        i += 2 + length
    return None
