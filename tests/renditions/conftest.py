"""Fixtures of the renditions tests: the real-input corpus (``harness.images``) and decoding
helpers shared by the engine, Django and server tests."""

from __future__ import annotations

import io
from typing import Any

import pytest

from harness.images import Corpus, image_corpus


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return image_corpus()


def decode(data: bytes) -> Any:
    """The encoded rendition opened with Pillow (pillow-heif registered for HEIC)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def corner(image: Any, where: str, inset: float = 0.04) -> tuple[int, int, int]:
    """The RGB colour near a corner (inside the corpus' 12 % markers)."""
    width, height = image.size
    x = int(width * inset) if where.endswith("left") else width - 1 - int(width * inset)
    y = int(height * inset) if where.startswith("top") else height - 1 - int(height * inset)
    pixel = image.convert("RGB").getpixel((x, y))
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 24) -> bool:
    return max(abs(x - y) for x, y in zip(a[:3], b[:3], strict=True)) <= tolerance
