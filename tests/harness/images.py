"""A real-input image corpus, made by code at test time (issue 12: "real inputs in tests").

The photos a WhatsApp-commerce team uploads are not the clean 8-bit sRGB JPEGs that unit tests
usually make: they are 12-48 MP phone photos rotated by an EXIF tag, with a wide-gamut ICC
profile and GPS coordinates, or HEIC; sometimes CMYK from a print workflow, 16-bit from an
editor, a palette GIF, a transparent PNG, a 300 px screenshot, or a hostile file. Each item here
is one of those, built with Pillow (and pillow-heif for HEIC) from a fixed seed, so every run
gets the same bytes, and no binary fixture is committed.

Use::

    from harness.images import image_corpus

    corpus = image_corpus()            # built once per process, in a temporary directory
    corpus.photo.path                  # Path of the rotated 12 MP JPEG
    corpus.photo.display_size          # (3000, 4000): the size once EXIF orientation is applied

:func:`image_corpus` caches the corpus for the process (a pytest session) and removes the
directory at exit; :func:`build_corpus` writes it into a directory of your choosing (the bench
does this). Building everything takes about two seconds, most of it the 12 MP JPEG.

Every item records what a correct rendition must show (:class:`CorpusImage`): the size as
displayed, the colour of its top-left and bottom-right corner markers as displayed (so a
rendition that ignored or double-applied the EXIF orientation is caught by reading two pixels),
and why it is in the corpus.
"""

from __future__ import annotations

import atexit
import io
import shutil
import struct
import tempfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw, ImageFilter

#: Bumped whenever an item's bytes change; named in the corpus directory, so a benchmark or a
#: failing test's paths say which corpus they ran on.
CORPUS_VERSION = 2

#: The phone photo's size as stored in the file (landscape sensor), 12 MP as most phones shoot.
PHOTO_STORED_SIZE = (4000, 3000)

#: Corner markers, in displayed orientation: red top-left, blue bottom-right. Pure primaries
#: survive JPEG, CMYK and ICC round trips close enough to tell apart with a tolerance.
MARK_TOP_LEFT = (220, 30, 30)
MARK_BOTTOM_RIGHT = (30, 30, 220)
#: A marker is this fraction of the shorter side, big enough to survive a 64 px thumbnail.
MARK_FRACTION = 0.12

#: EXIF tags (TIFF/EXIF 2.32 numbering).
TAG_ORIENTATION = 0x0112
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_DATETIME = 0x0132
TAG_GPS_IFD = 0x8825

#: Pixels the bomb declares: 400 M, more than twice Pillow's default ``MAX_IMAGE_PIXELS``
#: (89.5 M), so Pillow itself raises ``DecompressionBombError``; decoded it would take 400 MB
#: (mode "1" is one byte per pixel in Pillow's memory), from a file of about 50 KB.
BOMB_SIDE = 20_000


@dataclass(frozen=True)
class CorpusImage:
    """One input file and what a correct rendition of it shows.

    ``display_size`` is the size after EXIF orientation (what a browser shows); ``mark_*``
    are the expected colours of the corner markers in that orientation, or None where the
    item has none (the bomb). ``why`` says which real-world failure the item exists to catch.
    """

    name: str
    path: Path
    format: str
    display_size: tuple[int, int]
    why: str
    mark_top_left: tuple[int, int, int] | None = None
    mark_bottom_right: tuple[int, int, int] | None = None
    icc_profile: bytes | None = None

    def expected_srgb(self, rgb: tuple[int, int, int]) -> tuple[int, int, int]:
        """``rgb`` as the file stores it, as a correct sRGB rendition shows it.

        For items with an embedded profile that is the LittleCMS conversion (the Adobe RGB
        photo's red marker (220, 30, 30) is (255, 24, 24) in sRGB); otherwise ``rgb``.
        """
        return rgb if self.icc_profile is None else srgb_of(rgb, self.icc_profile)

    @property
    def size_bytes(self) -> int:
        """The file's size, for byte-cap and "phone photo is 3-5 MB" assertions."""
        return self.path.stat().st_size


