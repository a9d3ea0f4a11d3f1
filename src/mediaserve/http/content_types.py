"""Content types for user media.

A curated table rather than :mod:`mimetypes`: the platform's table differs between
machines (``/etc/mime.types``), and a media server must answer the same everywhere.
The table covers what chat/CRM/catalog backends store: WhatsApp's accepted media types,
office documents and the common image formats.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

__all__ = [
    "ACTIVE_TYPES",
    "EXTENSION_TYPES",
    "FALLBACK_TYPE",
    "PASSIVE_EXTENSIONS",
    "extension_is_active",
    "guess_type",
    "is_active",
    "passive_extensions",
    "served_types",
]

FALLBACK_TYPE = "application/octet-stream"

_TABLE: dict[str, str] = {
    # images
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "jfif": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
    "heic": "image/heic",
    "heif": "image/heif",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "ico": "image/vnd.microsoft.icon",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "svg": "image/svg+xml",
    "svgz": "image/svg+xml",
    # video
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "3gp": "video/3gpp",
    "3gpp": "video/3gpp",
    "3g2": "video/3gpp2",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "ts": "video/mp2t",
    # audio (WhatsApp: aac, amr, mp3, mp4 audio, ogg/opus)
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "amr": "audio/amr",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "weba": "audio/webm",
    # documents
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "rtf": "application/rtf",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "txt": "text/plain",
    "log": "text/plain",
    "md": "text/markdown",
    "json": "application/json",
    "zip": "application/zip",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar",
    "vcf": "text/vcard",
    "ics": "text/calendar",
    "epub": "application/epub+zip",
    # fonts
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    # active content: listed so the type is right, neutralised by the plan (see ACTIVE_TYPES)
    "html": "text/html",
    "htm": "text/html",
    "shtml": "text/html",
    "xhtml": "application/xhtml+xml",
    "xht": "application/xhtml+xml",
    "xml": "application/xml",
    "xsl": "application/xml",
    "xslt": "application/xslt+xml",
    "js": "text/javascript",
    "mjs": "text/javascript",
    "css": "text/css",
    "wasm": "application/wasm",
    "swf": "application/x-shockwave-flash",
}

# Types a browser executes (scripts, documents that can carry script or styles,
# plugins) or that it would sniff: served as attachments in a CSP sandbox so an
# upload cannot run on the app's origin. The fallback type is here because an
# unknown upload may be anything.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "text/css",
        "application/wasm",
        "application/x-shockwave-flash",
        FALLBACK_TYPE,
    }
)

# Text types get an explicit charset so browsers do not guess one (guessing is how
# UTF-7 style attacks used to work).
_TEXT_PREFIXES = ("text/",)
_TEXT_EXTRA = frozenset({"application/json", "application/xml", "image/svg+xml"})


def guess_type(name: str, overrides: dict[str, str] | None = None) -> str:
    """The Content-Type value for a file name, with ``; charset=utf-8`` for text types."""
    ext = posixpath.splitext(name)[1][1:].lower()
    override = overrides.get(ext) if overrides else None
    return _with_charset(override or _TABLE.get(ext, FALLBACK_TYPE))


@lru_cache(maxsize=256)
def _with_charset(base: str) -> str:
    if base.startswith(_TEXT_PREFIXES) or base in _TEXT_EXTRA:
        return f"{base}; charset=utf-8"
    return base


@lru_cache(maxsize=256)
def is_active(content_type: str) -> bool:
    """Whether a Content-Type (with or without parameters) must be neutralised."""
    return content_type.split(";", 1)[0].strip().lower() in ACTIVE_TYPES


# What generated proxy configs are made of (proxyconf/): a proxy picks headers by extension,
# so it gets the same table in that shape rather than a list of its own.

#: Every extension the table knows -> its base type (no parameters), read-only.
EXTENSION_TYPES: Mapping[str, str] = MappingProxyType(_TABLE)

#: The extensions served inline: extension -> base type. Every other name, known or not,
#: is neutralised (an unknown one gets FALLBACK_TYPE, which is active).
PASSIVE_EXTENSIONS: Mapping[str, str] = MappingProxyType(
    {ext: base for ext, base in _TABLE.items() if base not in ACTIVE_TYPES}
)


def _merged(overrides: Mapping[str, str] | None) -> Mapping[str, str]:
    # The same precedence as guess_type: an override wins over the table.
    return {**_TABLE, **overrides} if overrides else _TABLE


def extension_is_active(ext: str, overrides: Mapping[str, str] | None = None) -> bool:
    """Whether files named ``*.ext`` are neutralised (``ext`` without the dot, any case);
    the same verdict :func:`guess_type` and :func:`is_active` give for such a name."""
    return is_active(_merged(overrides).get(ext.lower(), FALLBACK_TYPE))


def passive_extensions(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """:data:`PASSIVE_EXTENSIONS` with ``overrides`` (ServeOptions.content_types) applied."""
    return {ext: base for ext, base in _merged(overrides).items() if not is_active(base)}


def served_types(overrides: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """Content-Type value as sent (charset included) -> its extensions, in table order, with
    ``overrides`` applied. A proxy config sets each value for its extensions and
    FALLBACK_TYPE for any other name.
    """
    grouped: dict[str, list[str]] = {}
    for ext, base in _merged(overrides).items():
        grouped.setdefault(_with_charset(base), []).append(ext)
    return {value: tuple(exts) for value, exts in grouped.items()}
