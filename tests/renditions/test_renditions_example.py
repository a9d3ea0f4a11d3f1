"""The example shop with renditions: its Meta feed links the ``meta-catalog`` rendition, and
``build_on_save`` builds a product's renditions after its upload is committed."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from harness.images import Corpus

from .conftest import decode


@pytest.fixture
def shop(example_django: Any, tmp_path: Path, corpus: Corpus) -> Iterator[Path]:
    """The example's settings over a fresh MEDIA_ROOT holding a phone photo; database
    changes rolled back."""
    from django.db import transaction
    from django.test import override_settings

    media = tmp_path / "media"
    (media / "products").mkdir(parents=True)
    shutil.copy(corpus.photo_p3.path, media / "products/phone.jpg")
    with override_settings(MEDIA_ROOT=str(media)), transaction.atomic():
        yield media
        transaction.set_rollback(True)


def _product(**fields: Any) -> Any:
    from catalog.models import Product

    values: dict[str, Any] = {
        "sku": "REND-1",
        "name": "Phone photo product",
        "description": "d",
        "price": Decimal("9.90"),
        "currency": "BRL",
        "brand": "b",
        "image": "products/phone.jpg",
        "image_width": 1512,
        "image_height": 2016,
        **fields,
    }
    return Product.objects.create(**values)


def test_feed_image_link_is_the_meta_catalog_rendition_meta_can_fetch(shop: Path) -> None:
    from django.conf import settings
    from django.test import Client

    from catalog.feed import write_feed
    from mediaserve.django.renditions import rendition_url

    product = _product()
    out = io.StringIO()
    write_feed(out, [product], settings.PUBLIC_BASE_URL)
    row = out.getvalue().splitlines()[1]
    link = settings.PUBLIC_BASE_URL + rendition_url(product.image, "meta-catalog")
    assert f",{link}," in row
    response = Client().get(link.removeprefix(settings.PUBLIC_BASE_URL))
    assert response.status_code == 200
    image = decode(b"".join(response.streaming_content))
    assert image.format == "JPEG"
    assert min(image.size) >= 500


def test_build_on_save_builds_after_commit_off_the_request(shop: Path) -> None:
    from django.test import TestCase

    from catalog.models import Product
    from mediaserve.django.renditions import build_on_save, rendition_url, wait_for_builds

    disconnect = build_on_save(Product, "image", ["meta-catalog", "thumb-200"])
    try:
        with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
            product = _product()
            assert not (shop / "renditions").exists()  # nothing before the commit
        assert len(callbacks) == 1
        wait_for_builds(timeout=60)
    finally:
        assert disconnect()
    folder = shop / "renditions"
    built = sorted(p.suffix for p in folder.rglob("*.*") if ".locks" not in p.parts)
    assert built == [".avif", ".jpg", ".jpg", ".webp"]  # meta-catalog, thumb-200 x3
    stored = shop / rendition_url(product.image, "meta-catalog").removeprefix("/media/")
    assert stored.is_file()
