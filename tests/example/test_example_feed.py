"""The Meta commerce catalog feed at /feed.csv."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from example_support import PUBLIC_BASE_URL, make_product

# Every test here needs Django set up, even those calling a function directly.
pytestmark = pytest.mark.usefixtures("example_django")

META_COLUMNS = [
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
    "brand",
]


def feed_rows(client: Any, **headers: str) -> list[dict[str, str]]:
    response = client.get("/feed.csv", **headers)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def test_feed_is_served_as_utf8_csv(client: Any) -> None:
    response = client.get("/feed.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_feed_header_row_has_metas_columns_in_order(client: Any) -> None:
    body = client.get("/feed.csv").content.decode("utf-8")
    assert body.split("\r\n", 1)[0] == ",".join(META_COLUMNS)


def test_rows_end_with_crlf_as_rfc_4180_says(client: Any) -> None:
    make_product()
    body = client.get("/feed.csv").content
    assert body.endswith(b"\r\n")
    assert body.count(b"\r\n") == 2
    assert b"\n" not in body.replace(b"\r\n", b"")


def test_row_carries_the_product_in_metas_vocabulary(client: Any) -> None:
    product = make_product(
        sku="CAFE-250",
        name="Café Especial",
        availability="out of stock",
        condition="refurbished",
        brand="Fazenda Aurora",
    )
    (row,) = feed_rows(client)
    assert row["id"] == "CAFE-250"
    assert row["title"] == "Café Especial"
    assert row["availability"] == "out of stock"
    assert row["condition"] == "refurbished"
    assert row["brand"] == "Fazenda Aurora"
    assert row["link"] == f"{PUBLIC_BASE_URL}/products/{product.pk}/"


@pytest.mark.parametrize(
    ("price", "currency", "expected"),
    [
        ("19.9", "BRL", "19.90 BRL"),  # Meta wants two decimals, then the ISO 4217 code
        ("5", "USD", "5.00 USD"),
        ("1299.00", "BRL", "1299.00 BRL"),  # no thousands separator
    ],
)
def test_price_has_two_decimals_and_the_currency_code(
    client: Any, price: str, currency: str, expected: str
) -> None:
    make_product(price=Decimal(price), currency=currency)
    (row,) = feed_rows(client)
    assert row["price"] == expected


def test_links_come_from_public_base_url_not_the_host_header(client: Any) -> None:
    # The feed is fetched through whatever address reaches the server (an IP, a tunnel); Meta
    # must still get the public site's URLs, and a client-chosen Host must not leak into them.
    make_product()
    (row,) = feed_rows(client, HTTP_HOST="127.0.0.1")
    assert row["link"].startswith(f"{PUBLIC_BASE_URL}/products/")
    assert row["image_link"].startswith(f"{PUBLIC_BASE_URL}/media/products/")


def test_image_link_percent_encodes_the_media_path(client: Any) -> None:
    # Names set outside the upload path (a script, a migration) can hold anything; `#`, `?` and
    # `%` would otherwise cut or corrupt the URL, and non-ASCII must be UTF-8 percent-encoded.
    make_product(image="products/Café com leite #1 ?100%.jpg")
    (row,) = feed_rows(client)
    assert row["image_link"] == (
        f"{PUBLIC_BASE_URL}/media/products/Caf%C3%A9%20com%20leite%20%231%20%3F100%25.jpg"
    )


def test_commas_quotes_and_line_breaks_survive_a_csv_round_trip(client: Any) -> None:
    make_product(
        name='Backpack 15", water-resistant',
        description='Fits a 15" laptop,\nkeeps "everything" dry.\r\n\tTwo pockets.',
        brand="Rota, Ltd",
    )
    body = client.get("/feed.csv").content.decode("utf-8")
    assert '"Backpack 15"", water-resistant"' in body  # quoted, inner quotes doubled
    (row,) = feed_rows(client)
    assert row["title"] == 'Backpack 15", water-resistant'
    # Line breaks are folded to spaces: one product, one physical line.
    assert row["description"] == 'Fits a 15" laptop, keeps "everything" dry. Two pockets.'
    assert row["brand"] == "Rota, Ltd"


def test_product_without_an_image_is_left_out(client: Any) -> None:
    # Meta rejects a row without image_link; better absent than an invalid row.
    make_product(sku="WITH-IMAGE")
    make_product(sku="NO-IMAGE", image="", image_width=None, image_height=None)
    assert [row["id"] for row in feed_rows(client)] == ["WITH-IMAGE"]


def test_feed_answers_head_and_refuses_post(client: Any) -> None:
    assert client.head("/feed.csv").status_code == 200
    assert client.post("/feed.csv").status_code == 405


def test_feed_lists_every_seeded_product(client: Any, media_root: Any) -> None:
    from django.core.management import call_command

    call_command("seed", count=3, no_video=True, stdout=io.StringIO())
    rows = feed_rows(client)
    assert [row["id"] for row in rows] == ["DEMO-001", "DEMO-002", "DEMO-003"]
    assert all(row["image_link"].endswith(".jpg") for row in rows)


class TestAbsoluteUrl:
    def test_keeps_a_path_prefix_of_the_base_url(self) -> None:
        # urljoin would drop "/shop" here: an app mounted under a prefix needs it kept.
        from catalog.feed import absolute_url

        assert absolute_url("https://x.example/shop", "/media/a.jpg") == (
            "https://x.example/shop/media/a.jpg"
        )

    def test_keeps_a_url_that_is_already_absolute(self) -> None:
        # MEDIA_URL may point at a CDN; its URLs are already what Meta should fetch.
        from catalog.feed import absolute_url

        assert absolute_url("https://x.example", "https://cdn.example/a.jpg") == (
            "https://cdn.example/a.jpg"
        )

    def test_adds_the_slash_a_relative_path_lacks(self) -> None:
        from catalog.feed import absolute_url

        assert absolute_url("https://x.example/", "media/a.jpg") == "https://x.example/media/a.jpg"
