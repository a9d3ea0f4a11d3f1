"""The renditions test site through mediaserve's WSGI wrapper (media answered before
Django runs, renditions included)."""

from __future__ import annotations

from mediaserve.django.wsgi import get_wsgi_application

application = get_wsgi_application()
