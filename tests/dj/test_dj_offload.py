"""Offload through Django: the settings, the view and middleware paths, the system checks
(E020/E021/W020) and ``manage.py mediaserve config`` reading the project's settings."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from harness import MediaTree
from mediaserve.django.checks.offload import check_offload

VIA = {"HTTP_X_MEDIASERVE_OFFLOAD": "x-accel-redirect"}


def offload_settings(**values: Any) -> Any:
    return override_settings(MEDIASERVE={"OFFLOAD": "x-accel-redirect", **values})


def test_view_offloads_through_an_announcing_proxy(media_settings: MediaTree) -> None:
    with offload_settings():
        response = Client().get("/media/hello.txt", **VIA)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_mediaserve/hello.txt"
    assert b"".join(response.streaming_content if response.streaming else [response.content]) == b""


def test_view_serves_the_file_itself_without_the_proxy(media_settings: MediaTree) -> None:
    with offload_settings():
        response = Client().get("/media/hello.txt")
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == media_settings.files["hello.txt"]


def test_custom_internal_prefix_is_used(media_settings: MediaTree) -> None:
    with offload_settings(OFFLOAD_PREFIX="/protected/"):
        response = Client().get("/media/hello.txt", **VIA)
    assert response["X-Accel-Redirect"] == "/protected/hello.txt"


def test_offload_uri_back_through_the_middleware_is_a_502(media_settings: MediaTree) -> None:
    middleware = ["mediaserve.django.middleware.MediaMiddleware"]
    with offload_settings(), override_settings(MIDDLEWARE=middleware):
        response = Client().get("/_mediaserve/hello.txt", **VIA)
    assert response.status_code == 502


def test_x_sendfile_uses_offload_root(media_settings: MediaTree) -> None:
    with offload_settings(OFFLOAD="x-sendfile", OFFLOAD_ROOT="/srv/media"):
        response = Client().get("/media/hello.txt", HTTP_X_MEDIASERVE_OFFLOAD="x-sendfile")
    assert response["X-Sendfile"] == "/srv/media/hello.txt"


# -- system checks ------------------------------------------------------------------------------


def test_no_offload_no_message(media_settings: MediaTree) -> None:
    assert check_offload() == []


def test_right_offload_settings_are_silent(media_settings: MediaTree) -> None:
    with offload_settings():
        assert check_offload() == []


@pytest.mark.parametrize(
    "values",
    [
        {"OFFLOAD": "x-accel"},
        {"OFFLOAD_PREFIX": "/_mediaserve"},  # the missing trailing slash
        {"OFFLOAD_PREFIX": "_mediaserve/"},
        {"OFFLOAD": "x-sendfile", "OFFLOAD_ROOT": "media"},
    ],
)
def test_unworkable_offload_is_e020_with_the_fix(
    media_settings: MediaTree, values: dict[str, str]
) -> None:
    with offload_settings(**values):
        messages = check_offload()
    assert [m.id for m in messages] == ["mediaserve.E020"]
    assert "mediaserve config" in messages[0].hint


def test_offload_prefix_inside_media_url_is_e021(media_settings: MediaTree) -> None:
    """nginx's internal location would swallow public URLs under it (or the reverse)."""
    with offload_settings(OFFLOAD_PREFIX="/media/internal/"):
        assert [m.id for m in check_offload()] == ["mediaserve.E021"]


def test_offload_with_media_on_another_host_is_w020(media_settings: MediaTree) -> None:
    with offload_settings(), override_settings(MEDIA_URL="https://cdn.example.com/media/"):
        assert [m.id for m in check_offload()] == ["mediaserve.W020"]


# -- manage.py mediaserve config ------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call_command("mediaserve", *args)
    return out.getvalue()


def test_config_command_reads_the_project_settings(media_settings: MediaTree) -> None:
    with offload_settings(OFFLOAD_PREFIX="/protected/", CACHE_CONTROL="public, max-age=60"):
        conf = run_command("config", "nginx", "--private", "private")
    assert f'alias "{media_settings.root}/";' in conf
    assert 'location ^~ "/protected/" {' in conf
    assert 'add_header Cache-Control "public, max-age=60";' in conf
    assert 'location ^~ "/media/private/" {' in conf


def test_config_command_follows_an_unset_offload(media_settings: MediaTree) -> None:
    """Settings without OFFLOAD: the proxy must not announce an offload the app won't do."""
    conf = run_command("config", "nginx")
    assert "X-Mediaserve-Offload" not in conf


def test_config_command_bad_option_is_a_command_error(media_settings: MediaTree) -> None:
    with pytest.raises(CommandError, match="status 2"):
        run_command("config", "nginx", "--media-root", "relative")


def test_config_command_sends_non_public_access_prefixes_to_the_app(
    media_settings: MediaTree,
) -> None:
    """ACCESS decides what is private; the generated proxy must not serve those prefixes."""
    access = {"invoices/": "signed", "staff/": "private", "catalog/": "public"}
    with offload_settings(ACCESS=access):
        conf = run_command("config", "nginx")
    assert 'location ^~ "/media/invoices/" {' in conf
    assert 'location ^~ "/media/staff/" {' in conf
    assert "/media/catalog/" not in conf


def test_config_command_for_storage_offload_fetches_from_the_store(
    media_settings: MediaTree,
) -> None:
    """STORAGE in offload mode: media live in the bucket, so every media URL goes to the app
    (which signs) and nginx gets the internal location that fetches from the store."""
    storage = {
        "BACKEND": "s3",
        "MODE": "offload",
        "BUCKET": "media",
        "ENDPOINT_URL": "http://127.0.0.1:8333",
        "REGION": "us-east-1",
    }
    with override_settings(MEDIASERVE={"STORAGE": storage}):
        conf = run_command("config", "nginx")
    assert "location /_mediaserve_store/ {" in conf
    assert "proxy_pass http://127.0.0.1:8333/;" in conf
    assert 'location ^~ "/media/" {\n        proxy_pass http://mediaserve_app;' in conf
    assert 'proxy_set_header X-Mediaserve-Offload "x-accel-redirect";' in conf
    assert "alias" not in conf
