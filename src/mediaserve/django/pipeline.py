"""The pipeline for the current Django settings: MEDIA_URL over MEDIA_ROOT (or the store of
``MEDIASERVE["STORAGE"]``), with ``ACCESS`` and ``RATE_LIMIT``.

Every Django entry point (the view, the middleware, the WSGI and ASGI wrappers) asks
:func:`get_pipeline` and runs the same ``Pipeline.decide``. Built when a request first needs
it and again after any setting it reads changes (``override_settings``, a deployment tool).
"""

from __future__ import annotations

import os

from django.conf import settings

from ..pipeline.decide import Pipeline
from ..pipeline.mount import Mount
from .access import build_access
from .conf import (
    SettingsError,
    hot_limits_from,
    media_prefix,
    offload_from,
    options_from,
    read_values,
    settings_cached,
)
from .ratelimit import build_limiter
from .rendition_service import RenditionPipeline, renditions_for
from .storage import StorageSettingsError, build_storage_mount, read_storage

__all__ = ["get_pipeline"]


@settings_cached(
    "MEDIASERVE",
    "MEDIA_URL",
    "MEDIA_ROOT",
    "FORCE_SCRIPT_NAME",
    "STORAGES",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "CACHES",
)
def get_pipeline() -> Pipeline | None:
    """The pipeline for MEDIA_URL; ``None`` when this process serves no media (MEDIA_URL on
    another host, or no MEDIA_ROOT). Raises SettingsError naming a bad setting."""
    mount = _mount()
    if mount is None:
        return None
    values = read_values()
    access = build_access(values)
    # Renditions (docs/renditions.md) are answered under the same mount by the same steps.
    limiter = build_limiter(values)
    renditions = renditions_for(mount, access, limiter, values)
    return RenditionPipeline(mount, access, limiter, renditions)


def _mount() -> Mount | None:
    values = read_values()
    prefix = media_prefix()
    if prefix is None:
        return None
    options = options_from(values)
    if values["STORAGE"] is not None:
        try:
            return build_storage_mount(read_storage(values["STORAGE"]), prefix, options)
        except StorageSettingsError as exc:
            raise SettingsError(str(exc)) from None
    root = str(getattr(settings, "MEDIA_ROOT", "") or "")
    if not root:
        return None
    offload = offload_from(values, os.path.abspath(root))
    return Mount.create(root, prefix, options, offload, hot=hot_limits_from(values))
