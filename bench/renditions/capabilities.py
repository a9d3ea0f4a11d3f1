"""What Pillow and pyvips can decode, and whether the result is right, on the image corpus.

``python -m bench.renditions.capabilities`` builds the corpus (tests/harness/images.py) and,
for each engine, turns every item into a 400 px JPEG the engine's fast way, then decodes the
result with Pillow and checks it: the size as displayed, the corner markers' colours (EXIF
orientation applied, ICC converted to sRGB), 8-bit RGB. A "fail" names what went wrong.
Not timed: this is the "can it" half of the library choice; the "how fast" half is
``python -m bench.renditions``.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BOX = 400


def load_corpus_module() -> ModuleType:
    """tests/harness/images.py, loaded by path: bench/ has its own ``harness`` package."""
    path = REPO / "tests" / "harness" / "images.py"
    spec = importlib.util.spec_from_file_location("mediaserve_bench_corpus", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pillow_thumb(path: Path) -> bytes:
    from PIL import Image, ImageCms, ImageOps

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    with Image.open(path) as im:
        im.seek(0)
        box = (BOX, BOX)
        im.draft("RGB", box)
        icc = im.info.get("icc_profile")
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit grey: scale to 8 bits (a plain convert("L") clips at 255).
            image = im.point(lambda v: v / 257).convert("L")
        else:
            image = im.copy()
        image.thumbnail(box, Image.Resampling.LANCZOS, 2.0)
        image = ImageOps.exif_transpose(image)
    if icc and image.mode in ("RGB", "CMYK"):
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out = ImageCms.profileToProfile(
            image, src, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
        assert out is not None
        image = out
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def pyvips_thumb(path: Path) -> bytes:
    import pyvips

    image = pyvips.Image.thumbnail(str(path), BOX, height=BOX, size="down", export_profile="srgb")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.format != "uchar":
        image = (
            image.cast("uchar") if image.interpretation != "grey16" else (image / 257).cast("uchar")
        )
    data: bytes = image.jpegsave_buffer(Q=85, keep="none")
    return data


def check(item: Any, data: bytes, corpus_mod: ModuleType) -> str:
    """``ok`` or what is wrong with a rendition of ``item`` (decoded by Pillow)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        problems = []
        w, h = item.display_size
        scale = min(BOX / w, BOX / h, 1.0)
        expected = (round(w * scale), round(h * scale))
        if abs(im.width - expected[0]) > 1 or abs(im.height - expected[1]) > 1:
            problems.append(f"size {im.size} != {expected}")
        if im.mode != "RGB":
            problems.append(f"mode {im.mode}")
        rgb = im.convert("RGB")
        if item.mark_top_left is not None and not problems:
            want = item.expected_srgb(item.mark_top_left)
            got = rgb.getpixel((3, 3))
            if corpus_mod.max_channel_distance(got, want) > 14:
                problems.append(f"top-left {got} != {want} (orientation/ICC)")
        if item.name == "png16_gray":
            top, bottom = rgb.getpixel((5, 2)), rgb.getpixel((5, rgb.height - 3))
            if not (top[0] < 40 and bottom[0] > 215):
                problems.append(f"ramp lost: top {top} bottom {bottom}")
        if item.name == "alpha_png" and rgb.getpixel((2, 2))[0] < 200:
            problems.append(f"transparent corner shown as {rgb.getpixel((2, 2))}")
    return "ok" if not problems else "; ".join(problems)


def run(engines: dict[str, Callable[[Path], bytes]]) -> dict[str, dict[str, str]]:
    corpus_mod = load_corpus_module()
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="rbench-caps-") as tmp:
        corpus = corpus_mod.build_corpus(Path(tmp))
        for item in corpus:
            row = results.setdefault(item.name, {})
            for name, thumb in engines.items():
                try:
                    data = thumb(item.path)
                except Exception as exc:  # the point is to record what each engine refuses
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    row[name] = f"error: {type(exc).__name__}: {first[:90]}"
                    continue
                row[name] = (
                    "decoded (no pixel limit!)"
                    if item.name == "bomb"
                    else check(item, data, corpus_mod)
                )
    return results


def main() -> int:
    engines: dict[str, Callable[[Path], bytes]] = {"pillow": pillow_thumb}
    try:
        import pyvips

        engines["pyvips"] = pyvips_thumb
        print(f"pyvips {pyvips.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}")
    except (ImportError, OSError) as exc:
        print(f"pyvips not usable: {exc}")
    import PIL

    print(f"Pillow {PIL.__version__}")
    results = run(engines)
    names = list(engines)
    print("| input | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for item, row in results.items():
        print(f"| {item} | " + " | ".join(row.get(n, "") for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
