"""`manage.py showurls`: the URLs worth opening once the example runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from catalog.feed import absolute_url
from catalog.models import Product
from catalog.views import DOCKER_TEST_FILE


class Command(BaseCommand):
    help = "Print the catalog page, feed, a product image, docker-test.txt and admin URLs."

    def handle(self, *args: Any, **options: Any) -> None:
        base = settings.PUBLIC_BASE_URL
        product = Product.objects.exclude(image="").first()
        video = Product.objects.exclude(video="").first()
        rows = [
            ("catalog page", absolute_url(base, reverse("catalog:list"))),
            ("catalog feed (Meta CSV)", absolute_url(base, reverse("catalog:feed"))),
        ]
        if product:
            rows.append(("a product image", absolute_url(base, product.image.url)))
        if video:
            rows.append(("the product video", absolute_url(base, video.video.url)))
        rows += [
            ("docker-test.txt", absolute_url(base, settings.MEDIA_URL + DOCKER_TEST_FILE)),
            ("admin", absolute_url(base, reverse("admin:index"))),
        ]
        width = max(len(label) for label, _ in rows)
        for label, url in rows:
            self.stdout.write(f"  {label:<{width}}  {url}")
