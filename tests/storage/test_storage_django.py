"""In-process parts of MEDIASERVE["STORAGE"]: the Django-storage backend (any STORAGES entry,
here FileSystemStorage) through Django's test client, and the system checks E030-E035."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings
from storage_support import BUCKET, storage_setting

from harness import SeaweedS3
from mediaserve.django.checks import storage as storage_checks

BIG = bytes(range(256)) * 1000


@pytest.fixture
def fs_storage(example_django: Any, tmp_path: Path) -> Iterator[Path]:
    """BACKEND 'django' over a FileSystemStorage alias 'uploads' rooted in tmp_path."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "big.bin").write_bytes(BIG)
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"},
        },
    }
    storage = {"BACKEND": "django", "STORAGE_ALIAS": "uploads", "MODE": "proxy"}
    with override_settings(
        MEDIA_URL="/media/", ROOT_URLCONF="s3site.urls", STORAGES=storages,
        MEDIASERVE={"STORAGE": storage}, ALLOWED_HOSTS=["testserver"], MIDDLEWARE=[],
    ):  # fmt: skip
        yield tmp_path


def test_django_storage_get_is_byte_exact(fs_storage: Path) -> None:
    response = Client().get("/media/docs/big.bin")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == BIG  # type: ignore[attr-defined]


