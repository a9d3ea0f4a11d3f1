"""The WSGI app the serving comparison runs under gunicorn: a minimal Django project with
mediaserve's ``get_wsgi_application`` (media, renditions included, answered before Django)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.renditions.djsettings")
os.environ.setdefault("RBENCH_SUBJECT", "mediaserve")

from mediaserve.django.wsgi import get_wsgi_application

application = get_wsgi_application()
