"""WSGI entry point: `gunicorn shop.wsgi:application` (run from example/).

mediaserve's `get_wsgi_application` is a drop-in for Django's: requests under MEDIA_URL are served
from MEDIA_ROOT before Django's handler, URL resolver and middleware run; the rest goes to Django.
"""

import os

from mediaserve.django.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

application = get_wsgi_application()
