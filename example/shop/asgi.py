"""ASGI entry point: `uvicorn shop.asgi:application` (run from example/).

mediaserve's `get_asgi_application` is a drop-in for Django's: requests under MEDIA_URL are served
from MEDIA_ROOT before Django's handler runs; the rest goes to Django.
"""

import os

from mediaserve.django.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

application = get_asgi_application()
