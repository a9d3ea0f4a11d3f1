"""System checks: each id fires for the misconfiguration it names, with the fix in the hint,
and stays silent when the project is configured right."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import WARNING
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from harness import MediaTree
from mediaserve.django.checks import core as checks


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def run_all() -> list[Any]:
    return [
        *checks.check_settings(),
        *checks.check_media_root(),
        *checks.check_upload_permissions(),
        *checks.check_routing(),
    ]


def test_a_right_configuration_is_silent(media_settings: MediaTree, tmp_path: Path) -> None:
    with override_settings(STATIC_ROOT=str(tmp_path / "static"), FILE_UPLOAD_PERMISSIONS=0o644):
        assert run_all() == []


def test_the_example_project_passes_manage_py_check(example_django: Any) -> None:
    """The example as configured (its wsgi.py wrapper routes media): no error, no warning."""
    call_command("check", "--fail-level", "WARNING", verbosity=0)


def test_check_command_fails_on_an_error(example_django: Any) -> None:
    with (
        override_settings(
            ROOT_URLCONF="dj_urls_plain", WSGI_APPLICATION=None, ASGI_APPLICATION=None
        ),
        pytest.raises(SystemCheckError, match=r"mediaserve\.E005"),
    ):
        call_command("check", verbosity=0)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"CACHE_CONTOL": "x"}, "CACHE_CONTOL"),
        ({"MAX_RANGES": "16"}, "MAX_RANGES"),
        ({"MAX_RANGES": 0}, "max_ranges"),
        ({"CHUNK_SIZE": 10}, "chunk_size"),
        ("not a dict", "MEDIASERVE"),
    ],
)
def test_e001_bad_mediaserve_setting(media_settings: MediaTree, value: Any, words: str) -> None:
    with override_settings(MEDIASERVE=value):
        messages = checks.check_settings()
    assert ids(messages) == ["mediaserve.E001"]
    assert words in messages[0].msg


def test_e002_media_root_that_cannot_be_created(media_settings: MediaTree, tmp_path: Path) -> None:
    """Its parent is missing too: the first upload would fail, the path is most likely wrong."""
    with override_settings(MEDIA_ROOT=str(tmp_path / "nope" / "media")):
        messages = checks.check_media_root()
    assert ids(messages) == ["mediaserve.E002"]
    assert "parent" in messages[0].msg
    assert "does not exist" in messages[0].msg
    assert "mkdir" in messages[0].hint


def test_e002_media_root_under_a_read_only_parent(
    media_settings: MediaTree, tmp_path: Path
) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir(mode=0o555)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("running as root: every directory is writable")
        with override_settings(MEDIA_ROOT=str(parent / "media")):
            messages = checks.check_media_root()
    finally:
        parent.chmod(0o755)
    assert ids(messages) == ["mediaserve.E002"]
    assert "not writable" in messages[0].msg


def test_e002_media_root_under_a_file(media_settings: MediaTree, tmp_path: Path) -> None:
    """A typo that puts MEDIA_ROOT under a file: no upload can ever create it."""
    (tmp_path / "settings.txt").write_text("x")
    with override_settings(MEDIA_ROOT=str(tmp_path / "settings.txt" / "media")):
        messages = checks.check_media_root()
    assert ids(messages) == ["mediaserve.E002"]
    assert "is not a directory" in messages[0].msg


def test_w060_media_root_django_creates_on_the_first_upload(
    media_settings: MediaTree, tmp_path: Path
) -> None:
    """A fresh clone: media/ is git-ignored, its parent (the project) is writable. Django's
    storage creates it on the first upload, so it is a Warning, not an Error."""
    with override_settings(MEDIA_ROOT=str(tmp_path / "media")):
        messages = checks.check_media_root()
    assert ids(messages) == ["mediaserve.W060"]
    assert messages[0].level == WARNING
    assert "first upload" in messages[0].msg


def test_a_fresh_clone_without_media_runs_migrate_and_test_commands(
    example_django: Any, tmp_path: Path
) -> None:
    """``manage.py check`` (what migrate, makemigrations and test run first) passes at its
    default fail level when only the git-ignored media folder is missing; the upload then
    creates it and the file is stored."""
    root = tmp_path / "media"
    with override_settings(MEDIA_ROOT=str(root)):
        call_command("check", verbosity=0)  # raises SystemCheckError on any Error
        stored = FileSystemStorage().save("first.txt", ContentFile(b"hello"))
    assert (root / stored).read_bytes() == b"hello"


def test_e002_media_root_is_a_file(media_settings: MediaTree) -> None:
    with override_settings(MEDIA_ROOT=str(media_settings.root / "hello.txt")):
        assert ids(checks.check_media_root()) == ["mediaserve.E002"]


@pytest.mark.parametrize("relation", ["same", "media-inside-static", "static-inside-media"])
def test_e003_media_and_static_overlap(media_settings: MediaTree, relation: str) -> None:
    root = media_settings.root
    static = {"same": root, "media-inside-static": root.parent, "static-inside-media": root / "s"}
    with override_settings(STATIC_ROOT=str(static[relation])):
        messages = checks.check_media_root()
    assert ids(messages) == ["mediaserve.E003"]


@pytest.mark.parametrize("url", ["/media", "/"])
def test_e004_media_url_shape(media_settings: MediaTree, url: str) -> None:
    with override_settings(MEDIA_URL=url):
        messages = checks.check_media_root()
    assert ids(messages) == ["mediaserve.E004"]


def test_e005_nothing_routes_media(media_settings: MediaTree) -> None:
    with override_settings(ROOT_URLCONF="dj_urls_plain"):
        messages = checks.check_routing()
    assert ids(messages) == ["mediaserve.E005"]
    assert "media_urlpatterns" in messages[0].hint


def test_e005_is_silent_with_the_middleware(media_settings: MediaTree) -> None:
    with override_settings(
        ROOT_URLCONF="dj_urls_plain", MIDDLEWARE=["mediaserve.django.middleware.MediaMiddleware"]
    ):
        assert checks.check_routing() == []


def test_e005_is_silent_when_a_proxy_serves_media(media_settings: MediaTree) -> None:
    with override_settings(ROOT_URLCONF="dj_urls_plain", MEDIASERVE={"SERVED_EXTERNALLY": True}):
        assert checks.check_routing() == []


def test_e006_routed_to_django_static_serve(media_settings: MediaTree) -> None:
    with override_settings(ROOT_URLCONF="dj_urls_static"):
        messages = checks.check_routing()
    assert ids(messages) == ["mediaserve.E006"]


@pytest.mark.parametrize("mode", [None, 0o600, 0o640])
def test_w002_upload_permissions(media_settings: MediaTree, mode: int | None) -> None:
    with override_settings(FILE_UPLOAD_PERMISSIONS=mode):
        messages = checks.check_upload_permissions()
    assert ids(messages) == ["mediaserve.W002"]
    assert "0o644" in messages[0].hint


def test_w003_gzip_middleware_with_the_url_pattern(media_settings: MediaTree) -> None:
    with override_settings(
        MIDDLEWARE=["django.middleware.gzip.GZipMiddleware"], WSGI_APPLICATION=None,
        ASGI_APPLICATION=None,
    ):  # fmt: skip
        assert ids(checks.check_routing()) == ["mediaserve.W003"]