@dataclass(frozen=True)
class Corpus:
    """Every item of the corpus, one attribute each (see :func:`build_corpus` for the why)."""

    directory: Path
    photo: CorpusImage
    photo_p3: CorpusImage
    cmyk: CorpusImage
    png16_rgb: CorpusImage
    png16_gray: CorpusImage
    heic: CorpusImage | None
    avif: CorpusImage | None
    animated_gif: CorpusImage
    alpha_png: CorpusImage
    small: CorpusImage
    bomb: CorpusImage

    def __iter__(self) -> Iterator[CorpusImage]:
        """Every present item (HEIC/AVIF are None where no encoder is installed)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, CorpusImage):
                yield value

    def decodable(self) -> list[CorpusImage]:
        """Every item a renditions engine must turn into an image (all but the bomb)."""
        return [item for item in self if item is not self.bomb]


# --- camera-like content ------------------------------------------------------------------


def _photo_pixels(size: tuple[int, int], seed: int) -> Image.Image:
    """An RGB image with a photo's statistics, in displayed orientation.

    A sky gradient, a horizon, soft shapes and sensor-like noise: smooth areas and fine
    texture together are what makes a 12 MP phone JPEG weigh 3-5 MB at quality 90, and what
    makes resampling cost what it costs on a real photo (a flat test card compresses to
    almost nothing and decodes faster than any real upload). Deterministic for ``seed``:
    Pillow's ``effect_noise`` uses C ``rand()``, so the noise comes from a pattern built
    here instead.
    """
    width, height = size
    sky_top, sky_bottom = (70, 120, 200), (190, 215, 235)
    ground_top, ground_bottom = (90, 120, 60), (60, 80, 40)
    horizon = int(height * 0.55)
    column = Image.new("RGB", (1, height))
    px = column.load()
    assert px is not None
    for y in range(height):
        if y < horizon:
            t = y / horizon
            a, b = sky_top, sky_bottom
        else:
            t = (y - horizon) / max(1, height - horizon)
            a, b = ground_top, ground_bottom
        px[0, y] = tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3))
    base = column.resize(size, Image.Resampling.NEAREST)

    draw = ImageDraw.Draw(base)
    state = seed
    for _ in range(40):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        cx, cy = state % width, horizon + (state >> 8) % max(1, height - horizon)
        r = 20 + (state >> 4) % (width // 8)
        colour = (80 + state % 120, 60 + (state >> 3) % 100, 30 + (state >> 6) % 80)
        draw.ellipse((cx - r, cy - r // 2, cx + r, cy + r // 2), fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(3))

    # Sensor noise and fine texture: a small seeded tile, scaled up with a non-integer factor
    # and offset per channel so it does not repeat visibly and compresses like real grain.
    tile_side = 256
    noise_bytes = bytearray(tile_side * tile_side)
    state = seed ^ 0x5DEECE66D
    for i in range(len(noise_bytes)):
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        noise_bytes[i] = state >> 56
    tile = Image.frombytes("L", (tile_side, tile_side), bytes(noise_bytes))
    channels = []
    for offset, band in zip((0, 85, 170), base.split(), strict=True):
        grain = tile.rotate(offset % 90 + 7, resample=Image.Resampling.BILINEAR, expand=False)
        grain = grain.resize((tile_side * 3 // 2, tile_side * 3 // 2), Image.Resampling.BILINEAR)
        full = Image.new("L", size)
        for x in range(-offset % grain.width - grain.width, width, grain.width):
            for y in range(-offset % grain.height - grain.height, height, grain.height):
                full.paste(grain, (x, y))
        channels.append(Image.blend(band, full, 0.16))
    photo = Image.merge("RGB", channels)
    _draw_markers(photo)
    return photo


def _draw_markers(image: Image.Image) -> None:
    """Paint the top-left and bottom-right orientation markers (see :data:`MARK_FRACTION`)."""
    side = max(4, int(min(image.size) * MARK_FRACTION))
    draw = ImageDraw.Draw(image)
    width, height = image.size
    if image.mode in ("RGBA", "RGB"):
        draw.rectangle((0, 0, side - 1, side - 1), fill=MARK_TOP_LEFT)
        draw.rectangle((width - side, height - side, width - 1, height - 1), fill=MARK_BOTTOM_RIGHT)


def _camera_exif(orientation: int) -> bytes:
    """EXIF as a phone writes it: orientation, make/model/date, and GPS coordinates.

    GPS is here because a rendition must not carry it: a product photo taken at home leaks
    the seller's address to every crawler (the renditions strip metadata).
    """
    exif = Image.Exif()
    exif[TAG_ORIENTATION] = orientation
    exif[TAG_MAKE] = "mediaserve-test"
    exif[TAG_MODEL] = "corpus phone 12MP"
    exif[TAG_DATETIME] = "2026:01:02 03:04:05"
    gps = exif.get_ifd(TAG_GPS_IFD)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 24.0)
    gps[3] = "E"
    gps[4] = (2.0, 21.0, 7.0)
    return exif.tobytes()


def _stored_for_orientation(displayed: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores so that applying ``orientation`` shows ``displayed``.

    Orientation 6 means "rotate 90° clockwise to display", so the file holds the picture
    rotated 90° counter-clockwise; 8 is the opposite. Checked against Pillow's
    ``ImageOps.exif_transpose`` by tests/unit/test_image_corpus.py.
    """
    if orientation == 6:
        return displayed.transpose(Image.Transpose.ROTATE_90)
    if orientation == 8:
        return displayed.transpose(Image.Transpose.ROTATE_270)
    if orientation == 1:
        return displayed
    raise ValueError(f"orientation {orientation} is not made by this corpus")


