"""What a rendition is: a named preset (box, fit, formats, quality, byte cap), and the
built-in presets for Meta's catalog, WhatsApp and browsers.

Only declared presets can be built or requested: a resize endpoint that takes a width and a
height from the query string lets anyone on the internet make the server decode and encode
without bound. The built-in presets take their limits from ``policy/platforms.py``, the one
table the upload checks and the doctor read too, so none of the numbers is spelled twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ..policy.platforms import (
    KB,
    LINK_PREVIEW_IMAGE,
    MB,
    META_CATALOG_IMAGE,
    WHATSAPP_IMAGE,
    WHATSAPP_STICKER,
)

__all__ = [
    "BUILTIN_PRESETS",
    "CONTENT_TYPES",
    "EXTENSIONS",
    "FITS",
    "FORMATS",
    "Preset",
    "PresetError",
    "decimal_bytes",
    "parse_color",
    "preset_from_dict",
]

#: How the source is fitted into the box: ``fit`` keeps it whole inside the box, ``fill``
#: covers the box and crops the overflow (centred), ``pad`` keeps it whole and centres it on
#: a canvas of exactly the box on ``background``.
FITS: Final = ("fit", "fill", "pad")
#: Output formats, with their Content-Type and the file extension of the stored rendition.
CONTENT_TYPES: Final[Mapping[str, str]] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}
FORMATS: Final = tuple(CONTENT_TYPES)
EXTENSIONS: Final[Mapping[str, str]] = {
    "jpeg": "jpg",
    "png": "png",
    "webp": "webp",
    "avif": "avif",
}
#: A preset name is one URL path segment: readable, no dots (dot directories are refused).
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: The largest box side a preset may declare: 8192 px is more than any platform asks for,
#: and caps what one declared preset can cost (8192² RGBA is 256 MB).
MAX_SIDE: Final = 8192


class PresetError(ValueError):
    """A preset that cannot work; the message names the field and what it must be."""


def parse_color(value: str) -> tuple[int, int, int, int]:
    """``#rgb``, ``#rrggbb``, ``#rrggbbaa`` or ``transparent`` as RGBA."""
    text = value.strip().lower()
    if text == "transparent":
        return (0, 0, 0, 0)
    match = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})", text)
    if match is None:
        raise PresetError(
            f"background {value!r} is not a colour: use '#rrggbb' (e.g. '#ffffff') or 'transparent'"
        )
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 6:
        digits += "ff"
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return (r, g, b, a)


