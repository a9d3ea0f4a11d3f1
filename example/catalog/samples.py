"""Sample data for the `seed` command: products, their JPEG images and one WebM product video
(a few MB, larger than Meta's probe range).

Images and video frames are drawn with Pillow; the video is encoded by the ffmpeg binary that the
PyPI package imageio-ffmpeg ships, so the example needs no system ffmpeg.
"""

from __future__ import annotations

import colorsys
import functools
import io
import os
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

IMAGE_SIZE = (800, 800)  # Meta asks for at least 500x500; WhatsApp shows product images square
VIDEO_SIZE = (640, 360)
VIDEO_FPS = 24
VIDEO_SECONDS = 4
# One keyframe per second: a browser seeking to any time decodes at most a second of frames.
VIDEO_KEYFRAME_INTERVAL = VIDEO_FPS
# About 3 MB for the 4 seconds: several times Meta's probe range (Range: bytes=0-524288), so a
# crawler fetching it, a browser seeking and `curl -r 0-524288` all get a real 206 of part of
# the file, as they would for a customer's product clip. Constant bitrate, and film grain on
# the frames (flat colours alone compress to ~100 KB whatever bitrate is asked for).
VIDEO_BITRATE = "6M"
VIDEO_MIN_BYTES = 4 * 524_289  # four times the probe: checked by the tests
_GRAIN_FRAMES = 7  # noise images cycled under the drawing: cheap to make, as costly to encode

DOCKER_TEST_TEXT = (
    "mediaserve docker test\nIf you can read this, MEDIA_ROOT is being served at MEDIA_URL.\n"
)


@dataclass(frozen=True)
class SampleProduct:
    sku: str
    name: str
    brand: str
    description: str
    price: Decimal
    availability: str = "in stock"
    condition: str = "new"

    @property
    def rgb(self) -> tuple[int, int, int]:
        """A colour of its own per product: hues spread by the golden ratio never bunch up."""
        number = int(self.sku.rsplit("-", 1)[-1])
        hue = (number * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.55, 0.92)
        return round(r * 255), round(g * 255), round(b * 255)


# A small shop selling over WhatsApp. Some values carry commas, quotes, line breaks and accents on
# purpose: the feed must escape and encode them.
# (name, brand, description, price[, availability[, condition]])
# fmt: off
CATALOG = (
    ("Café Especial Medium Roast 250 g", "Fazenda Aurora",
     'Notes of chocolate, caramel and "yellow fruit".\nGround to order.', "39.90"),
    ("Açaí Bowl Kit (4 servings)", "Tropicale",
     "Frozen açaí, granola & banana chips; keep at -18 °C.", "54.00"),
    ("Pulse X Bluetooth Earbuds", "SomBom",
     "30 h battery, USB-C case, IPX4.", "199.90"),
    ("Nova 5 Smartphone 128 GB", "Nova",
     "Refurbished and tested, 12-month warranty.", "1299.00", "in stock", "refurbished"),
    ("Organic Cotton T-shirt", "Verde Vivo",
     "Sizes S to XL. Natural dyes.", "79.90"),
    ("Light Running Shoes", "Passo",
     "Ships in 3 weeks; reserve your size now.", "349.90", "preorder"),
    ("Thermal Bottle 750 ml", "Gelada",
     "Keeps drinks cold for 24 h, hot for 12 h.", "89.90", "out of stock"),
    ("Urban Backpack 20 L", "Rota",
     'Fits a 15" laptop, water-resistant.', "229.00"),
    ("Grandma's Recipes (book)", "Editora Fogão",
     "Second-hand copy in good shape, 240 pages.", "59.90", "in stock", "used"),
    ("LED Desk Lamp", "Brilho",
     "Three colour temperatures, dimmable.", "149.00"),
    ("Watercolour Brush Set", "Arte Viva",
     "Six synthetic brushes, sizes 0 to 12.", "64.50"),
    ("Lavender Handmade Soap", "Ervas & Cia",
     "Cold-process, 100 g bar.", "18.90"),
)
# fmt: on


def sample_product(number: int) -> SampleProduct:
    """The `number`-th sample (1-based); past the list, names repeat with a suffix."""
    name, brand, description, price, *rest = CATALOG[(number - 1) % len(CATALOG)]
    if number > len(CATALOG):
        name = f"{name} #{(number - 1) // len(CATALOG) + 1}"
    return SampleProduct(f"DEMO-{number:03d}", name, brand, description, Decimal(price), *rest)


# Fonts tried in turn (Pillow looks in the system's font directories). Pillow's embedded font is
# the fallback; it has no accented letters, so text drawn with it is folded to ASCII first.
FONT_FILES = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf")


