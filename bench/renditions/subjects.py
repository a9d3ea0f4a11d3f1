"""What each subject does to turn the source photo into one rendition, as its users write it.

A subject is a function ``build(source_name, target) -> output path``, called in a fresh
child process (:mod:`bench.renditions.child`) with the media root holding the source under
``source_name``. The Django libraries are driven through the API their docs show first, with
their default storage and cache bookkeeping (a user of sorl-thumbnail calls ``get_thumbnail``
in a template or view; an easy-thumbnails user asks a ``Thumbnailer`` for an aliased size; an
imagekit user declares an ``ImageSpec`` and reads the cache file's URL, which generates it
under the default just-in-time strategy). The settings each runs under are in
:mod:`bench.renditions.djsettings`; every library gets the same quality and the same target box.

``pillow`` and ``pyvips`` are the bare engines written the fast way (JPEG draft mode and
``reduce`` for Pillow, ``thumbnail`` with shrink-on-load for libvips), each applying EXIF
orientation and converting to sRGB: they answer "which library should mediaserve build on",
not "which Django package is faster".
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """One rendition to build: fit inside ``box`` x ``box``, in ``fmt`` at ``quality``."""

    name: str
    box: int
    fmt: str  # "jpeg" or "webp"
    quality: int = 85

    @property
    def pil_format(self) -> str:
        return {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}[self.fmt]

    @property
    def extension(self) -> str:
        return {"jpeg": "jpg", "webp": "webp", "avif": "avif"}[self.fmt]


TARGETS: dict[str, Target] = {
    "jpeg-1024": Target("jpeg-1024", 1024, "jpeg"),
    "webp-400": Target("webp-400", 400, "webp"),
}


def media_root() -> Path:
    return Path(os.environ["RBENCH_MEDIA_ROOT"])


def _write(name: str, data: bytes) -> Path:
    out = media_root() / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


# --- bare engines ------------------------------------------------------------------------------


def build_pillow(source_name: str, target: Target) -> Path:
    """Pillow, the fast way: ``draft`` (JPEG DCT scaling while decoding), ``reduce`` via
    ``thumbnail(reducing_gap=...)``, then orientation, ICC → sRGB on the small image, encode."""
    from PIL import Image, ImageCms, ImageOps

    with Image.open(media_root() / source_name) as im:
        orientation = im.getexif().get(0x0112, 1)
        box = (target.box, target.box)
        # draft wants the box in stored orientation; 5-8 swap the axes.
        im.draft("RGB", box if orientation < 5 else box[::-1])
        icc = im.info.get("icc_profile")
        im.thumbnail(box if orientation < 5 else box[::-1], Image.Resampling.LANCZOS, 2.0)
        image = ImageOps.exif_transpose(im)
    if icc:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, src, ImageCms.createProfile("sRGB"))
        assert converted is not None
        image = converted
    buf = io.BytesIO()
    image.convert("RGB").save(buf, target.pil_format, quality=target.quality)
    return _write(f"out/pillow.{target.extension}", buf.getvalue())


def build_pyvips(source_name: str, target: Target) -> Path:
    """libvips via pyvips: ``thumbnail`` decodes with shrink-on-load, auto-rotates from EXIF,
    imports the embedded profile and exports sRGB; the save strips metadata."""
    import pyvips

    image = pyvips.Image.thumbnail(
        str(media_root() / source_name),
        target.box,
        height=target.box,
        size="down",
        export_profile="srgb",
    )
    if target.fmt == "jpeg":
        data = image.jpegsave_buffer(Q=target.quality, keep="none")
    else:
        data = image.webpsave_buffer(Q=target.quality, keep="none")
    return _write(f"out/pyvips.{target.extension}", data)


# --- mediaserve --------------------------------------------------------------------------------


def build_mediaserve(source_name: str, target: Target) -> Path:
    """mediaserve's renditions as a project builds them (on upload, by ``mediaserve renditions
    build``, or lazily on a first request): ``Renditions.build`` reads the source, hashes it for
    the content-addressed name, takes the rendition's lock, looks whether it exists, renders and
    writes it beside the media. The presets are in :mod:`bench.renditions.djsettings`; the
    engine is ``RENDITION_ENGINE`` there (Pillow, or pyvips for ``mediaserve-pyvips``)."""
    from mediaserve.django.renditions import get_renditions

    results = get_renditions().build(source_name, [f"bench-{target.name}"])
    failed = [r for r in results if r.status != "built"]
    if failed or not results:
        raise RuntimeError(f"mediaserve did not build {source_name}: {failed or results}")
    return media_root() / str(results[0].name)


# --- the Django libraries ----------------------------------------------------------------------


def build_sorl(source_name: str, target: Target) -> Path:
    """sorl-thumbnail: ``get_thumbnail(file, "WxH", ...)`` as in a view or ``{% thumbnail %}``.

    Its default key-value store (cached_db) records the source and the thumbnail in the
    database and cache; its PIL engine applies EXIF orientation (THUMBNAIL_ORIENTATION).
    """
    from django.core.files.storage import default_storage
    from sorl.thumbnail import get_thumbnail

    with default_storage.open(source_name) as f:
        thumb = get_thumbnail(
            f, f"{target.box}x{target.box}", format=target.pil_format, quality=target.quality
        )
    return media_root() / str(thumb.name)


def build_easy_thumbnails(source_name: str, target: Target) -> Path:
    """easy-thumbnails: ``get_thumbnailer(storage, name).get_thumbnail({"size": ...})``.

    It records Source and Thumbnail rows in the database (its default bookkeeping); the output
    format follows the thumbnail's extension, so WebP is ``thumbnail_extension = "webp"``.
    """
    from django.core.files.storage import default_storage
    from easy_thumbnails.files import get_thumbnailer

    thumbnailer = get_thumbnailer(default_storage, source_name)
    thumbnailer.thumbnail_extension = target.extension
    thumb = thumbnailer.get_thumbnail({"size": (target.box, target.box)})
    return media_root() / str(thumb.name)


_IMAGEKIT_REGISTERED: set[str] = set()


def build_imagekit(source_name: str, target: Target) -> Path:
    """django-imagekit: an ``ImageSpec`` with ``Transpose`` + ``ResizeToFit``, generated by
    reading the cache file's URL (the JustInTime strategy, with its cache-backed existence
    check), as ``{% generateimage %}`` or an ``ImageSpecField`` does."""
    from django.core.files import File
    from django.core.files.storage import default_storage
    from imagekit import ImageSpec, register
    from imagekit.cachefiles import ImageCacheFile
    from imagekit.processors import ResizeToFit, Transpose
    from imagekit.registry import generator_registry

    class BenchSpec(ImageSpec):  # type: ignore[misc]
        processors = [Transpose(), ResizeToFit(target.box, target.box)]
        format = target.pil_format
        options = {"quality": target.quality}

    # Registered as its docs show (`register.generator("app:name", Spec)`): imagekit runs its
    # cache-file strategy only for registered generators.
    spec_id = f"bench:{target.name}"
    if spec_id not in _IMAGEKIT_REGISTERED:  # a second register() of the id raises
        register.generator(spec_id, BenchSpec)
        _IMAGEKIT_REGISTERED.add(spec_id)
    with default_storage.open(source_name) as f:
        generator = generator_registry.get(spec_id, source=File(f, name=source_name))
        cache_file = ImageCacheFile(generator)
        _ = cache_file.url  # JustInTime: generates the file on first access
        name = cache_file.name
    return media_root() / str(name)


@dataclass(frozen=True)
class Subject:
    """A row of the table: its key, whether it needs Django (and migrations), its builder."""

    key: str
    build: Callable[[str, Target], Path]
    django: bool = False
    migrate: bool = False
    kind: str = "competitor"  # "candidate", "competitor" or "engine"
    modules: tuple[str, ...] = ()  # imported before measuring, so import time is not build time


SUBJECTS: dict[str, Subject] = {
    s.key: s
    for s in (
        Subject(
            "mediaserve",
            build_mediaserve,
            True,
            kind="candidate",
            modules=("mediaserve.django.renditions", "PIL.Image"),
        ),
        Subject(
            "mediaserve-pyvips",
            build_mediaserve,
            True,
            kind="candidate",
            modules=("mediaserve.django.renditions", "pyvips"),
        ),
        Subject("sorl-thumbnail", build_sorl, True, True, modules=("sorl.thumbnail",)),
        Subject(
            "easy-thumbnails", build_easy_thumbnails, True, True, modules=("easy_thumbnails.files",)
        ),
        Subject("django-imagekit", build_imagekit, True, False, modules=("imagekit",)),
        Subject("pillow", build_pillow, kind="engine", modules=("PIL.Image", "PIL.ImageCms")),
        Subject("pyvips", build_pyvips, kind="engine", modules=("pyvips",)),
    )
}
