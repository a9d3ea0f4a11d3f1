"""``{% load mediaserve %}``: ``{% signed_media_url order.invoice %}`` in templates.

``{% signed_media_url name_or_fieldfile [expires_in=600] [method="GET"] %}`` prints
MEDIA_URL + the name + a signature (see ``mediaserve.django.access.signed_url``).

``{% rendition_url product.image "meta-catalog" [fmt="webp"] [absolute=True] %}`` prints a
rendition's immutable URL; ``{% rendition_srcset product.image "thumb-200" "thumb-400" %}``
prints a ``srcset`` value (``url 200w, url 400w``). Both print an empty string (and log
why) when the file has no rendition, so one bad photo does not break a catalog page.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template

from ..access import signed_url
from ..renditions import RenditionUnavailable, get_renditions
from ..renditions import rendition_url as _rendition_url

register = template.Library()
logger = logging.getLogger("mediaserve.renditions")


@register.simple_tag
def signed_media_url(
    file_or_name: Any, expires_in: int | None = None, method: str | None = None
) -> str:
    """A signed URL; simple_tag escapes it for HTML (the ``&`` between parameters)."""
    return signed_url(file_or_name, expires_in=expires_in, method=method)


@register.simple_tag(takes_context=True)
def rendition_url(
    context: Any, file_or_name: Any, preset: str, fmt: str | None = None, absolute: bool = False
) -> str:
    """A rendition's URL; ``absolute`` uses RENDITION_BASE_URL or the page's request."""
    try:
        return _rendition_url(
            file_or_name, preset, fmt, absolute=absolute, request=context.get("request")
        )
    except RenditionUnavailable as exc:
        logger.warning("mediaserve: {%% rendition_url %%} left empty: %s", exc)
        return ""


@register.simple_tag
def rendition_srcset(file_or_name: Any, *presets: str) -> str:
    """``url 200w, url 400w`` for ``presets``, each described by its box width (the width
    of a landscape or square photo; a portrait one is narrower, and the browser's choice
    errs towards sharper)."""
    parts = []
    try:
        renditions = get_renditions()
        for name in presets:
            width = renditions.preset(name).width
            parts.append(f"{_rendition_url(file_or_name, name)} {width}w")
    except RenditionUnavailable as exc:
        logger.warning("mediaserve: {%% rendition_srcset %%} left empty: %s", exc)
        return ""
    return ", ".join(parts)
