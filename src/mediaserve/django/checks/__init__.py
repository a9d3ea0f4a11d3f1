"""The system checks (``mediaserve.E001``...; docs/checks.md), one module per area.

Importing this package registers them with Django (``MediaserveConfig.ready`` does). The
doctor's ``settings`` hop runs :data:`SETTINGS_CHECKS` too, so each question about the
settings is answered here once; routing is left to its ``routing`` hop, which asks
:func:`core.media_entry_point` and resolves the very path being diagnosed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.checks import CheckMessage

from . import core, offload, renditions, security, storage

__all__ = ["SETTINGS_CHECKS", "core", "offload", "renditions", "security", "storage"]

#: Every check that reads the settings alone (no URL resolution, no network), in id order.
SETTINGS_CHECKS: tuple[Callable[[Sequence[Any] | None], Sequence[CheckMessage]], ...] = (
    core.check_settings,
    core.check_media_root,
    core.check_upload_permissions,
    offload.check_offload,
    storage.check_storage,
    storage.check_storages_signing,
    security.check_access,
    security.check_rate_limit,
    renditions.check_renditions,
)
