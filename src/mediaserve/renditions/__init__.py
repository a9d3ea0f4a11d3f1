"""Renditions: declared presets of an image (Meta's catalog, WhatsApp, link previews, browser
thumbnails), built once off the request path and served like any media file.

This package is pixels and names only (layer 2: no Django, no pipeline): ``render`` turns
source bytes into a rendition, ``keys`` names where it is stored and at which URL. The Django
side (settings, ``rendition_url``, the lazy build on a miss, the command) is
``mediaserve.django.renditions``. See docs/renditions.md.
"""

from __future__ import annotations

from .engine import (
    DEFAULT_MAX_PIXELS,
    CannotFit,
    EngineMissing,
    Rendered,
    RenditionError,
    TooManyPixels,
    Undecodable,
    engine_name,
    render,
)
from .presets import BUILTIN_PRESETS, Preset, PresetError, preset_from_dict

__all__ = [
    "BUILTIN_PRESETS",
    "DEFAULT_MAX_PIXELS",
    "CannotFit",
    "EngineMissing",
    "Preset",
    "PresetError",
    "Rendered",
    "RenditionError",
    "TooManyPixels",
    "Undecodable",
    "engine_name",
    "preset_from_dict",
    "render",
]
