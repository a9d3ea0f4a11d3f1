"""The URLconf of the in-process renditions tests: media (renditions included) only."""

from __future__ import annotations

from mediaserve.django.urls import media_urlpatterns

urlpatterns = media_urlpatterns()
