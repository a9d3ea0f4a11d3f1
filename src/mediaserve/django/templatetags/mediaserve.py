"""``{% load mediaserve %}``: ``{% signed_media_url order.invoice %}`` in templates.

``{% signed_media_url name_or_fieldfile [expires_in=600] [method="GET"] %}`` prints
MEDIA_URL + the name + a signature (see ``mediaserve.django.access.signed_url``).
"""

from __future__ import annotations

from typing import Any

from django import template

from ..access import signed_url

register = template.Library()


@register.simple_tag
def signed_media_url(
    file_or_name: Any, expires_in: int | None = None, method: str | None = None
) -> str:
    """A signed URL; simple_tag escapes it for HTML (the ``&`` between parameters)."""
    return signed_url(file_or_name, expires_in=expires_in, method=method)
