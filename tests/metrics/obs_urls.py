"""The example's URLs with the staff-only observability pages before the admin's."""

from __future__ import annotations

from mediaserve.django.health import health_urlpatterns
from shop.urls import urlpatterns as shop_urlpatterns

urlpatterns = [*health_urlpatterns(), *shop_urlpatterns]
