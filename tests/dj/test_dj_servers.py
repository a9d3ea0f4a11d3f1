"""The example project's entry points under real servers: shop.wsgi under gunicorn (sendfile)
and shop.asgi under uvicorn, both mediaserve wrappers, serving media byte for byte."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from harness import REPO_ROOT, MediaTree, ServerProcess, curl, start_gunicorn, start_uvicorn

EXAMPLE = REPO_ROOT / "example"


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def example_server(request: pytest.FixtureRequest, tree: MediaTree) -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="mediaserve-dj-var-") as var:
        env = {
            "EXAMPLE_VAR_DIR": var,
            "MEDIA_ROOT": str(tree.root),
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "shop.settings",
        }
        if request.param == "gunicorn":
            server = start_gunicorn(
                "shop.wsgi:application", env=env, cwd=EXAMPLE, pythonpath=[EXAMPLE],
                worker_class="gthread", threads=4, ready_path="/healthz",
            )  # fmt: skip
        else:
            server = start_uvicorn(
                "shop.asgi:application", env=env, cwd=EXAMPLE, pythonpath=[EXAMPLE],
                ready_path="/healthz",
            )  # fmt: skip
        yield server
        server.stop()


def test_media_is_byte_exact(example_server: ServerProcess, tree: MediaTree) -> None:
    result = curl(example_server.url("/media/random.bin"))
    assert (result.status, result.body) == (200, tree.files["random.bin"])


def test_range_is_206(example_server: ServerProcess, tree: MediaTree) -> None:
    result = curl(example_server.url("/media/big.bin"), "-H", "Range: bytes=100000-2100000")
    assert result.status == 206
    assert result.body == tree.files["big.bin"][100000:2100001]


def test_missing_media_is_404_not_a_django_page(example_server: ServerProcess) -> None:
    result = curl(example_server.url("/media/missing.jpg"))
    assert result.status == 404
    assert b"<html" not in result.body.lower()
