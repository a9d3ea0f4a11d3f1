"""Renditions in a Django project, in process: URLs, the lazy build on a first request
through the media pipeline, the headers it is served with, refusals, the template tags,
the command and the system checks."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.images import Corpus

from .conftest import decode

KEY = r"[0-9a-f]{24}"
PHOTO = "products/photo.jpg"


@pytest.fixture
def media(tmp_path: Path, corpus: Corpus) -> Path:
    root = tmp_path / "media"
    (root / "products").mkdir(parents=True)
    (root / "private").mkdir()
    shutil.copy(corpus.photo.path, root / PHOTO)
    shutil.copy(corpus.alpha_png.path, root / "products/cutout.png")
    shutil.copy(corpus.small.path, root / "private/secret.png")
    shutil.copy(corpus.bomb.path, root / "products/bomb.png")
    (root / "products/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no JPEG")
    return root


def _settings(media: Path, **mediaserve: Any) -> dict[str, Any]:
    return {
        "MEDIA_ROOT": str(media),
        "MEDIA_URL": "/media/",
        "ROOT_URLCONF": "renditions.urls",
        "MIDDLEWARE": [],
        "ALLOWED_HOSTS": ["testserver"],
        "FORCE_SCRIPT_NAME": None,
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        "MEDIASERVE": {
            "ACCESS": {"private/": "private"},
            "RENDITION_BASE_URL": "https://shop.example",
            **mediaserve,
        },
    }


@pytest.fixture
def site(example_django: Any, media: Path) -> Iterator[Path]:
    from django.test import override_settings

    with override_settings(**_settings(media)):
        yield media


def _get(url: str, **headers: str) -> Any:
    from django.test import Client

    response = Client().get(url, **{f"HTTP_{k.upper()}": v for k, v in headers.items()})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def _built(media: Path) -> list[str]:
    top = media / "renditions"
    return (
        sorted(
            str(p.relative_to(media))
            for p in top.rglob("*")
            if p.is_file() and ".locks" not in p.parts
        )
        if top.exists()
        else []
    )


def test_rendition_url_is_content_addressed_and_readable(site: Path) -> None:
    from mediaserve.django.renditions import rendition_url

    url = rendition_url(PHOTO, "meta-catalog")
    assert re.fullmatch(rf"/media/renditions/meta-catalog/{KEY}/products/photo\.jpg\.jpg", url)
    assert rendition_url(PHOTO, "meta-catalog", absolute=True) == "https://shop.example" + url
    negotiated = rendition_url(PHOTO, "thumb-400")
    assert re.fullmatch(rf"/media/renditions/thumb-400/{KEY}/products/photo\.jpg", negotiated)
    assert rendition_url(PHOTO, "thumb-400", "webp").endswith("photo.jpg.webp")
    assert _built(site) == []  # naming a rendition builds nothing


def test_first_request_builds_then_serves_like_any_media_file(site: Path) -> None:
    from mediaserve.django.renditions import rendition_url

    url = rendition_url(PHOTO, "meta-catalog")
    response, body = _get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Accept-Ranges"] == "bytes"
    etag = response["ETag"]
    assert decode(body).size[1] == 1024
    assert _built(site) == [url.removeprefix("/media/")]
    # Now a stored file: a conditional request and a range, as for any media file.
    again, _ = _get(url, if_none_match=etag)
    assert again.status_code == 304
    part, chunk = _get(url, range="bytes=0-99")
    assert part.status_code == 206
    assert chunk == body[:100]
    assert part["Content-Range"] == f"bytes 0-99/{len(body)}"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "image/avif"),  # Chrome
        ("image/webp,*/*", "image/webp"),  # older Safari/Edge
        ("*/*", "image/jpeg"),  # crawlers, WhatsApp
        ("image/avif;q=0,image/webp", "image/webp"),  # refused explicitly
        ("", "image/jpeg"),
    ],
)
def test_negotiated_url_answers_per_accept_with_vary(
    site: Path, accept: str, content_type: str
) -> None:
    from mediaserve.django.renditions import rendition_url

    response, body = _get(rendition_url(PHOTO, "thumb-400"), accept=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Vary"] == "Accept"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert decode(body).size == (300, 400)


def test_changed_photo_gets_a_new_url_and_the_old_key_builds_nothing(
    site: Path, corpus: Corpus
) -> None:
    from mediaserve.django.renditions import rendition_url

    before = rendition_url(PHOTO, "meta-catalog")
    shutil.copy(corpus.photo_p3.path, site / PHOTO)
    after = rendition_url(PHOTO, "meta-catalog")
    assert after != before
    stale, _ = _get(before)
    assert stale.status_code == 404
    assert _built(site) == []


def test_forged_key_or_undeclared_preset_is_a_404_and_decodes_nothing(site: Path) -> None:
    forged, _ = _get(f"/media/renditions/meta-catalog/{'0' * 24}/{PHOTO}.jpg")
    assert forged.status_code == 404
    unknown, _ = _get(f"/media/renditions/w-9999/{'0' * 24}/{PHOTO}.jpg")
    assert unknown.status_code == 404
    assert _built(site) == []


def test_undecodable_source_is_a_415_with_the_reason(site: Path) -> None:
    from mediaserve.django.renditions import rendition_url

    response, body = _get(rendition_url("products/broken.jpg", "meta-catalog"))
    assert response.status_code == 415
    assert b"not an image" in body or b"cannot be decoded" in body
    assert response["Cache-Control"] == "no-store"


def test_decompression_bomb_is_a_413(site: Path) -> None:
    from mediaserve.django.renditions import rendition_url

    response, body = _get(rendition_url("products/bomb.png", "thumb-200", "jpeg"))
    assert response.status_code == 413
    assert b"refused before decoding" in body


def test_private_media_get_no_rendition(site: Path) -> None:
    """Renditions are public immutable URLs: a private photo must not leak through one."""
    from mediaserve.django.renditions import RenditionUnavailable, rendition_url
    from mediaserve.renditions import BUILTIN_PRESETS
    from mediaserve.renditions.keys import digest_of, rendition_name

    with pytest.raises(RenditionUnavailable, match="not public"):
        rendition_url("private/secret.png", "meta-catalog")
    digest = digest_of((site / "private/secret.png").read_bytes())
    name = rendition_name("private/secret.png", BUILTIN_PRESETS["meta-catalog"], digest, None)
    response, _ = _get("/media/" + name)
    assert response.status_code == 404
    assert _built(site) == []


def test_a_source_made_private_later_stops_its_renditions(example_django: Any, media: Path) -> None:
    from django.core.management import call_command
    from django.test import override_settings

    from mediaserve.django.renditions import rendition_url

    with override_settings(**_settings(media)):
        url = rendition_url(PHOTO, "meta-catalog")
        assert _get(url)[0].status_code == 200
    with override_settings(**_settings(media, ACCESS={"products/": "private"})):
        assert _get(url)[0].status_code == 404
        call_command("mediaserve", "renditions", "clean", "--quiet")
    assert _built(media) == []


def test_not_lazy_means_404_until_the_command_built_it(example_django: Any, media: Path) -> None:
    from django.core.management import call_command
    from django.test import override_settings

    from mediaserve.django.renditions import rendition_url

    with override_settings(**_settings(media, RENDITION_LAZY=False)):
        url = rendition_url(PHOTO, "meta-catalog")
        assert _get(url)[0].status_code == 404
        out = io.StringIO()
        call_command(
            "mediaserve", "renditions", "build", "--preset", "meta-catalog", "--quiet",
            PHOTO, stdout=out,
        )  # fmt: skip
        assert _get(url)[0].status_code == 200


def test_command_builds_every_image_and_cleans_what_is_stale(
    site: Path, corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from mediaserve.django.renditions import rendition_url

    with pytest.raises(CommandError):  # broken, bomb and private fail: status 1
        call_command("mediaserve", "renditions", "build", "--preset", "meta-catalog")
    out = capsys.readouterr()
    assert "5 source(s): 2 rendition(s) built, 0 already there, 3 failed" in out.out
    assert "products/broken.jpg [meta-catalog jpeg]: not an image" in out.err
    assert "products/bomb.png [meta-catalog jpeg]: " in out.err
    assert "refused before decoding" in out.err
    assert "private/secret.png [meta-catalog jpeg]: not public" in out.err
    built = _built(site)
    assert len(built) == 2
    call_command("mediaserve", "renditions", "build", "--missing", "--preset", "meta-catalog",
                 PHOTO)  # fmt: skip
    assert "0 rendition(s) built, 1 already there" in capsys.readouterr().out
    current = rendition_url(PHOTO, "meta-catalog").removeprefix("/media/")
    shutil.copy(corpus.photo_p3.path, site / PHOTO)  # the photo changes: its rendition is stale
    call_command("mediaserve", "renditions", "clean")
    assert "1 rendition(s) removed, 1 kept, 0 failed" in capsys.readouterr().out
    assert current not in _built(site)
    assert len(_built(site)) == 1


def test_template_tags_print_urls_and_srcset(site: Path) -> None:
    from django.template import Context, Template

    from mediaserve.django.renditions import rendition_url

    html = Template(
        "{% load mediaserve %}"
        '<img src="{% rendition_url name "thumb-400" %}"'
        ' srcset="{% rendition_srcset name "thumb-200" "thumb-400" %}">'
        '{% rendition_url name "meta-catalog" absolute=True %}|'
        '{% rendition_url "products/missing.jpg" "meta-catalog" %}|'
    ).render(Context({"name": PHOTO}))
    small, large = rendition_url(PHOTO, "thumb-200"), rendition_url(PHOTO, "thumb-400")
    assert f'srcset="{small} 200w, {large} 400w"' in html
    assert "https://shop.example" + rendition_url(PHOTO, "meta-catalog") + "|" in html
    assert html.endswith("||")  # a missing file: empty, logged, the page still renders


def test_checks_name_the_bad_preset_and_the_fix(example_django: Any, media: Path) -> None:
    from django.test import override_settings

    from mediaserve.django.checks.renditions import check_renditions

    with override_settings(**_settings(media)):
        assert [m.id for m in check_renditions() if m.id.startswith("mediaserve.E07")] == []
    bad = {"thumb-300": {"width": 300, "height": 300, "fit": "stretch"}}
    with override_settings(**_settings(media, RENDITIONS=bad)):
        (message,) = [m for m in check_renditions() if m.id == "mediaserve.E070"]
        assert "MEDIASERVE['RENDITIONS']['thumb-300']" in message.msg
        assert "fit 'stretch' must be one of fit, fill, pad" in message.msg
    catalog = {"meta-catalog": {"formats": ["webp"]}}
    with override_settings(**_settings(media, RENDITIONS=catalog)):
        assert "mediaserve.W071" in [m.id for m in check_renditions()]
    with override_settings(**_settings(media, RENDITION_DIRECTORY=".renditions")):
        assert "mediaserve.E071" in [m.id for m in check_renditions()]


def test_without_pillow_a_project_using_renditions_is_told_and_others_are_not(
    example_django: Any, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E076/W072 are for projects that use renditions (a RENDITION* key); a project without
    Pillow that never asked for them passes `manage.py check` (the wheel smoke test proves
    that in a real venv without Pillow), and a rendition URL answers 503 naming the install."""
    import importlib.util

    from django.test import override_settings

    from mediaserve.django.checks.renditions import check_renditions
    from mediaserve.renditions import BUILTIN_PRESETS, EngineMissing, render

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("PIL", "pillow_heif") else real(name, *a),
    )
    with override_settings(**_settings(media)):  # RENDITION_BASE_URL: renditions in use
        ids = [m.id for m in check_renditions()]
    assert "mediaserve.E076" in ids
    assert "mediaserve.W072" in ids
    plain = _settings(media)
    plain["MEDIASERVE"] = {"ACCESS": {"private/": "private"}}
    with override_settings(**plain):
        ids = [m.id for m in check_renditions()]
    assert "mediaserve.E076" not in ids
    assert "mediaserve.W072" not in ids
    with pytest.raises(EngineMissing) as caught:
        render(b"not read", BUILTIN_PRESETS["meta-catalog"])
    assert caught.value.status == 503
    assert "pip install 'mediaserve[renditions]'" in str(caught.value)


def test_under_asgi_the_first_request_builds_and_streams_it(site: Path) -> None:
    """Django's ASGI handler: the lazy build runs where the view runs (a worker thread),
    and the body is read on the I/O pool like any media file."""
    import asyncio

    from django.test import AsyncClient

    from mediaserve.django.renditions import rendition_url

    url = rendition_url(PHOTO, "thumb-200")

    async def fetch() -> tuple[Any, bytes]:
        response = await AsyncClient().get(url, headers={"Accept": "image/webp"})
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response, body

    response, body = asyncio.run(fetch())
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Vary"] == "Accept"
    assert decode(body).format == "WEBP"