@functools.cache
def _font_file() -> str | None:
    for name in FONT_FILES:
        try:
            ImageFont.truetype(name, 12)
        except OSError:
            continue
        return name
    return None


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = _font_file()
    return ImageFont.truetype(name, size) if name else ImageFont.load_default(size=size)


def _text(text: str) -> str:
    """`text` as the chosen font can draw it."""
    if _font_file():
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Greedy word wrap to `width` pixels."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _ink_for(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return (20, 20, 20) if luminance > 140 else (250, 250, 250)


def product_image(product: SampleProduct, currency: str) -> bytes:
    """A square JPEG with the product's colour, name, price and SKU drawn on it."""
    width, height = IMAGE_SIZE
    background = product.rgb
    ink = _ink_for(background)
    image = Image.new("RGB", IMAGE_SIZE, background)
    draw = ImageDraw.Draw(image)
    # A darker card and a big disc make neighbouring thumbnails easy to tell apart.
    shade = tuple(int(c * 0.75) for c in background)
    draw.rounded_rectangle((40, 40, width - 40, height - 40), radius=48, fill=shade)
    draw.ellipse((width - 330, 80, width - 90, 320), fill=ink)
    number = product.sku.rsplit("-", 1)[-1].lstrip("0")
    draw.text((width - 210, 200), number, font=_font(120), fill=shade, anchor="mm")

    y = 360
    for line in _wrap(_text(product.name), _font(56), width - 160)[:3]:
        draw.text((80, y), line, font=_font(56), fill=ink)
        y += 68
    draw.text((80, y + 16), _text(product.brand), font=_font(40), fill=ink)
    draw.text((80, height - 140), f"{product.price} {currency}", font=_font(56), fill=ink)
    draw.text((80, 90), product.sku, font=_font(36), fill=ink)

    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def _video_frame(product: SampleProduct, index: int) -> bytes:
    width = VIDEO_SIZE[0]
    seconds = index / VIDEO_FPS
    background = product.rgb
    ink = _ink_for(background)
    frame = Image.new("RGB", VIDEO_SIZE, background)
    draw = ImageDraw.Draw(frame)
    # The time is drawn on every frame, so a seek can be checked by eye.
    draw.text((width // 2, 150), f"{seconds:4.2f} s", font=_font(96), fill=ink, anchor="mm")
    draw.text((width // 2, 60), _text(product.name), font=_font(32), fill=ink, anchor="mm")
    progress = index / (VIDEO_FPS * VIDEO_SECONDS - 1)
    draw.rectangle((40, 260, 40 + int((width - 80) * progress), 290), fill=ink)
    x = 40 + int((width - 120) * progress)
    draw.ellipse((x, 300, x + 40, 340), fill=ink)
    grained = Image.blend(frame, _grain()[index % _GRAIN_FRAMES], 0.25)
    return grained.tobytes()


@functools.cache
def _grain() -> tuple[Image.Image, ...]:
    return tuple(Image.effect_noise(VIDEO_SIZE, 48).convert("RGB") for _ in range(_GRAIN_FRAMES))


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # imported here: only seeding needs it, not the web process

    return imageio_ffmpeg.get_ffmpeg_exe()


def product_video(product: SampleProduct, out: Path) -> None:
    """Encode a short WebM (VP9, no audio, ~3 MB) with the product's colours to `out`.

    VP9 in WebM is royalty-free, so every Chromium build decodes it whatever its codec flags
    (H.264 support depends on how a distribution built Chromium); Firefox and current Safari play
    it too. A keyframe every second (`-g` = `-keyint_min` = fps) keeps seeking quick. The
    realtime encoder at constant bitrate (VIDEO_BITRATE) takes seconds where "good" took
    minutes for grained frames, and the size is what the bitrate says.
    """
    width, height = VIDEO_SIZE
    command = [
        ffmpeg_exe(),
        "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
        "-r", str(VIDEO_FPS), "-i", "pipe:0",
        "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p",
        "-b:v", VIDEO_BITRATE, "-minrate", VIDEO_BITRATE, "-maxrate", VIDEO_BITRATE,
        "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
        "-g", str(VIDEO_KEYFRAME_INTERVAL), "-keyint_min", str(VIDEO_KEYFRAME_INTERVAL),
        "-an", "-f", "webm", os.fspath(out),
    ]  # fmt: skip
    # stderr goes to a file, not a pipe: a full pipe would stall ffmpeg while we feed its stdin.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=log)
        assert process.stdin is not None
        try:
            for index in range(VIDEO_FPS * VIDEO_SECONDS):
                process.stdin.write(_video_frame(product, index))
        except BrokenPipeError:
            pass  # ffmpeg exited early; its log says why
        finally:
            process.stdin.close()
        returncode = process.wait()
        if returncode != 0:
            log.seek(0)
            detail = log.read().decode("utf-8", "replace").strip()
            raise RuntimeError(f"ffmpeg exited with {returncode}: {detail}")