# --- ICC profiles ---------------------------------------------------------------------------

_D50 = (0.9642, 1.0, 0.8249)
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))


def _mat_mul(
    a: tuple[tuple[float, ...], ...], b: tuple[tuple[float, ...], ...]
) -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3)
    )


def _mat_inv(m: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def _xy_to_xyz(x: float, y: float) -> tuple[float, float, float]:
    return (x / y, 1.0, (1 - x - y) / y)


def _colorants_d50(
    primaries: tuple[tuple[float, float], ...], white: tuple[float, float]
) -> tuple[tuple[float, float, float], ...]:
    """The rXYZ/gXYZ/bXYZ tags of a matrix/TRC profile: the primaries' XYZ, adapted to D50.

    The RGB→XYZ matrix comes from the chromaticities (the textbook derivation: scale each
    primary so that RGB (1,1,1) is the white point), then the Bradford transform adapts it
    from the profile's white to the ICC connection space's D50 (ICC.1:2010 Annex E).
    """
    cols = [_xy_to_xyz(*p) for p in primaries]
    p = tuple(tuple(cols[j][i] for j in range(3)) for i in range(3))
    w = _xy_to_xyz(*white)
    p_inv = _mat_inv(p)
    s = [sum(p_inv[i][k] * w[k] for k in range(3)) for i in range(3)]
    rgb_to_xyz = tuple(tuple(p[i][j] * s[j] for j in range(3)) for i in range(3))
    src = [sum(_BRADFORD[i][k] * w[k] for k in range(3)) for i in range(3)]
    dst = [sum(_BRADFORD[i][k] * _D50[k] for k in range(3)) for i in range(3)]
    scale = tuple(tuple((dst[i] / src[i]) if i == j else 0.0 for j in range(3)) for i in range(3))
    adapt = _mat_mul(_mat_mul(_mat_inv(_BRADFORD), scale), _BRADFORD)
    m = _mat_mul(adapt, rgb_to_xyz)
    return tuple((m[0][j], m[1][j], m[2][j]) for j in range(3))


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _icc_matrix_profile(
    description: str,
    primaries: tuple[tuple[float, float], ...],
    white: tuple[float, float],
    trc: bytes,
) -> bytes:
    """A minimal ICC v2 display profile (matrix/TRC), the kind cameras and editors embed.

    Tags: desc, cprt, wtpt (D50, as v4-style profiles and Apple's Display P3 write it),
    r/g/bXYZ and one shared TRC for r/g/b. ICC.1:2001-04 §6 lists them as the required tags
    of an RGB display profile.
    """

    def xyz_tag(xyz: tuple[float, float, float]) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in xyz)

    def text_desc(text: str) -> bytes:
        ascii_text = text.encode("ascii") + b"\0"
        # textDescriptionType: ASCII, then empty Unicode and ScriptCode parts (ICC.1:2001 §6.5.17).
        return (
            b"desc\0\0\0\0"
            + struct.pack(">I", len(ascii_text))
            + ascii_text
            + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0)
            + b"\0" * 67
        )

    colorants = _colorants_d50(primaries, white)
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", text_desc(description)),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, generated by mediaserve's tests\0"),
        (b"wtpt", xyz_tag(_D50)),
        (b"rXYZ", xyz_tag(colorants[0])),
        (b"gXYZ", xyz_tag(colorants[1])),
        (b"bXYZ", xyz_tag(colorants[2])),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    table = b""
    data = b""
    offset = 128 + 4 + 12 * len(tags)
    placed: dict[bytes, int] = {}
    for sig, body in tags:
        start = offset + len(data)
        if sig in (b"gTRC", b"bTRC"):
            start = placed[b"rTRC"]
        else:
            data += body + b"\0" * (-len(body) % 4)
        placed[sig] = start
        table += sig + struct.pack(">II", start, len(body))
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"lcms"  # preferred CMM
        + bytes((2, 0x10, 0, 0))  # version 2.1
        + b"mntr"
        + b"RGB "
        + b"XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"APPL"
        + b"\0" * 4  # flags
        + b"\0" * 8  # manufacturer, model
        + b"\0" * 8  # attributes
        + struct.pack(">I", 0)  # perceptual intent
        + b"".join(_s15f16(v) for v in _D50)
        + b"\0" * 4  # creator
        + b"\0" * 16  # profile ID
        + b"\0" * 28
    )
    assert len(header) == 128, len(header)
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_rgb_icc() -> bytes:
    """An Adobe RGB (1998)-compatible profile: its primaries, D65 white and gamma 563/256.

    Written from the published numbers (Adobe RGB (1998) Color Image Encoding, §4.3): red
    (0.64, 0.33), green (0.21, 0.71), blue (0.15, 0.06), white D65 (0.3127, 0.3290), transfer
    gamma 2 51/256. Its green is far outside sRGB: a rendition that keeps the pixels and drops
    the profile shows every product dull and shifted, which is why conversion to sRGB matters.
    """
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, 563)  # u8Fixed8: 563/256 = 2.19921875
    return _icc_matrix_profile(
        "mediaserve test Adobe RGB (1998) primaries",
        ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)),
        (0.3127, 0.3290),
        gamma,
    )


