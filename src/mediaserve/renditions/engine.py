"""Decode, correct, resize and encode one image for one preset: the only code that touches
pixels. Sans-IO apart from reading the source: no Django, no pipeline, no storage.

The Pillow engine is the baseline (Pillow is what every Django project already has);
pillow-heif, when installed, adds HEIC/HEIF input. What makes it fast and small is decoding
less: a JPEG is decoded by libjpeg at 1/2, 1/4 or 1/8 scale (``Image.draft``) when the
output is that much smaller, so a 12 MP photo made into a 1024 px rendition never exists as
36 MB of RGB in memory; other formats are shrunk with ``reducing_gap`` (a cheap box
reduction first, Lanczos for the last factor).

Correctness, in the order it is applied (``_prepare``):

1. pixel limit from the header, before any decoding (a decompression bomb is refused);
2. the first frame of an animation;
3. EXIF orientation applied, then every metadata block dropped (EXIF, XMP, comments: a
   phone's GPS position never reaches a rendition);
4. ICC profile converted to sRGB (CMYK with its profile, Display P3 from phones...); the
   output is untagged sRGB, which browsers and Meta read as sRGB;
5. modes made 8-bit: 16-bit, palette, CMYK without profile, 1-bit, LA;
6. alpha kept where the format has it, flattened onto the preset's background for JPEG.
"""

from __future__ import annotations

import importlib.util
import io
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, TypeAlias

from .presets import CONTENT_TYPES, Preset

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_SOURCE_BYTES",
    "CannotFit",
    "EngineMissing",
    "Rendered",
    "RenditionError",
    "TooManyPixels",
    "Undecodable",
    "engine_name",
    "render",
    "source_bytes",
]

#: 50 megapixels: a 48 MP phone photo (8000x6000) passes, a 20000x20000 bomb does not.
#: Decoding is about 4 bytes per pixel at the decoder's working size.
DEFAULT_MAX_PIXELS: Final = 50_000_000
#: Sources are read whole (they are hashed, and decoders want random access): 64 MB holds
#: a 48 MP JPEG or HEIC many times over, and bounds what one build holds in memory.
MAX_SOURCE_BYTES: Final = 64 * 1024 * 1024
#: Quality steps the byte cap tries, as fractions of the preset's range: few encodes.
_QUALITY_STEPS: Final = 4
#: Each size step of the byte cap keeps this share of the width and height.
_SIZE_STEP: Final = 0.85
_SIZE_TRIES: Final = 8
#: AVIF: libavif's speed 6 is ~10x faster than its default 0-4 for a few % more bytes.
_AVIF_SPEED: Final = 6
#: WebP: method 4 (the default) is the balance libwebp recommends.
_WEBP_METHOD: Final = 4

Source: TypeAlias = "bytes | bytearray | memoryview | Path | str | IO[bytes]"


class RenditionError(Exception):
    """A source that cannot become this rendition; ``status`` is the HTTP answer for it."""

    status = 500


class Undecodable(RenditionError):
    """Not an image any installed decoder reads (or a truncated one)."""

    status = 415


class TooManyPixels(RenditionError):
    """More pixels than the limit: refused from the header, before decoding."""

    status = 413


class CannotFit(RenditionError):
    """No quality or size step brings the encoded rendition under the preset's byte cap."""

    status = 422


class EngineMissing(RenditionError):
    """The engine asked for is not installed: a 503 naming the install, not a traceback
    (a crawler retries later, once the server has it)."""

    status = 503


@dataclass(frozen=True, slots=True)
class Rendered:
    """An encoded rendition."""

    data: bytes
    fmt: str
    width: int
    height: int
    #: The quality it was encoded at (the byte cap may have lowered it); None for PNG.
    quality: int | None

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]


def source_bytes(source: Source) -> bytes:
    """The whole source: renditions are hashed by their bytes anyway, and decoders want
    random access."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return Path(source).read_bytes()
    return source.read()


def engine_name(requested: str | None = None) -> str:
    """The engine used: ``requested``, else ``$MEDIASERVE_RENDITION_ENGINE``, else pillow."""
    name = (requested or os.environ.get("MEDIASERVE_RENDITION_ENGINE") or "pillow").lower()
    if name not in _ENGINES:
        raise EngineMissing(f"unknown rendition engine {name!r}; use one of {', '.join(_ENGINES)}")
    return name


def render(
    source: Source,
    preset: Preset,
    fmt: str | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    engine: str | None = None,
) -> Rendered:
    """``source`` as ``preset`` in ``fmt`` (default: the preset's fallback format, the one
    every client decodes). Raises a ``RenditionError`` subclass, never a decoder's own
    exception."""
    chosen = fmt or preset.fallback
    if chosen not in preset.formats:
        raise ValueError(f"preset {preset.name!r} has no format {chosen!r}")
    return _ENGINES[engine_name(engine)](source_bytes(source), preset, chosen, max_pixels)


# --- Pillow ------------------------------------------------------------------------------

_heif_lock = threading.Lock()
_heif_state: list[bool] = []


def _register_heif() -> None:
    """pillow-heif's opener, once per process, when installed (HEIC/HEIF input)."""
    if _heif_state:
        return
    with _heif_lock:
        if _heif_state:
            return
        try:
            import pillow_heif

            pillow_heif.register_heif_opener(thumbnails=False)
            ok = True
        except ImportError:
            ok = False
        _heif_state.append(ok)


