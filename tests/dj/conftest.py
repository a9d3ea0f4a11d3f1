"""Django test set-up: the process's one Django configuration (the example project's settings,
DEBUG off, from tests/conftest.py) with the media settings of each test on top."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import MediaTree, media_tree

MEDIA_SETTINGS = {
    "MEDIA_URL": "/media/",
    "ROOT_URLCONF": "dj_urls",
    "MIDDLEWARE": [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "dj_middleware.CountingMiddleware",
    ],
    "MEDIASERVE": {},
    "FORCE_SCRIPT_NAME": None,
    "ALLOWED_HOSTS": ["testserver", "127.0.0.1"],
    # The example's entry points are the mediaserve wrappers, which route media by themselves;
    # the tests choose the routing explicitly.
    "WSGI_APPLICATION": None,
    "ASGI_APPLICATION": None,
}


@pytest.fixture(scope="module")
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        big = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB: several chunks
        (t.root / "big.bin").write_bytes(big)
        (t.root / "big.bin").chmod(0o644)
        t.files["big.bin"] = big
        (t.root / "page.html").write_text("<script>alert(1)</script>")
        (t.root / "page.html").chmod(0o644)
        yield t


@pytest.fixture
def media_settings(example_django: Any, tree: MediaTree) -> Iterator[MediaTree]:
    """MEDIA_ROOT is the sample tree, MEDIA_URL /media/, the test URLconf and middleware."""
    import dj_middleware
    from django.test import override_settings

    dj_middleware.seen.clear()
    with override_settings(MEDIA_ROOT=str(tree.root), **MEDIA_SETTINGS):
        yield tree