def display_p3_icc() -> bytes:
    """A Display P3-compatible profile: DCI-P3 primaries, D65 white, the sRGB transfer curve.

    What iPhones embed in every photo since 2016. Primaries per SMPTE EG 432-1: red
    (0.680, 0.320), green (0.265, 0.690), blue (0.150, 0.060); the curve is sRGB's (IEC
    61966-2-1), written as a 1024-entry table so any ICC v2 reader takes it.
    """
    points = []
    for i in range(1024):
        v = i / 1023
        lin = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        points.append(round(lin * 65535))
    curve = (
        b"curv\0\0\0\0" + struct.pack(">I", len(points)) + struct.pack(f">{len(points)}H", *points)
    )
    return _icc_matrix_profile(
        "mediaserve test Display P3 primaries",
        ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
        (0.3127, 0.3290),
        curve,
    )


def srgb_of(rgb: tuple[int, int, int], icc: bytes) -> tuple[int, int, int]:
    """What ``rgb`` in the profile ``icc`` is in sRGB, by LittleCMS (relative colorimetric).

    A test compares a rendition's pixel with this, not with the input's numbers: a rendition
    that dropped the profile instead of converting keeps the input's numbers and fails.
    """
    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    dst = ImageCms.createProfile("sRGB")
    pixel = Image.new("RGB", (1, 1), rgb)
    converted = ImageCms.profileToProfile(pixel, src, dst, outputMode="RGB")
    assert converted is not None
    value = converted.getpixel((0, 0))
    assert isinstance(value, tuple)
    return (int(value[0]), int(value[1]), int(value[2]))