@dataclass(frozen=True, slots=True)
class Preset:
    """One declared rendition.

    ``formats`` lists what may be served, best first; the LAST one is the fallback every
    client can decode (JPEG for Meta's crawler and WhatsApp), and the only one a client that
    names none of the others in ``Accept`` gets. A one-format preset is never negotiated.
    """

    name: str
    width: int
    height: int
    fit: str = "fit"
    formats: tuple[str, ...] = ("jpeg",)
    quality: int = 82
    #: The encoded rendition must not exceed this many bytes: quality, then size, is lowered
    #: until it fits (``CannotFit`` when it never does).
    max_bytes: int | None = None
    #: The colour alpha is flattened onto (JPEG) and ``pad`` fills with.
    background: str = "#ffffff"
    #: Enlarge sources smaller than the box (``fit``/``pad``/``fill``): off by default, since
    #: enlarging adds bytes and no detail.
    upscale: bool = False
    #: The smallest width and height the output may have (Meta's catalog: 500 px): a smaller
    #: result is enlarged up to it, and padded on ``background`` where enlarging would
    #: overflow the box.
    min_side: int | None = None
    #: The lowest quality the byte cap may go down to before the size is lowered instead.
    min_quality: int = 40
    rgba: tuple[int, int, int, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PresetError(
                f"preset name {self.name!r} must be 1-64 lower-case letters, digits, '-' or"
                " '_' (it is a URL path segment), e.g. 'thumb-400'"
            )
        for side in ("width", "height"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
                raise PresetError(f"{side} must be a whole number of pixels from 1 to {MAX_SIDE}")
        if self.fit not in FITS:
            raise PresetError(f"fit {self.fit!r} must be one of {', '.join(FITS)}")
        if not self.formats or not isinstance(self.formats, tuple):
            raise PresetError("formats must be a non-empty list, e.g. ['webp', 'jpeg']")
        unknown = [f for f in self.formats if f not in CONTENT_TYPES]
        if unknown:
            raise PresetError(
                f"format(s) {', '.join(map(repr, unknown))} unknown; use {', '.join(FORMATS)}"
            )
        if len(set(self.formats)) != len(self.formats):
            raise PresetError("formats lists a format twice")
        for name in ("quality", "min_quality"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
                raise PresetError(f"{name} must be from 1 to 100")
        if self.min_quality > self.quality:
            raise PresetError("min_quality must not exceed quality")
        if self.max_bytes is not None and (
            isinstance(self.max_bytes, bool)
            or not isinstance(self.max_bytes, int)
            or self.max_bytes < 1024
        ):
            raise PresetError("max_bytes must be a number of bytes of at least 1024, or None")
        if self.min_side is not None and (
            isinstance(self.min_side, bool)
            or not isinstance(self.min_side, int)
            or not 1 <= self.min_side <= min(self.width, self.height)
        ):
            raise PresetError("min_side must be a number of pixels no larger than the box, or None")
        object.__setattr__(self, "rgba", parse_color(self.background))

    @property
    def fallback(self) -> str:
        """The format every client gets when it names none of the others."""
        return self.formats[-1]

    @property
    def negotiated(self) -> bool:
        """More than one format: the plain rendition URL is answered per ``Accept``."""
        return len(self.formats) > 1

    def spec(self) -> str:
        """Every field that changes the output, as one canonical string: its hash is part of
        the rendition's URL, so editing a preset gives every rendition a new URL."""
        return (
            f"v1;{self.width}x{self.height};{self.fit};{','.join(self.formats)};q{self.quality}"
            f";min-q{self.min_quality};max{self.max_bytes};bg{self.background.lower()}"
            f";up{int(self.upscale)};min{self.min_side}"
        )

    def spec_digest(self) -> str:
        return hashlib.sha256(self.spec().encode()).hexdigest()[:8]


_FIELDS: Final = (
    "width",
    "height",
    "fit",
    "formats",
    "quality",
    "max_bytes",
    "background",
    "upscale",
    "min_side",
    "min_quality",
)


def preset_from_dict(name: str, values: Mapping[str, Any], base: Preset | None = None) -> Preset:
    """A preset from a settings dict (``MEDIASERVE["RENDITIONS"][name]``), over ``base``
    (the built-in preset of that name, so ``{"quality": 90}`` tunes one field)."""
    if not isinstance(values, Mapping):
        raise PresetError("a preset is a dict, e.g. {'width': 400, 'height': 400}")
    unknown = sorted(str(k) for k in values if k not in _FIELDS)
    if unknown:
        raise PresetError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}")
    fields = dict(values)
    if "formats" in fields:
        formats = fields["formats"]
        if isinstance(formats, str):
            formats = [formats]
        if not isinstance(formats, (list, tuple)):
            raise PresetError("formats must be a list, e.g. ['webp', 'jpeg']")
        fields["formats"] = tuple(str(f).lower() for f in formats)
    if base is not None:
        return replace(base, name=name, **fields)
    missing = [k for k in ("width", "height") if k not in fields]
    if missing:
        raise PresetError(f"a new preset needs {' and '.join(missing)} (pixels)")
    return Preset(name=name, **fields)


def decimal_bytes(limit: int) -> int:
    """A platform limit (``policy/platforms.py`` reads MB and KB as 1024-based, the generous
    reading for refusing uploads) in its strict decimal reading, for producing files: a
    rendition built to "5 MB" must pass a platform that counts 5,000,000 bytes."""
    if limit % MB == 0:
        return limit // MB * 1000 * 1000
    if limit % KB == 0:
        return limit // KB * 1000
    return limit


def _builtins() -> dict[str, Preset]:
    catalog_w, catalog_h = META_CATALOG_IMAGE.recommended_px or (1024, 1024)
    og_w, og_h = LINK_PREVIEW_IMAGE.recommended_px or (1200, 630)
    sticker_w, sticker_h = WHATSAPP_STICKER.exact_px or (512, 512)
    presets = [
        # Meta's catalog: JPEG, at least 500x500 px, a URL it fetches once.
        Preset(
            "meta-catalog",
            catalog_w,
            catalog_h,
            fit="fit",
            formats=("jpeg",),
            quality=85,
            max_bytes=decimal_bytes(META_CATALOG_IMAGE.max_bytes),
            min_side=META_CATALOG_IMAGE.min_side_px,
        ),
        # WhatsApp Cloud API image messages: JPEG up to 5 MB (WhatsApp recompresses anyway).
        Preset(
            "whatsapp-image",
            2048,
            2048,
            formats=("jpeg",),
            quality=85,
            max_bytes=decimal_bytes(WHATSAPP_IMAGE.max_bytes),
        ),
        # Static stickers: WebP of exactly 512x512 on a transparent canvas, at most 100 KB.
        Preset(
            "whatsapp-sticker",
            sticker_w,
            sticker_h,
            fit="pad",
            formats=("webp",),
            quality=80,
            max_bytes=decimal_bytes(WHATSAPP_STICKER.max_bytes),
            background="transparent",
            upscale=True,
            min_quality=20,
        ),
        # Link previews (og:image): 1200x630, the 1.91:1 card, under 600 KB.
        Preset(
            "og-image",
            og_w,
            og_h,
            fit="fill",
            formats=("jpeg",),
            quality=82,
            max_bytes=decimal_bytes(LINK_PREVIEW_IMAGE.max_bytes),
            upscale=True,
        ),
    ]
    # Browser thumbnails for srcset: AVIF, then WebP, then JPEG for everyone else.
    for side in (200, 400, 800):
        presets.append(
            Preset(f"thumb-{side}", side, side, formats=("avif", "webp", "jpeg"), quality=70)
        )
    return {p.name: p for p in presets}


#: The presets every project has; ``MEDIASERVE["RENDITIONS"]`` adds to them or tunes them.
BUILTIN_PRESETS: Final[Mapping[str, Preset]] = _builtins()
