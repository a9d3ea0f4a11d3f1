"""Public pages: the catalog, a product, the Meta feed and a health check."""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from catalog.feed import write_feed
from catalog.models import Product

DOCKER_TEST_FILE = "docker-test.txt"


def video_type(name: str) -> str:
    """The `type` of a <source>, so a browser skips a format it cannot play without fetching it."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@require_safe
def product_list(request: HttpRequest) -> HttpResponse:
    products = list(Product.objects.all())
    featured = next((p for p in products if p.video), None)
    return render(
        request,
        "catalog/product_list.html",
        {
            "products": products,
            "featured": featured,
            "featured_video_type": video_type(featured.video.name) if featured else "",
            "docker_test_url": settings.MEDIA_URL + DOCKER_TEST_FILE,
        },
    )


@require_safe
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "video_type": video_type(product.video.name) if product.video else "",
        },
    )


@require_safe
def feed_csv(request: HttpRequest) -> HttpResponse:
    # Links come from PUBLIC_BASE_URL, not request.build_absolute_uri(): the Host header is the
    # client's to choose, and a feed fetched through a tunnel or by IP must still point at the
    # public site.
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    write_feed(response, Product.objects.all(), settings.PUBLIC_BASE_URL)
    return response


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
