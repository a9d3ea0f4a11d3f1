"""Django's ASGI handler behind mediaserve's fast ASGI wrapper, for the security suite."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sec_settings")

from mediaserve.django.asgi import get_asgi_application

wrapper = get_asgi_application()
