"""The project behind mediaserve's wrappers, which answer MEDIA_URL before Django runs."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s3site.settings")
os.environ.setdefault("S3SITE_URLCONF", "s3site.urls_plain")

from mediaserve.django.asgi import get_asgi_application
from mediaserve.django.wsgi import get_wsgi_application

wsgi = get_wsgi_application()
asgi = get_asgi_application()
