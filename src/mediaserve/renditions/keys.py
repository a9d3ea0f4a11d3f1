"""Where a rendition lives and how its URL reads: content-addressed, so it never changes.

A rendition's name under the media root (and its URL under MEDIA_URL) is::

    renditions/<preset>/<key>/<source name>.<ext>     one format: a stored file, immutable
    renditions/<preset>/<key>/<source name>           the preset's formats, chosen per Accept

``key`` is the first 24 hex digits of SHA-256 over the source's SHA-256, the preset's
``spec()`` and the source's name: a new photo behind the same name, or an edited preset,
gives a new URL (Meta never re-fetches an unchanged URL), while an unchanged photo keeps
its URL across deploys. The name is in the hash so the two forms cannot be confused: the
key of ``a.jpg`` as WebP (``a.jpg.webp``) is not the key of a source named ``a.jpg.webp``.

The source name stays readable in the URL (a support person can tell which photo it is);
the directory is ``renditions``, not a dot directory, since every lookup refuses dotfiles.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .presets import EXTENSIONS, Preset

__all__ = [
    "DEFAULT_DIRECTORY",
    "RenditionName",
    "digest_of",
    "parse_name",
    "rendition_key",
    "rendition_name",
]

DEFAULT_DIRECTORY: Final = "renditions"
_KEY: Final = re.compile(r"^[0-9a-f]{24}$")
_FORMAT_OF_EXT: Final = {ext: fmt for fmt, ext in EXTENSIONS.items()}


def digest_of(data: bytes) -> str:
    """The source's SHA-256, hex: what the key is derived from."""
    return hashlib.sha256(data).hexdigest()


def rendition_key(source_digest: str, preset: Preset, source_name: str) -> str:
    material = f"{source_digest}\n{preset.spec()}\n{source_name}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(material).hexdigest()[:24]


def rendition_name(
    source_name: str,
    preset: Preset,
    source_digest: str,
    fmt: str | None,
    directory: str = DEFAULT_DIRECTORY,
) -> str:
    """The rendition's name relative to the media root; ``fmt=None`` names the negotiated
    form of a many-format preset (a one-format preset has only the stored form)."""
    key = rendition_key(source_digest, preset, source_name)
    base = f"{directory}/{preset.name}/{key}/{source_name}"
    if fmt is None and preset.negotiated:
        return base
    return f"{base}.{EXTENSIONS[fmt or preset.fallback]}"


@dataclass(frozen=True, slots=True)
class RenditionName:
    """A rendition name taken apart: which preset, key, source and format (None: chosen
    per ``Accept``)."""

    preset: Preset
    key: str
    source_name: str
    fmt: str | None

    def matches(self, source_digest: str) -> bool:
        """Whether the key is the one of the source's current bytes (else it is an old or
        forged URL, never built)."""
        return rendition_key(source_digest, self.preset, self.source_name) == self.key


def parse_name(
    name: str, presets: Mapping[str, Preset], directory: str = DEFAULT_DIRECTORY
) -> list[RenditionName]:
    """The readings of ``name`` (relative to the media root) as a rendition, most specific
    first: ``x.jpg.webp`` is the WebP of ``x.jpg`` or the negotiated ``x.jpg.webp``; only
    the key (checked against the source) tells which. Empty when it is none."""
    parts = name.split("/", 3)
    if len(parts) != 4 or parts[0] != directory:
        return []
    _, preset_name, key, rest = parts
    preset = presets.get(preset_name)
    if preset is None or not _KEY.match(key) or not rest:
        return []
    readings: list[RenditionName] = []
    stem, dot, ext = rest.rpartition(".")
    fmt = _FORMAT_OF_EXT.get(ext) if dot else None
    if fmt is not None and fmt in preset.formats and stem:
        readings.append(RenditionName(preset, key, stem, fmt))
    if preset.negotiated:
        readings.append(RenditionName(preset, key, rest, None))
    return readings
