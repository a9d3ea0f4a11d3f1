"""The public pages, the admin, and media and static files as the example serves them."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from example_support import make_product


class Tags(HTMLParser):
    """Collects start tags with their attributes, enough to check what a page links to."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


@pytest.fixture
def seeded(db: None) -> Path:
    """Seeded into the session's MEDIA_ROOT: the media URLs may have bound it at first use, so
    a per-test override would not reach them."""
    from django.conf import settings
    from django.core.management import call_command

    call_command("seed", count=3, no_video=True, stdout=io.StringIO())
    return Path(settings.MEDIA_ROOT)


def test_catalog_page_shows_every_product_image_with_size_and_alt(
    client: Any, seeded: Path
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    images = [img for img in Tags(response.content.decode()).all("img")]
    assert [img["alt"] for img in images] == [
        "Café Especial Medium Roast 250 g",
        "Açaí Bowl Kit (4 servings)",
        "Pulse X Bluetooth Earbuds",
    ]
    for img in images:
        # width/height let the browser reserve the space before the image arrives.
        assert (img["width"], img["height"]) == ("800", "800")
        # A thumbnail rendition (built on its first request, AVIF/WebP/JPEG by Accept), with
        # the three sizes in srcset; the seeded original stays where it was.
        src = str(img["src"])
        assert src.startswith("/media/renditions/thumb-400/")
        assert (seeded / src.split("/", 5)[5]).is_file()
        assert len(str(img["srcset"]).split(", ")) == 3
        shown = client.get(src, HTTP_ACCEPT="image/webp,*/*")
        assert shown.status_code == 200
        assert shown["Content-Type"] == "image/webp"


def test_catalog_page_plays_one_product_video(client: Any) -> None:
    make_product(sku="NO-VIDEO")
    make_product(sku="VIDEO-1", video="videos/demo.webm")
    make_product(sku="VIDEO-2", video="videos/other.webm")
    tags = Tags(client.get("/").content.decode())
    (video,) = tags.all("video")
    assert "controls" in video
    assert video["preload"] == "metadata"  # fetch the header (a range request), not the film
    (source,) = tags.all("source")
    assert source["src"] == "/media/videos/demo.webm"
    assert source["type"] == "video/webm"  # lets a browser skip a format it cannot play


def test_catalog_page_links_the_feed_and_docker_test_txt(client: Any, seeded: Path) -> None:
    hrefs = {a["href"] for a in Tags(client.get("/").content.decode()).all("a")}
    assert {"/feed.csv", "/media/docker-test.txt", "/admin/"} <= hrefs


def test_catalog_page_without_products_says_how_to_add_some(client: Any) -> None:
    assert b"manage.py seed" in client.get("/").content


def test_product_page_shows_the_product(client: Any) -> None:
    product = make_product(name="Lamp <b>bright</b>", description="Line one\nLine two")
    response = client.get(f"/products/{product.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lamp &lt;b&gt;bright&lt;/b&gt;" in html  # escaped, never markup
    assert "Line one<br>Line two" in html
    assert "19.90 BRL" in html


def test_unknown_product_is_404(client: Any) -> None:
    assert client.get("/products/999999/").status_code == 404


def test_404_page_is_not_the_debug_page(client: Any) -> None:
    # DEBUG is off unless DJANGO_DEBUG=1: no URLconf listing, no settings dump.
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"URLconf" not in response.content


def test_healthz_answers_ok(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_media_is_served_with_debug_off(client: Any, seeded: Path) -> None:
    # Django's own static() helper serves nothing when DEBUG is False; media_urlpatterns() must.
    response = client.get("/media/docker-test.txt")
    assert response.status_code == 200
    assert body_of(response) == (seeded / "docker-test.txt").read_bytes()


def test_product_image_is_served_byte_for_byte(client: Any, seeded: Path) -> None:
    from catalog.models import Product

    product = Product.objects.first()
    assert product is not None
    response = client.get(product.image.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert body_of(response) == Path(product.image.path).read_bytes()


def test_missing_media_file_is_404(client: Any, seeded: Path) -> None:
    assert client.get("/media/products/nope.jpg").status_code == 404


def test_stylesheet_is_a_collected_static_file(client: Any) -> None:
    tags = Tags(client.get("/").content.decode())
    (link,) = [attrs for attrs in tags.all("link") if attrs.get("rel") == "stylesheet"]
    href = link["href"] or ""
    # Hashed name from the manifest storage, so it can be cached forever.
    assert href.startswith("/static/catalog/catalog.")
    assert href.endswith(".css")
    assert href != "/static/catalog/catalog.css"
    response = client.get(href)
    assert response.status_code == 200
    assert b"--accent" in body_of(response)


class TestAdmin:
    @pytest.fixture
    def admin_client(self, client: Any) -> Any:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
        client.force_login(user)
        return client

    def test_change_list_shows_a_thumbnail_per_product(self, admin_client: Any) -> None:
        product = make_product()
        html = admin_client.get("/admin/catalog/product/").content.decode()
        thumbnails = [img for img in Tags(html).all("img") if img.get("width") == "64"]
        assert [img["src"] for img in thumbnails] == [product.image.url]

    def test_search_finds_a_product_by_sku(self, admin_client: Any) -> None:
        make_product(sku="FIND-ME", name="Findable")
        make_product(sku="OTHER", name="Hidden")
        html = admin_client.get("/admin/catalog/product/", {"q": "FIND-ME"}).content.decode()
        assert "Findable" in html
        assert "Hidden" not in html

    def test_change_form_previews_the_image(self, admin_client: Any) -> None:
        product = make_product()
        html = admin_client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()
        previews = [img for img in Tags(html).all("img") if img.get("width") == "240"]
        assert [img["src"] for img in previews] == [product.image.url]


class TestEnsureAdmin:
    def run(self, monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
        from django.core.management import call_command

        for name in ("ADMIN_USERNAME", "ADMIN_PASSWORD", "ADMIN_EMAIL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        out = io.StringIO()
        call_command("ensure_admin", stdout=out)
        return out.getvalue()

    def test_does_nothing_without_admin_password(
        self, db: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from django.contrib.auth import get_user_model

        assert "not set" in self.run(monkeypatch)
        assert not get_user_model().objects.exists()

    def test_creates_then_leaves_the_user_alone(
        self, db: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from django.contrib.auth import get_user_model

        assert "created" in self.run(monkeypatch, ADMIN_PASSWORD="s3cret-pass")
        assert "unchanged" in self.run(monkeypatch, ADMIN_PASSWORD="s3cret-pass")
        user = get_user_model().objects.get(username="admin")
        assert user.is_superuser
        assert user.check_password("s3cret-pass")

    def test_a_new_password_in_the_environment_replaces_the_old(
        self, db: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from django.contrib.auth import get_user_model

        self.run(monkeypatch, ADMIN_PASSWORD="first-pass", ADMIN_USERNAME="owner")
        assert "updated" in self.run(
            monkeypatch, ADMIN_PASSWORD="second-pass", ADMIN_USERNAME="owner"
        )
        assert get_user_model().objects.get(username="owner").check_password("second-pass")
