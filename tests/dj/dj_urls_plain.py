"""No media route at all: what most projects have in production."""

from __future__ import annotations

from dj_urls import page
from django.urls import path

urlpatterns = [path("page/", page)]
