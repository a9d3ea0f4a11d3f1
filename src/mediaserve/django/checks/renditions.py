"""System checks for renditions (ids mediaserve.E070-E079 / W070-W079; docs/checks.md).

Every check names the setting and what to set: a preset that cannot work is found at
start-up, not when Meta fetches the feed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from ...policy.platforms import META_CATALOG_IMAGE
from ...renditions.engine import DEFAULT_MAX_PIXELS
from ...renditions.presets import CONTENT_TYPES
from ..conf import SettingsError, read_values
from ..rendition_service import read_presets

__all__ = ["check_renditions"]

_DOCS = "See docs/renditions.md for every preset field and RENDITION_* key."


def _values() -> dict[str, Any] | None:
    try:
        return read_values()
    except SettingsError:
        return None  # E001 reports it


def _declared_keys() -> list[object]:
    declared = getattr(settings, "MEDIASERVE", None)
    return list(declared) if isinstance(declared, dict) else []


@register(Tags.compatibility)
def check_renditions(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    values = _values()
    if values is None:
        return []
    messages: list[CheckMessage] = []
    try:
        presets = read_presets(values)
    except SettingsError as exc:
        messages.append(Error(str(exc), hint=_DOCS, id="mediaserve.E070"))
        presets = {}
    directory = values["RENDITION_DIRECTORY"]
    if (
        not directory
        or directory.startswith((".", "/"))
        or "/" in directory.strip("/")
        or directory in (".", "..")
    ):
        messages.append(
            Error(
                f"MEDIASERVE['RENDITION_DIRECTORY'] {directory!r} must be one folder name that"
                " does not start with a dot (dot names are never served).",
                hint="The default 'renditions' is right for most projects.",
                id="mediaserve.E071",
            )
        )
    if values["RENDITION_CONCURRENCY"] < 1 or values["RENDITION_WAIT"] <= 0:
        messages.append(
            Error(
                "MEDIASERVE['RENDITION_CONCURRENCY'] must be at least 1 and"
                " MEDIASERVE['RENDITION_WAIT'] above 0 seconds.",
                hint="e.g. RENDITION_CONCURRENCY = 2 (per process), RENDITION_WAIT = 20.",
                id="mediaserve.E072",
            )
        )
    if values["RENDITION_MAX_PIXELS"] < 1_000_000:
        messages.append(
            Error(
                "MEDIASERVE['RENDITION_MAX_PIXELS'] is under 1 megapixel: every phone photo"
                " would be refused.",
                hint=f"The default, {DEFAULT_MAX_PIXELS:,}, takes 48 MP photos.",
                id="mediaserve.E073",
            )
        )
    base = values["RENDITION_BASE_URL"]
    if base is not None and not base.startswith(("https://", "http://")):
        messages.append(
            Error(
                f"MEDIASERVE['RENDITION_BASE_URL'] {base!r} must be an absolute URL.",
                hint="e.g. 'https://shop.example' (the public address Meta fetches from).",
                id="mediaserve.E074",
            )
        )
    engine = values["RENDITION_ENGINE"]
    if engine not in (None, "pillow"):
        messages.append(
            Error(
                f"MEDIASERVE['RENDITION_ENGINE'] {engine!r} is not an engine.",
                hint="Leave it unset (Pillow).",
                id="mediaserve.E075",
            )
        )
    # Pillow and pillow-heif are asked for by projects that use renditions (a RENDITION*
    # key in MEDIASERVE): any other project without Pillow is simply one without renditions
    # (a rendition URL then answers 503 naming the install).
    declared = any(str(key).startswith("RENDITION") for key in _declared_keys())
    if declared and importlib.util.find_spec("PIL") is None:
        messages.append(
            Error(
                "renditions need Pillow, which is not installed.",
                hint="pip install 'mediaserve[renditions]'",
                id="mediaserve.E076",
            )
        )
    cache = values["RENDITION_CACHE"]
    caches = getattr(settings, "CACHES", None) or {"default": {}}
    if cache not in caches:
        messages.append(
            Error(
                f"MEDIASERVE['RENDITION_CACHE'] {cache!r} is not a CACHES alias.",
                hint=f"Use one of {', '.join(map(repr, caches))}.",
                id="mediaserve.E077",
            )
        )
    elif values["STORAGE"] is not None:
        backend = str(caches[cache].get("BACKEND", "django.core.cache.backends.locmem.LocMemCache"))
        if backend.endswith(("LocMemCache", "DummyCache", "FileBasedCache")):
            messages.append(
                Warning(
                    f"media are in object storage but RENDITION_CACHE {cache!r} is"
                    f" {backend.rsplit('.', 1)[-1]}, which other hosts do not share: each"
                    " host builds a missing rendition itself (no single flight across hosts).",
                    hint="Point RENDITION_CACHE at a shared cache (Redis, Memcached).",
                    id="mediaserve.W070",
                )
            )
    catalog = presets.get("meta-catalog")
    if catalog is not None and (
        CONTENT_TYPES[catalog.fallback] not in META_CATALOG_IMAGE.types
        or min(catalog.width, catalog.height) < (META_CATALOG_IMAGE.min_side_px or 0)
    ):
        messages.append(
            Warning(
                "MEDIASERVE['RENDITIONS']['meta-catalog'] makes images Meta's catalog refuses"
                f" (it takes {', '.join(sorted(META_CATALOG_IMAGE.types))} of at least"
                f" {META_CATALOG_IMAGE.min_side_px} px a side).",
                hint="Keep formats ending in 'jpeg' and a box of at least 500x500.",
                id="mediaserve.W071",
            )
        )
    if declared and importlib.util.find_spec("pillow_heif") is None:
        messages.append(
            Warning(
                "pillow-heif is not installed: HEIC/HEIF photos (iPhones) get no renditions (415).",
                hint="pip install 'mediaserve[renditions]'",
                id="mediaserve.W072",
            )
        )
    return messages