def _open(data: bytes, max_pixels: int) -> Any:
    from PIL import Image, UnidentifiedImageError

    _register_heif()
    with warnings.catch_warnings():
        # Pillow's own bomb check warns, and raises at twice its global limit; ours is
        # explicit and per call (below), so the global one must neither warn nor race.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=None)
        except Image.DecompressionBombError as exc:
            raise TooManyPixels(
                f"the image is a decompression bomb ({exc}); refused before decoding"
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise Undecodable(
                f"not an image this server decodes ({type(exc).__name__}: {exc}); upload"
                " JPEG, PNG, WebP, AVIF, GIF or HEIC"
            ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixels(
            f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,}"
            " (MEDIASERVE['RENDITION_MAX_PIXELS']); refused before decoding"
        )
    return image


def _oriented(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The size after EXIF ``orientation`` is applied (5-8 swap the sides)."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _scale_for(preset: Preset, width: int, height: int) -> tuple[float, tuple[int, int]]:
    """The resize factor and the canvas size for a ``width`` x ``height`` (upright) source."""
    box_w, box_h = preset.width, preset.height
    fit_scale = min(box_w / width, box_h / height)
    if preset.fit == "fill":
        scale = max(box_w / width, box_h / height)
        if not preset.upscale:
            scale = min(scale, 1.0)
        return scale, (min(box_w, round(width * scale)), min(box_h, round(height * scale)))
    scale = fit_scale if preset.upscale else min(fit_scale, 1.0)
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    if preset.fit == "pad":
        return scale, (box_w, box_h)
    if preset.min_side is not None and min(out_w, out_h) < preset.min_side:
        # Enlarge up to min_side without leaving the box; pad what is still short.
        scale = max(scale, min(preset.min_side / min(width, height), fit_scale))
        out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
        return scale, (max(out_w, preset.min_side), max(out_h, preset.min_side))
    return scale, (out_w, out_h)


def _plain_mode(image: Any) -> Any:
    """8 bits per channel, in RGB, RGBA or CMYK: what resizing and the colour transform
    take. Palette, 16-bit, grey and 1-bit become RGB(A); the profile stays in ``info``."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grey (PNG): scale to 8 bits rather than clip every value above 255 to white.
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("RGB")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("PA", "LA", "La", "RGBa"):
        return image.convert("RGBA")
    if mode in ("RGB", "RGBA", "CMYK"):
        return image
    return image.convert("RGB")  # 1, L, F, YCbCr, LAB, HSV, RGBX


#: EXIF orientation -> the ``Image.Transpose`` value that shows the image upright (EXIF
#: 2.32, tag 0x0112): 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
#: 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90 (Pillow's numbering of those is 0-6).
_TRANSPOSE: Final = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}


def _upright(image: Any, orientation: int) -> Any:
    """Apply the EXIF orientation (done on the small, resized image: a fraction of the cost
    of rotating the decoded photo)."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def _to_srgb(image: Any, icc: bytes | None) -> Any:
    """RGB or RGBA in sRGB (on the resized image: the colour transform costs per pixel).
    Without a profile, RGB is taken as sRGB (what browsers do) and CMYK is converted
    naively; a profile that cannot be read is ignored rather than costing the rendition."""
    from PIL import ImageCms

    if icc:
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            alpha = image.getchannel("A") if image.mode == "RGBA" else None
            base = image.convert("RGB") if alpha is not None else image
            converted = ImageCms.profileToProfile(
                base,
                source_profile,
                ImageCms.createProfile("sRGB"),
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
                outputMode="RGB",
            )
            if converted is not None:
                image = converted
                if alpha is not None:
                    image.putalpha(alpha)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK without a usable profile
    image.info.clear()  # EXIF, XMP, comments, the profile: none reaches the rendition
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")  # fully opaque: no alpha to carry
    return image


@dataclass(slots=True)
class _Decoded:
    """A decoded source before resizing: plain mode, stored orientation."""

    image: Any
    orientation: int
    icc: bytes | None
    #: Output size before cropping/padding, upright, and the canvas it goes on.
    target: tuple[int, int]
    canvas: tuple[int, int]


def _prepare(data: bytes, preset: Preset, max_pixels: int) -> _Decoded:
    """Decode ``data`` no larger than needed (JPEG draft) into a plain mode."""
    from PIL import Image

    image = _open(data, max_pixels)
    try:
        orientation = int(image.getexif().get(0x0112, 1) or 1)
    except Exception:  # a malformed EXIF block must not cost the rendition
        orientation = 1
    upright = _oriented(image.size, orientation)
    scale, canvas = _scale_for(preset, *upright)
    target = (max(1, round(upright[0] * scale)), max(1, round(upright[1] * scale)))
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)  # the first frame of an animation, for a still rendition
        if image.format == "JPEG" and scale < 0.5:
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale directly, never below the request.
            image.draft(image.mode, _oriented(target, orientation))
        image.load()
        icc = image.info.get("icc_profile")
        image = _plain_mode(image)
    except RenditionError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise Undecodable(f"the image cannot be decoded ({type(exc).__name__}: {exc})") from None
    return _Decoded(image, orientation, icc if isinstance(icc, bytes) else None, target, canvas)


def _resized(decoded: _Decoded, preset: Preset) -> Any:
    """Resize (in stored orientation), turn upright, convert to sRGB, then crop or pad."""
    from PIL import Image

    image = decoded.image
    stored_target = _oriented(decoded.target, decoded.orientation)
    if stored_target != image.size:
        image = image.resize(stored_target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    image = _to_srgb(_upright(image, decoded.orientation), decoded.icc)
    canvas = decoded.canvas
    if preset.fit == "fill" and image.size != canvas:
        left = (image.size[0] - canvas[0]) // 2
        top = (image.size[1] - canvas[1]) // 2
        image = image.crop((left, top, left + canvas[0], top + canvas[1]))
    if image.size != canvas:
        mode = "RGBA" if preset.rgba[3] < 255 or image.mode == "RGBA" else "RGB"
        board = Image.new(mode, canvas, preset.rgba if mode == "RGBA" else preset.rgba[:3])
        offset = ((canvas[0] - image.size[0]) // 2, (canvas[1] - image.size[1]) // 2)
        if image.mode == "RGBA":
            board.paste(image, offset, image)
        else:
            board.paste(image, offset)
        image = board
    return image


def _flattened(image: Any, preset: Preset) -> Any:
    """RGB for JPEG: alpha composited onto the preset's background (opaque)."""
    from PIL import Image

    if image.mode != "RGBA":
        return image
    board = Image.new("RGB", image.size, preset.rgba[:3])
    board.paste(image, (0, 0), image)
    return board


def _encode(image: Any, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        # optimize: Huffman tables per image (a few % smaller); progressive renders early.
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    elif fmt == "png":
        image.save(out, "PNG", optimize=False, compress_level=6)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=quality, method=_WEBP_METHOD)
    else:
        image.save(out, "AVIF", quality=quality, speed=_AVIF_SPEED)
    return out.getvalue()


def _qualities(preset: Preset) -> list[int]:
    top, bottom = preset.quality, preset.min_quality
    if top == bottom:
        return [top]
    step = (top - bottom) / _QUALITY_STEPS
    return [round(top - i * step) for i in range(_QUALITY_STEPS + 1)]


def _pillow(data: bytes, preset: Preset, fmt: str, max_pixels: int) -> Rendered:
    if importlib.util.find_spec("PIL") is None:
        raise EngineMissing(
            "renditions need Pillow, which is not installed: pip install 'mediaserve[renditions]'"
        )
    out = _resized(_prepare(data, preset, max_pixels), preset)
    if fmt == "jpeg":
        out = _flattened(out, preset)
    lossy = fmt != "png"
    qualities = _qualities(preset) if lossy else [0]
    cap = preset.max_bytes
    # The box is exact for pad/fill and for platforms with an exact size (stickers): the
    # byte cap may only lower quality there. Otherwise it shrinks the image step by step.
    exact = preset.fit in ("pad", "fill")
    attempts = 0
    current = out
    for _ in range(_SIZE_TRIES if not exact else 1):
        for quality in qualities if cap is not None else qualities[:1]:
            attempts += 1
            encoded = _encode(current, fmt, quality)
            if cap is None or len(encoded) <= cap:
                return Rendered(
                    encoded, fmt, current.size[0], current.size[1], quality if lossy else None
                )
        smaller = (int(current.size[0] * _SIZE_STEP), int(current.size[1] * _SIZE_STEP))
        if preset.min_side is not None and min(smaller) < preset.min_side:
            break
        if min(smaller) < 1:
            break
        current = current.resize(smaller, _lanczos())
    raise CannotFit(
        f"{preset.name}: no {fmt.upper()} under {cap:,} bytes after {attempts} tries (down to"
        f" quality {preset.min_quality}{'' if exact else ' and smaller sizes'}); raise the"
        " preset's max_bytes, lower its min_quality, or use a smaller box"
    )


def _lanczos() -> Any:
    from PIL import Image

    return Image.Resampling.LANCZOS


_ENGINES: dict[str, Callable[[bytes, Preset, str, int], Rendered]] = {"pillow": _pillow}
