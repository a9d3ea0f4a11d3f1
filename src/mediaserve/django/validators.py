"""Django upload validation and a storage that stores uploads safely.

* :class:`UploadValidator` for ``FileField``/``ImageField`` (model or form): the content
  sniffed from the first bytes must match the extension and an allow-list; size limits per
  kind (WhatsApp Cloud API defaults, see :mod:`mediaserve.uploads`); images are decoded by
  Pillow, with the pixel count checked from the header BEFORE decoding (a 50 KB PNG can
  claim 100 000 x 100 000 pixels and take gigabytes to decode).
* :class:`SafeFileSystemStorage`: safe names (no path parts, NFC, no dotfiles, length cap,
  collision-safe through Django's exclusive create), files 0644 and directories 0755 whatever
  the umask, and optionally EXIF/GPS metadata removed from photos before they are written.

Every refusal is a ``ValidationError`` whose message says what was wrong and what is allowed,
so a form shows it to the person uploading.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from ..uploads.validate import SNIFF_BYTES, UploadRules, check_upload, extension_of, safe_name

__all__ = ["DEFAULT_MAX_PIXELS", "SafeFileSystemStorage", "UploadValidator", "strip_metadata"]

#: 40 megapixels: above any phone camera's photo (a 200 MP sensor bins to 12-50 MP), far
#: below what takes a worker's memory (RGBA at 40 MP is 160 MB decoded).
DEFAULT_MAX_PIXELS = 40_000_000
_PILLOW_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_STRIPPED_FORMATS = ["JPEG", "PNG", "WEBP"]
logger = logging.getLogger("mediaserve")


def _head(file: IO[bytes] | File[Any]) -> bytes:
    file.seek(0)
    data = file.read(SNIFF_BYTES)
    file.seek(0)
    return data if isinstance(data, bytes) else bytes(data)


def _size(file: IO[bytes] | File[Any]) -> int:
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size
    file.seek(0, os.SEEK_END)
    end = file.tell()
    file.seek(0)
    return end


def check_image(file: IO[bytes] | File[Any], ext: str, max_pixels: int) -> None:
    """Decode the image fully with Pillow; raise ValidationError if that is impossible or the
    image has more than ``max_pixels`` pixels (checked from the header, before decoding)."""
    from PIL import Image

    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=[_PILLOW_FORMATS[ext]]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ValidationError(
                        f"The image is {width} x {height} pixels; at most "
                        f"{max_pixels / 1e6:g} megapixels are accepted.",
                        code="pixels",
                    )
                image.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            f"The image has too many pixels; at most {max_pixels / 1e6:g} megapixels are accepted.",
            code="pixels",
        ) from None
    except Exception:
        raise ValidationError(
            f"The file is named .{ext} but could not be read as an image (damaged, truncated "
            "or not really an image).",
            code="image",
        ) from None
    finally:
        file.seek(0)


@deconstructible
class UploadValidator:
    """``FileField(validators=[UploadValidator()])``: content, allow-list, size, pixels.

    ``allowed``: extensions accepted (default: every kind of ``mediaserve.uploads``);
    ``limits``: bytes per kind, overriding the WhatsApp defaults (e.g. ``{"document": 20 *
    1024 * 1024}``); ``max_pixels``: the decompression-bomb guard for images.
    """

    def __init__(
        self,
        allowed: Iterable[str] | None = None,
        limits: Mapping[str, int] | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        decode_images: bool = True,
    ) -> None:
        self.allowed = sorted({e.lower().lstrip(".") for e in allowed}) if allowed else None
        self.limits = dict(limits) if limits else None
        self.max_pixels = max_pixels
        self.decode_images = decode_images
        defaults = UploadRules()
        self.rules = UploadRules(
            allowed=frozenset(self.allowed) if self.allowed else defaults.allowed,
            limits={**defaults.limits, **(self.limits or {})},
        )

    def __call__(self, file: Any) -> None:
        name = str(getattr(file, "name", "") or "")
        _kind, problem = check_upload(name, _head(file), _size(file), self.rules)
        if problem is not None:
            raise ValidationError(problem.message, code=problem.code)
        ext = extension_of(name)
        if self.decode_images and ext in _PILLOW_FORMATS:
            check_image(file, ext, self.max_pixels)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UploadValidator) and (
            self.allowed,
            self.limits,
            self.max_pixels,
            self.decode_images,
        ) == (other.allowed, other.limits, other.max_pixels, other.decode_images)

    def __hash__(self) -> int:
        return hash((tuple(self.allowed or ()), self.max_pixels, self.decode_images))


def strip_metadata(content: IO[bytes] | File[Any], ext: str) -> ContentFile[bytes]:
    """The image re-encoded without EXIF (GPS position, camera serial, time) or text chunks.

    The EXIF orientation is applied to the pixels first, so the photo still shows upright.
    JPEGs keep their quantisation tables (``quality="keep"``): no visible loss.
    """
    from PIL import Image, ImageOps

    content.seek(0)
    # Any of the three formats: a PNG named .jpg still has its text chunks removed (and keeps
    # being a PNG; whether the name fits the content is UploadValidator's question).
    with Image.open(content, formats=_STRIPPED_FORMATS) as image:
        fmt = image.format or _PILLOW_FORMATS[ext]
        options: dict[str, Any] = {}
        if fmt == "JPEG":
            options["quality"] = "keep"
            upright = ImageOps.exif_transpose(image)
            if upright is not image:  # rotated: the tables no longer apply
                options = {"quality": 95}
            image = upright
        else:
            image = ImageOps.exif_transpose(image)
        if "icc_profile" in image.info:
            options["icc_profile"] = image.info["icc_profile"]
        out = io.BytesIO()
        image.save(out, format=fmt, **options)
    return ContentFile(out.getvalue())


class SafeFileSystemStorage(FileSystemStorage):
    """FileSystemStorage that names, writes and permissions uploads safely.

    ``strip_metadata=True`` removes EXIF/GPS from JPEG, PNG and WebP uploads before they are
    written. File and directory modes default to 0644/0755, readable by a proxy's worker.
    """

    def __init__(self, *args: Any, strip_metadata: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("file_permissions_mode", 0o644)
        kwargs.setdefault("directory_permissions_mode", 0o755)
        super().__init__(*args, **kwargs)
        self.strip_metadata = strip_metadata

    def get_valid_name(self, name: str) -> str:
        return safe_name(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # The directory comes from upload_to (the developer); the file name from the client.
        directory, base = os.path.split(name)
        return str(super().get_available_name(os.path.join(directory, safe_name(base)), max_length))

    def _save(self, name: str, content: File[Any]) -> str:
        ext = extension_of(name)
        if self.strip_metadata and ext in _PILLOW_FORMATS:
            content = self._stripped(name, content, ext)
        return str(super()._save(name, content))  # type: ignore[misc]

    @staticmethod
    def _stripped(name: str, content: File[Any], ext: str) -> File[Any]:
        """The re-encoded image, or ``content`` unchanged when Pillow cannot read it.

        A storage is not where uploads are judged (``UploadValidator`` refuses a ``.jpg``
        that is not an image, with a message for the form): raising here would turn a
        wrong file into a 500 for the person uploading. What cannot be decoded holds no
        pixels to re-encode; it is stored as it came and logged at WARNING, so a project
        without the validator learns about it.
        """
        try:
            return strip_metadata(content, ext)
        except Exception as exc:  # Pillow raises many types for bad input
            logger.warning(
                "mediaserve: %r is named .%s but is not an image Pillow can read (%s); stored"
                " without removing metadata. Add UploadValidator() to the field to refuse it.",
                name,
                ext,
                type(exc).__name__,
            )
            content.seek(0)
            return content
