"""The public catalog feed in Meta's commerce CSV format.

One header row, then one row per product, with the columns Meta's catalog "data feed" upload reads
(https://www.facebook.com/business/help/120325381656392). Values are written with the csv module,
which quotes fields holding commas, quotes or line breaks (RFC 4180), with CRLF line ends.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import urlsplit

from catalog.models import Product
from mediaserve.django.renditions import RenditionUnavailable, rendition_url

#: The rendition Meta fetches: JPEG, 1024 px, at least 500x500, under Meta's size limit, at
#: an immutable URL that changes whenever the photo does (Meta never re-fetches a URL).
FEED_IMAGE_PRESET = "meta-catalog"

FEED_COLUMNS = (
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
    "brand",
)


class Writable(Protocol):
    def write(self, s: str, /) -> object: ...


def absolute_url(base_url: str, path_or_url: str) -> str:
    """Join PUBLIC_BASE_URL and a site path; a URL that is already absolute is kept.

    The path must already be percent-encoded (Django's `FieldFile.url` and `reverse()` both are),
    so it is appended as it is rather than through `urljoin`, which would drop a path prefix in
    the base URL (`https://example.com/shop` + `/media/x`).
    """
    if urlsplit(path_or_url).scheme:
        return path_or_url  # e.g. MEDIA_URL on a CDN
    if not path_or_url.startswith("/"):
        path_or_url = "/" + path_or_url
    return base_url.rstrip("/") + path_or_url


def plain_text(value: str) -> str:
    """Collapse runs of whitespace, line breaks included, to one space.

    Quoted line breaks are valid CSV, but Meta's feed processors and spreadsheet round-trips are
    known to split rows on them; a description reads the same on one line.
    """
    return " ".join(value.split())


def image_link(product: Product, base_url: str) -> str:
    """The ``meta-catalog`` rendition's absolute URL; the original's when there is none (the
    file is missing or not public: mediaserve logs why), as the feed linked before."""
    try:
        path = rendition_url(product.image, FEED_IMAGE_PRESET)
    except RenditionUnavailable:
        path = product.image.url
    return absolute_url(base_url, path)


def feed_row(product: Product, base_url: str) -> list[str]:
    return [
        product.sku,
        plain_text(product.name),
        plain_text(product.description),
        product.availability,
        product.condition,
        product.feed_price,
        absolute_url(base_url, product.get_absolute_url()),
        image_link(product, base_url),
        plain_text(product.brand),
    ]


def write_feed(out: Writable, products: Iterable[Product], base_url: str) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FEED_COLUMNS)
    for product in products:
        if product.image:  # Meta rejects rows without image_link
            writer.writerow(feed_row(product, base_url))
