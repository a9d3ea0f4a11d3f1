"""System checks for proxy offload (ids E020-E029, W020-W029).

An offload set-up that cannot work shows up in production as an empty 200, a 404 from the
proxy or a request looping back to the app; all of it is visible in the settings alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from ...pipeline.offload import METHODS, Offload, OffloadError
from ..conf import SettingsError, media_prefix, read_values

__all__ = ["check_offload"]


@register(Tags.compatibility)
def check_offload(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        values = read_values()
    except SettingsError:
        return []  # reported as mediaserve.E001
    method = values["OFFLOAD"]
    if method is None:
        return []
    root = str(getattr(settings, "MEDIA_ROOT", "") or "")
    try:
        offload = Offload(
            method,
            values["OFFLOAD_PREFIX"],
            values["OFFLOAD_ROOT"] or (os.path.abspath(root) if root else None),
        )
    except OffloadError as exc:
        return [
            Error(
                f"MEDIASERVE offload settings cannot work: {exc}.",
                hint=f"OFFLOAD is one of {', '.join(METHODS)}; OFFLOAD_PREFIX looks like "
                "'/_mediaserve/' (both slashes); OFFLOAD_ROOT is MEDIA_ROOT's absolute path as "
                "the proxy sees it. Regenerate the proxy config with `mediaserve config`.",
                id="mediaserve.E020",
            )
        ]
    messages: list[CheckMessage] = []
    prefix = media_prefix()
    if prefix is None:
        messages.append(
            Warning(
                "MEDIASERVE['OFFLOAD'] is set but MEDIA_URL is empty or on another host, so "
                "this process serves no media and nothing is offloaded.",
                hint="Remove OFFLOAD, or point MEDIA_URL at a path of this site ('/media/').",
                id="mediaserve.W020",
            )
        )
        return messages
    internal = offload.internal_prefix
    if method != "x-sendfile" and (internal.startswith(prefix) or prefix.startswith(internal)):
        # The proxy's internal location would swallow public URLs (or the other way round):
        # every public file would 404 at the proxy, or offload URIs would reach the app.
        messages.append(
            Error(
                f"OFFLOAD_PREFIX {internal!r} overlaps MEDIA_URL's path {prefix!r}.",
                hint="Use a prefix of its own, e.g. MEDIASERVE['OFFLOAD_PREFIX'] = "
                "'/_mediaserve/', and the same in the proxy's internal location.",
                id="mediaserve.E021",
            )
        )
    return messages
