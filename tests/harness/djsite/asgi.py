"""ASGI entry point: Django's own, or mediaserve's wrapper when the route is ``wrapper``."""

from __future__ import annotations

import os

from harness.djsite import ENV_ROUTE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harness.djsite.settings")

if os.environ.get(ENV_ROUTE) == "wrapper":
    from mediaserve.django.asgi import get_asgi_application
else:
    from django.core.asgi import get_asgi_application

application = get_asgi_application()
