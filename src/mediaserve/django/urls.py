"""``urlpatterns += media_urlpatterns()``: the one line that replaces ``static()``.

Unlike ``django.conf.urls.static.static()``, the pattern exists whatever DEBUG says.
"""

from __future__ import annotations

import re

from django.urls import URLPattern, re_path

from .conf import media_prefix
from .views import serve

__all__ = ["media_urlpatterns"]


def media_urlpatterns() -> list[URLPattern]:
    """The URL pattern for MEDIA_URL, or ``[]`` when MEDIA_URL is on another host.

    The prefix is read when the URLconf is loaded; the view reads everything else at
    request time.
    """
    prefix = media_prefix()
    if prefix is None or prefix == "/":
        # Serving media at the site root would shadow every other URL: refuse quietly
        # here, the system check mediaserve.E004 explains it.
        return []
    # (?s:...): "." must match a newline too, or a stored name holding one (uploaders choose
    # names) is a 404 from the URL resolver while every other delivery path serves it.
    pattern = rf"^{re.escape(prefix.lstrip('/'))}(?P<path>(?s:.*))$"
    return [re_path(pattern, serve, name="mediaserve")]
