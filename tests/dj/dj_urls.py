"""URLconfs for the Django tests (selected with override_settings(ROOT_URLCONF=...))."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from mediaserve.django.urls import media_urlpatterns


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"page at {request.path}", content_type="text/plain")


urlpatterns = [path("page/", page), *media_urlpatterns()]