# --- writers that Pillow does not have --------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write_png_rgb16(image: Image.Image, path: Path) -> None:
    """Write an 8-bit RGB image as a 16-bit-per-channel PNG (colour type 2, depth 16).

    Pillow reads such PNGs (as 8-bit RGB) but cannot write them, and they are what Lightroom
    and Photoshop export at "16 bits/channel". Each 8-bit value v becomes the high byte v and a
    low byte of 255 - v, so a decoder that takes the low byte instead of the high one shows
    the negative, not the picture.
    """
    width, height = image.size
    raw = image.tobytes()
    samples = bytearray(len(raw) * 2)
    samples[0::2] = raw
    samples[1::2] = raw.translate(bytes(range(255, -1, -1)))
    stride = width * 6
    rows = b"".join(
        b"\0" + bytes(samples[y * stride : (y + 1) * stride])  # filter type None
        for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _png_chunk(b"IEND", b"")
    )


def _write_png_bomb(path: Path, side: int) -> None:
    """A real decompression bomb: a 1-bit PNG of ``side``² black pixels, about 50 KB.

    Every row is a filter byte and zeros, which zlib compresses about 1000:1, so the file is
    small while the decoded image is ``side``² pixels. It is a valid PNG (a decoder with no
    pixel limit really decodes it, slowly and with hundreds of MB), so a test proves the
    limit is checked from the header before decoding, not that a broken file fails.
    """
    row = bytes(1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = bytearray()
    block = row * 256
    full, rest = divmod(side, 256)
    for _ in range(full):
        idat += compressor.compress(block)
    idat += compressor.compress(row * rest)
    idat += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", bytes(idat))
        + _png_chunk(b"IEND", b"")
    )


# --- the corpus -------------------------------------------------------------------------------


def _marked(size: tuple[int, int], seed: int) -> Image.Image:
    """A smaller photo-like image with the corner markers (for the non-photo items)."""
    return _photo_pixels(size, seed)


