"""URLconf of the in-process Django tests: MEDIA_URL through the view, and the health pages."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from mediaserve.django.health import health_urlpatterns
from mediaserve.django.urls import media_urlpatterns

urlpatterns = [*health_urlpatterns(), path("admin/", admin.site.urls), *media_urlpatterns()]
