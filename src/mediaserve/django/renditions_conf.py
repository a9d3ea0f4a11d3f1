"""The ``MEDIASERVE`` keys of renditions (``RENDITIONS`` and ``RENDITION_*``), with their
defaults and types; ``conf.py`` merges them into the one settings table, so an unknown or
mistyped key is refused there like any other."""

from __future__ import annotations

from typing import Any

from ..renditions.engine import DEFAULT_MAX_PIXELS
from ..renditions.keys import DEFAULT_DIRECTORY

__all__ = ["RENDITION_DEFAULTS", "RENDITION_TYPES"]

RENDITION_DEFAULTS: dict[str, Any] = {
    # Preset name -> fields (over the built-in preset of that name, if any), or None to
    # withdraw a built-in preset. See docs/renditions.md.
    "RENDITIONS": {},
    # The folder under MEDIA_ROOT (or the bucket) renditions are stored in and served from.
    "RENDITION_DIRECTORY": DEFAULT_DIRECTORY,
    # Sources with more pixels are refused before decoding (decompression bombs).
    "RENDITION_MAX_PIXELS": DEFAULT_MAX_PIXELS,
    # Build a missing rendition when it is first requested (False: 404 until built).
    "RENDITION_LAZY": True,
    # Builds at once per process; a request waits RENDITION_WAIT seconds for a slot (and
    # for another process building the same rendition), then gets a 503 with Retry-After.
    "RENDITION_CONCURRENCY": 2,
    "RENDITION_WAIT": 20,
    # The Django cache holding the build locks when media are in object storage (shared
    # by every host, e.g. Redis) and the source digests rendition_url() remembers.
    "RENDITION_CACHE": "default",
    # Absolute rendition URLs (feeds, WhatsApp messages) start with this, e.g.
    # "https://shop.example"; None: rendition_url(absolute=True) needs a request.
    "RENDITION_BASE_URL": None,
    # "pillow" (default) or another engine of mediaserve.renditions.engine.
    "RENDITION_ENGINE": None,
}

RENDITION_TYPES: dict[str, type | tuple[type, ...]] = {
    "RENDITIONS": dict,
    "RENDITION_DIRECTORY": str,
    "RENDITION_MAX_PIXELS": int,
    "RENDITION_LAZY": bool,
    "RENDITION_CONCURRENCY": int,
    "RENDITION_WAIT": (int, float),
    "RENDITION_CACHE": str,
    "RENDITION_BASE_URL": (str, type(None)),
    "RENDITION_ENGINE": (str, type(None)),
}