def build_corpus(directory: Path) -> Corpus:
    """Write every item into ``directory`` and describe it (see each item's ``why``).

    Deterministic: the same code writes the same bytes (no randomness, no clock; the HEIC
    and AVIF encoders are deterministic for the same input and settings).
    """
    directory.mkdir(parents=True, exist_ok=True)
    photo_display = (PHOTO_STORED_SIZE[1], PHOTO_STORED_SIZE[0])  # portrait once rotated

    displayed = _photo_pixels(photo_display, seed=12)
    adobe = adobe_rgb_icc()
    photo_path = directory / "phone-12mp-orientation6-adobergb.jpg"
    _stored_for_orientation(displayed, 6).save(
        photo_path,
        "JPEG",
        # What phone cameras write: high quality, 4:2:0 chroma subsampling (3.7 MB here).
        quality=95,
        subsampling=2,
        exif=_camera_exif(6),
        icc_profile=adobe,
    )
    photo = CorpusImage(
        "photo",
        photo_path,
        "JPEG",
        photo_display,
        "A 12 MP phone photo stored landscape with EXIF Orientation 6 (displays portrait), an "
        "embedded Adobe RGB profile and GPS tags: the usual upload. A rendition must apply the "
        "rotation (and strip the tag), convert to sRGB, and drop the GPS.",
        MARK_TOP_LEFT,
        MARK_BOTTOM_RIGHT,
        adobe,
    )

    p3 = display_p3_icc()
    smaller_display = (1512, 2016)  # 3 MP portrait, Orientation 8 this time
    p3_path = directory / "phone-orientation8-displayp3.jpg"
    _stored_for_orientation(_photo_pixels(smaller_display, seed=13), 8).save(
        p3_path, "JPEG", quality=90, exif=_camera_exif(8), icc_profile=p3
    )
    photo_p3 = CorpusImage(
        "photo_p3",
        p3_path,
        "JPEG",
        smaller_display,
        "An iPhone-style photo: EXIF Orientation 8 (the other rotation) and a Display P3 "
        "profile. Catches an engine that handles 6 by a fixed rotate instead of the tag.",
        MARK_TOP_LEFT,
        MARK_BOTTOM_RIGHT,
        p3,
    )

    cmyk_size = (1200, 900)
    cmyk_path = directory / "print-cmyk.jpg"
    _marked(cmyk_size, seed=14).convert("CMYK").save(cmyk_path, "JPEG", quality=90)
    cmyk = CorpusImage(
        "cmyk",
        cmyk_path,
        "JPEG",
        cmyk_size,
        "A CMYK JPEG from a print workflow: browsers and Meta decode it wrongly or not at all; "
        "a rendition must be RGB.",
        MARK_TOP_LEFT,
        MARK_BOTTOM_RIGHT,
    )

    png16_size = (800, 600)
    png16_path = directory / "editor-rgb16.png"
    _write_png_rgb16(_marked(png16_size, seed=15), png16_path)
    png16_rgb = CorpusImage(
        "png16_rgb",
        png16_path,
        "PNG",
        png16_size,
        "A 16 bits/channel RGB PNG, as editors export: Meta wants 8-bit; the rendition must "
        "keep the high bytes (the picture), not the low ones (noise).",
        MARK_TOP_LEFT,
        MARK_BOTTOM_RIGHT,
    )

    gray_path = directory / "scan-gray16.png"
    gray = Image.new("I;16", (640, 480))
    gray.frombytes(b"".join(struct.pack("<H", (y * 65535) // 479) * 640 for y in range(480)))
    gray.save(gray_path, "PNG")
    png16_gray = CorpusImage(
        "png16_gray",
        gray_path,
        "PNG",
        (640, 480),
        "A 16-bit greyscale PNG (a scanner's output), a vertical ramp from black to white. "
        "Pillow opens it as mode I;16, and a naive convert('RGB') clips every value above 255 "
        "to white: a correct rendition is a ramp (dark top, light bottom), not a white square.",
    )

    heic: CorpusImage | None = None
    heic_size = (1280, 960)
    try:
        import pillow_heif

        heic_path = directory / "iphone.heic"
        pillow_heif.from_pillow(_marked(heic_size, seed=16)).save(heic_path, quality=80)
        heic = CorpusImage(
            "heic",
            heic_path,
            "HEIF",
            heic_size,
            "An iPhone's default format: Meta and WhatsApp refuse it and most browsers cannot "
            "show it, so it must become JPEG (and WebP/AVIF for browsers).",
            MARK_TOP_LEFT,
            MARK_BOTTOM_RIGHT,
        )
    except ImportError:
        pass

    avif: CorpusImage | None = None
    avif_size = (1024, 768)
    try:
        avif_path = directory / "camera.avif"
        _marked(avif_size, seed=17).save(avif_path, "AVIF", quality=70)
        avif = CorpusImage(
            "avif",
            avif_path,
            "AVIF",
            avif_size,
            "An AVIF upload (Android 12+ cameras, converted web images): browsers show it, "
            "Meta does not take it, so the feed rendition must be JPEG.",
            MARK_TOP_LEFT,
            MARK_BOTTOM_RIGHT,
        )
    except (KeyError, OSError):  # Pillow built without libavif
        pass

    gif_path = directory / "animated.gif"
    frames = []
    for i, colour in enumerate(((200, 40, 40), (40, 200, 40), (40, 40, 200))):
        frame = Image.new("RGB", (480, 360), colour)
        ImageDraw.Draw(frame).rectangle((20 + 60 * i, 20, 140 + 60 * i, 140), fill=(250, 250, 250))
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    frames[0].save(gif_path, save_all=True, append_images=frames[1:], duration=200, loop=0)
    animated_gif = CorpusImage(
        "animated_gif",
        gif_path,
        "GIF",
        (480, 360),
        "A 3-frame palette GIF: red, then green, then blue. A still rendition takes the first "
        "frame (red), in RGB, not the palette indices.",
        (200, 40, 40),
        (200, 40, 40),
    )

    alpha_path = directory / "cutout-alpha.png"
    alpha = Image.new("RGBA", (600, 600), (0, 0, 0, 0))
    draw = ImageDraw.Draw(alpha)
    draw.ellipse((100, 100, 500, 500), fill=(30, 160, 60, 255))
    draw.rectangle((250, 0, 350, 99), fill=(30, 30, 220, 128))
    alpha.save(alpha_path, "PNG")
    alpha_png = CorpusImage(
        "alpha_png",
        alpha_path,
        "PNG",
        (600, 600),
        "A product cut-out: a green disc on a fully transparent background, a half-transparent "
        "blue bar at the top. The transparent corners' RGB is black (as editors save it): a "
        "JPEG that drops alpha instead of flattening on the background shows black corners.",
    )

    small_path = directory / "screenshot-300.png"
    small_size = (300, 225)
    _marked(small_size, seed=18).save(small_path, "PNG")
    small = CorpusImage(
        "small",
        small_path,
        "PNG",
        small_size,
        "A 300 px screenshot, under Meta's 500x500 minimum: a fit preset must not upscale it "
        "into mush, and a pad-to-square or minimum-size preset must say what it did.",
        MARK_TOP_LEFT,
        MARK_BOTTOM_RIGHT,
    )

    bomb_path = directory / "bomb-20000x20000.png"
    _write_png_bomb(bomb_path, BOMB_SIDE)
    bomb = CorpusImage(
        "bomb",
        bomb_path,
        "PNG",
        (BOMB_SIDE, BOMB_SIDE),
        "A decompression bomb: ~50 KB on disk, 400 M pixels declared (and really encoded). "
        "The engine must refuse it from the header, before allocating, with a clear error.",
    )

    return Corpus(
        directory,
        photo,
        photo_p3,
        cmyk,
        png16_rgb,
        png16_gray,
        heic,
        avif,
        animated_gif,
        alpha_png,
        small,
        bomb,
    )


_lock = threading.Lock()
_cached: Corpus | None = None


def image_corpus() -> Corpus:
    """The corpus, built once per process in a temporary directory removed at exit.

    Thread-safe; tests that run servers in threads may call it from any of them. Read-only:
    copy an item before changing it (e.g. ``shutil.copy(corpus.photo.path, media_root)``).
    """
    global _cached
    with _lock:
        if _cached is None:
            directory = Path(tempfile.mkdtemp(prefix=f"mediaserve-corpus-v{CORPUS_VERSION}-"))
            atexit.register(shutil.rmtree, directory, True)
            _cached = build_corpus(directory)
        return _cached


def max_channel_distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """The largest per-channel difference of two RGB(A) pixels, for tolerant colour asserts."""
    return max(abs(x - y) for x, y in zip(a[:3], b[:3], strict=True))


__all__ = [
    "BOMB_SIDE",
    "CORPUS_VERSION",
    "MARK_BOTTOM_RIGHT",
    "MARK_TOP_LEFT",
    "PHOTO_STORED_SIZE",
    "Corpus",
    "CorpusImage",
    "adobe_rgb_icc",
    "build_corpus",
    "display_p3_icc",
    "image_corpus",
    "max_channel_distance",
    "srgb_of",
]