def test_django_storage_range_is_206(fs_storage: Path) -> None:
    response = Client().get("/media/docs/big.bin", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == BIG[1000:2000]  # type: ignore[attr-defined]


def test_django_storage_etag_revalidates_to_304(fs_storage: Path) -> None:
    etag = Client().head("/media/docs/big.bin")["ETag"]
    response = Client().get("/media/docs/big.bin", headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_django_storage_missing_and_traversal_are_404(fs_storage: Path) -> None:
    assert Client().get("/media/docs/missing.bin").status_code == 404
    assert Client().get("/media/docs/../../etc/passwd").status_code == 404


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def test_a_valid_s3_storage_is_silent(example_django: Any, seaweed: SeaweedS3) -> None:
    with override_settings(MEDIASERVE={"STORAGE": storage_setting(seaweed)}):
        assert storage_checks.check_storage() == []


@pytest.mark.parametrize(
    ("storage", "named"),
    [
        ({"MODE": "redirect", "BUCKET": None}, "['BUCKET'] is not set"),
        ({"MODE": "offlaod"}, "['MODE'] must be one of"),
        ({"EXPIRY": 0}, "['EXPIRY'] must be 1-604800"),
        ({"ENDPOINT_URL": "s3.example.com"}, "['ENDPOINT_URL'] must start with https://"),
        ({"SECRET_ACCESS_KEY": None}, "set both"),
        ({"BUKCET": "x"}, "unknown MEDIASERVE['STORAGE'] key(s) BUKCET"),
    ],
)
def test_bad_storage_settings_are_e030_naming_the_key(
    example_django: Any, seaweed: SeaweedS3, storage: dict[str, Any], named: str
) -> None:
    with override_settings(MEDIASERVE={"STORAGE": storage_setting(seaweed, **storage)}):
        messages = storage_checks.check_storage()
    assert ids(messages) == ["mediaserve.E030"]
    assert named in messages[0].msg


def test_a_wrongly_typed_secret_is_not_echoed(example_django: Any, seaweed: SeaweedS3) -> None:
    with override_settings(
        MEDIASERVE={"STORAGE": storage_setting(seaweed, SECRET_ACCESS_KEY=12345678)}
    ):
        messages = storage_checks.check_storage()
    assert ids(messages) == ["mediaserve.E030"]
    assert "12345678" not in messages[0].msg


def test_unknown_storage_alias_is_e032(fs_storage: Path) -> None:
    with override_settings(MEDIASERVE={"STORAGE": {"BACKEND": "django", "STORAGE_ALIAS": "x"}}):
        assert ids(storage_checks.check_storage()) == ["mediaserve.E032"]


def test_redirect_to_filesystem_storage_is_e033(fs_storage: Path) -> None:
    """FileSystemStorage.url() is MEDIA_URL: redirecting there loops forever."""
    storage = {"BACKEND": "django", "STORAGE_ALIAS": "uploads", "MODE": "redirect"}
    with override_settings(MEDIASERVE={"STORAGE": storage}):
        assert ids(storage_checks.check_storage()) == ["mediaserve.E033"]


def test_public_url_without_public_flag_is_w030(example_django: Any, seaweed: SeaweedS3) -> None:
    """A custom domain cannot carry S3 presigning: say it is meant to be public, or sign."""
    storage = storage_setting(seaweed, MODE="redirect", PUBLIC_URL="https://cdn.example.com/")
    with override_settings(MEDIASERVE={"STORAGE": storage}):
        assert ids(storage_checks.check_storage()) == ["mediaserve.W030"]
    with override_settings(MEDIASERVE={"STORAGE": {**storage, "PUBLIC": True}}):
        assert storage_checks.check_storage() == []


def test_neither_endpoint_nor_region_is_w031(example_django: Any, seaweed: SeaweedS3) -> None:
    storage = storage_setting(seaweed, ENDPOINT_URL=None, REGION=None)
    with override_settings(MEDIASERVE={"STORAGE": storage}):
        assert ids(storage_checks.check_storage()) == ["mediaserve.W031"]


def test_deploy_check_passes_for_a_reachable_bucket(
    example_django: Any, seaweed: SeaweedS3, bucket: dict[str, bytes]
) -> None:
    with override_settings(MEDIASERVE={"STORAGE": storage_setting(seaweed)}):
        assert storage_checks.check_storage_reachable() == []


def test_deploy_check_names_a_missing_bucket(example_django: Any, seaweed: SeaweedS3) -> None:
    with override_settings(MEDIASERVE={"STORAGE": storage_setting(seaweed, BUCKET="no-bucket")}):
        messages = storage_checks.check_storage_reachable()
    assert ids(messages) == ["mediaserve.E035"]
    assert "BUCKET" in messages[0].hint


def test_deploy_check_names_the_credential_settings_not_the_secret(
    example_django: Any, seaweed: SeaweedS3, bucket: dict[str, bytes]
) -> None:
    secret = "not-the-right-secret-at-all"
    storage = storage_setting(seaweed, SECRET_ACCESS_KEY=secret)
    with override_settings(MEDIASERVE={"STORAGE": storage}):
        messages = storage_checks.check_storage_reachable()
    assert ids(messages) == ["mediaserve.E035"]
    assert "['SECRET_ACCESS_KEY']" in messages[0].msg
    assert secret not in messages[0].msg + messages[0].hint


def test_check_deploy_command_fails_on_an_unreachable_store(example_django: Any) -> None:
    storage = {"BUCKET": BUCKET, "ENDPOINT_URL": "http://127.0.0.1:9", "CONNECT_TIMEOUT": 1,
               "MAX_ATTEMPTS": 1, "ACCESS_KEY_ID": "k", "SECRET_ACCESS_KEY": "s"}  # fmt: skip
    with (
        override_settings(MEDIASERVE={"STORAGE": storage}),
        pytest.raises(SystemCheckError, match=r"mediaserve\.E035"),
    ):
        call_command("check", "--deploy", verbosity=0)


def test_django_storage_redirect_goes_to_the_storage_url(
    example_django: Any, tmp_path: Path
) -> None:
    """BACKEND 'django' in redirect mode: Location is the storage's own url(); an unsigned
    URL is cached like the file, and nothing is read from the storage to answer."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "cdn": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "https://cdn.example.com/m/"},
        },
    }
    storage = {"BACKEND": "django", "STORAGE_ALIAS": "cdn", "MODE": "redirect"}
    with override_settings(
        MEDIA_URL="/media/", ROOT_URLCONF="s3site.urls", STORAGES=storages,
        MEDIASERVE={"STORAGE": storage}, ALLOWED_HOSTS=["testserver"], MIDDLEWARE=[],
    ):  # fmt: skip
        response = Client().get("/media/products/a%20b.jpg")
    assert response.status_code == 302
    assert response["Location"] == "https://cdn.example.com/m/products/a%20b.jpg"
    assert response["Cache-Control"] == "public, max-age=3600"


def _s3_alias(seaweed: SeaweedS3, **options: Any) -> dict[str, Any]:
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "media": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }


def _seaweed_options(seaweed: SeaweedS3) -> dict[str, Any]:
    return {
        "bucket_name": BUCKET, "endpoint_url": seaweed.endpoint, "region_name": seaweed.region,
        "access_key": seaweed.access_key, "secret_key": seaweed.secret_key,
        "addressing_style": "path",
    }  # fmt: skip


@pytest.mark.parametrize("configured_by", ["OPTIONS", "AWS_* settings"])
def test_a_django_storages_s3_alias_is_served_with_ranged_gets(
    example_django: Any, seaweed: SeaweedS3, bucket: dict[str, bytes], configured_by: str
) -> None:
    """BACKEND 'django' on a django-storages S3 alias uses the native S3 source, built from
    the alias's options or django-storages' global settings (django-storages itself is not
    even installed here: its S3File would download whole objects before the first byte)."""
    opts = _seaweed_options(seaweed)
    globals_: dict[str, Any] = {}
    if configured_by == "OPTIONS":
        storages = _s3_alias(seaweed, **opts)
    else:
        storages = _s3_alias(seaweed)
        globals_ = {
            "AWS_STORAGE_BUCKET_NAME": opts["bucket_name"],
            "AWS_S3_ENDPOINT_URL": opts["endpoint_url"],
            "AWS_S3_REGION_NAME": opts["region_name"],
            "AWS_ACCESS_KEY_ID": opts["access_key"],
            "AWS_SECRET_ACCESS_KEY": opts["secret_key"],
            "AWS_S3_ADDRESSING_STYLE": "path",
        }
    storage = {"BACKEND": "django", "STORAGE_ALIAS": "media", "MODE": "proxy"}
    with override_settings(
        MEDIA_URL="/media/", ROOT_URLCONF="s3site.urls", STORAGES=storages,
        MEDIASERVE={"STORAGE": storage}, ALLOWED_HOSTS=["testserver"], MIDDLEWARE=[],
        **globals_,
    ):  # fmt: skip
        whole = Client().get("/media/big.bin")
        part = Client().get("/media/big.bin", headers={"Range": "bytes=5-14"})
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == bucket["big.bin"]  # type: ignore[attr-defined]
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == bucket["big.bin"][5:15]  # type: ignore[attr-defined]


def test_custom_domain_without_signing_is_w032(example_django: Any, seaweed: SeaweedS3) -> None:
    """django-storages with custom_domain signs only with CloudFront keys; without them it
    silently hands out permanent unsigned URLs."""
    storages = _s3_alias(seaweed, bucket_name="b", custom_domain="cdn.example.com")
    with override_settings(STORAGES=storages):
        messages = storage_checks.check_storages_signing()
    assert ids(messages) == ["mediaserve.W032"]
    assert "'media'" in messages[0].msg


@pytest.mark.parametrize(
    "extra",
    [{"querystring_auth": False}, {"cloudfront_key_id": "K1", "cloudfront_key": "-----BEGIN"}],
)
def test_custom_domain_public_or_cloudfront_signed_is_silent(
    example_django: Any, seaweed: SeaweedS3, extra: dict[str, Any]
) -> None:
    storages = _s3_alias(seaweed, bucket_name="b", custom_domain="cdn.example.com", **extra)
    with override_settings(STORAGES=storages):
        assert storage_checks.check_storages_signing() == []


def test_public_custom_domain_alias_redirects_there(
    example_django: Any, seaweed: SeaweedS3
) -> None:
    storages = _s3_alias(
        seaweed, **_seaweed_options(seaweed), custom_domain="cdn.example.com",
        querystring_auth=False,
    )  # fmt: skip
    storage = {"BACKEND": "django", "STORAGE_ALIAS": "media", "MODE": "redirect"}
    with override_settings(
        MEDIA_URL="/media/", ROOT_URLCONF="s3site.urls", STORAGES=storages,
        MEDIASERVE={"STORAGE": storage}, ALLOWED_HOSTS=["testserver"], MIDDLEWARE=[],
    ):  # fmt: skip
        response = Client().get("/media/a%20b.jpg")
    assert response.status_code == 302
    assert response["Location"] == "https://cdn.example.com/a%20b.jpg"


def test_a_plain_get_is_one_store_request_and_a_range_two(
    example_django: Any, seaweed: SeaweedS3, bucket: dict[str, bytes]
) -> None:
    """A plain GET (an <img>) has nothing to decide before the body: one GET describes the
    object and streams it. A Range or validator needs the HEAD first (the plan may be a
    304 or a 416), then only the planned bytes."""
    from mediaserve.django.pipeline import get_pipeline

    storage = storage_setting(seaweed, MODE="proxy")
    with override_settings(
        MEDIA_URL="/media/", ROOT_URLCONF="s3site.urls", MEDIASERVE={"STORAGE": storage},
        ALLOWED_HOSTS=["testserver"], MIDDLEWARE=[],
    ):  # fmt: skip
        pipeline = get_pipeline()
        assert pipeline is not None
        mount = pipeline.mount
        assert mount is not None
        sent: list[str] = []
        client = mount.source.driver.client  # type: ignore[attr-defined]
        client.meta.events.register(
            "before-send.s3", lambda request, **kw: sent.append(request.method)
        )
        plain = Client().get("/media/big.bin")
        assert b"".join(plain.streaming_content) == bucket["big.bin"]  # type: ignore[attr-defined]
        plain_requests, sent[:] = list(sent), []
        ranged = Client().get("/media/big.bin", headers={"Range": "bytes=0-9"})
        assert b"".join(ranged.streaming_content) == bucket["big.bin"][:10]  # type: ignore[attr-defined]
    assert plain_requests == ["GET"]
    assert sent == ["HEAD", "GET"]


def test_media_middleware_serves_storage_without_a_url_pattern(
    example_django: Any, seaweed: SeaweedS3, bucket: dict[str, bytes]
) -> None:
    """MediaMiddleware answers MEDIA_URL from the bucket before the URL resolver runs."""
    with override_settings(
        MEDIA_URL="/media/", ROOT_URLCONF="s3site.urls_plain",
        MEDIASERVE={"STORAGE": storage_setting(seaweed, MODE="proxy")},
        ALLOWED_HOSTS=["testserver"],
        MIDDLEWARE=["mediaserve.django.middleware.MediaMiddleware"],
    ):  # fmt: skip
        found = Client().get("/media/hello.txt")
        other = Client().get("/healthz")
    assert found.status_code == 200
    assert b"".join(found.streaming_content) == bucket["hello.txt"]  # type: ignore[attr-defined]
    assert other.status_code == 200
