"""Django entry points for the security suite: the view behind Django's own handler, and
mediaserve's fast wrapper in front of it."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sec_settings")

from django.core.wsgi import get_wsgi_application

from mediaserve.django.wsgi import MediaWSGIHandler

view = get_wsgi_application()
wrapper = MediaWSGIHandler(view)
