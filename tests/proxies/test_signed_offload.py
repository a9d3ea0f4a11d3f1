"""Signed invoice links (issue: private media) through real nginx with offload: the app checks
the signature, nginx sends the bytes. The example project signs ``invoices/`` (its settings);
links are made the way a user makes them, with ``manage.py shell`` and ``signed_url``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from proxy_support import (
    EXAMPLE,
    add_proxy_files,
    check_file_semantics,
    example_app,
    generated,
    is_app_etag,
)

from harness import MediaTree, ServerProcess, curl, media_tree, require, start_nginx
from harness.servers import server_env

INVOICE = "invoices/2026/inv-0042.pdf"
SECRET = "test-secret-for-signed-offload-0123456789abcdef"


@pytest.fixture(scope="module")
def tree() -> Iterator[MediaTree]:
    """The proxy tree plus an invoice under the example's signed prefix."""
    with media_tree() as t:
        add_proxy_files(t)
        path = t.root / INVOICE
        path.parent.parent.mkdir(mode=0o755)
        path.parent.mkdir(mode=0o755)
        for folder in (path.parent, path.parent.parent):
            folder.chmod(0o755)
        data = b"%PDF-1.4\n" + bytes((i * 13) % 256 for i in range(200_000))
        path.write_bytes(data)
        path.chmod(0o644)
        t.files[INVOICE] = data
        yield t


@pytest.fixture(scope="module")
def site(tree: MediaTree) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    require("nginx")
    extra = {"DJANGO_SECRET_KEY": SECRET}
    with example_app(tree.root, "x-accel-redirect", extra_env=extra) as app:
        proxy = start_nginx(
            lambda s: generated(
                "nginx", f"127.0.0.1:{s.port}", tree.root, app, "--private", "invoices"
            )
        )
        yield proxy, {"MEDIA_ROOT": str(tree.root), **extra}
        proxy.stop()


def signed(env: dict[str, str], name: str) -> str:
    code = f"from mediaserve import signed_url; print(signed_url({name!r}, expires_in=600))"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=120, check=False,
        env=server_env({**env, "DJANGO_SETTINGS_MODULE": "shop.settings",
                        "EXAMPLE_VAR_DIR": env["MEDIA_ROOT"] + "/../var"}, [EXAMPLE]),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Django 5.2's shell announces its automatic imports first: the URL is the last line.
    return done.stdout.strip().splitlines()[-1]


def test_unsigned_invoice_is_404(site: tuple[ServerProcess, dict[str, str]]) -> None:
    proxy, _env = site
    result = curl(proxy.url("/media/" + INVOICE))
    assert result.status == 404
    assert not result.body.startswith(b"%PDF")


def test_signed_invoice_is_sent_by_nginx_privately(
    site: tuple[ServerProcess, dict[str, str]], tree: MediaTree
) -> None:
    proxy, env = site
    url = signed(env, INVOICE)
    assert url.startswith("/media/invoices/")
    assert "signature=" in url
    headers = check_file_semantics(proxy.url(url), tree.files[INVOICE])
    assert not is_app_etag(headers.get("etag")), "nginx must send the bytes"
    assert headers["cache-control"] == "private, no-store"


def test_tampered_signature_is_404(site: tuple[ServerProcess, dict[str, str]]) -> None:
    proxy, env = site
    url = signed(env, INVOICE)
    bad = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
    assert curl(proxy.url(bad)).status == 404


def test_a_signature_for_one_invoice_does_not_open_another(
    site: tuple[ServerProcess, dict[str, str]],
) -> None:
    proxy, env = site
    url = signed(env, INVOICE)
    other = url.replace("inv-0042.pdf", "inv-0043.pdf")
    assert curl(proxy.url(other)).status == 404


def test_private_prefix_in_another_letter_case_still_goes_to_the_app(
    site: tuple[ServerProcess, dict[str, str]], tree: MediaTree
) -> None:
    """ACCESS prefixes are compared case-insensitively by the app; nginx's prefix location is
    case-sensitive, so an INVOICES folder must not be read by nginx as public media."""
    upper = tree.root / "INVOICES"
    upper.mkdir(mode=0o755, exist_ok=True)
    upper.chmod(0o755)
    (upper / "copy.pdf").write_bytes(tree.files[INVOICE])
    (upper / "copy.pdf").chmod(0o644)
    proxy, _env = site
    result = curl(proxy.url("/media/INVOICES/copy.pdf"))
    assert result.status == 404
    assert not result.body.startswith(b"%PDF")


def test_signed_private_answer_has_one_cache_control(
    site: tuple[ServerProcess, dict[str, str]],
) -> None:
    proxy, env = site
    result = curl(proxy.url(signed(env, INVOICE)))
    assert result.headers.getall("cache-control") == ["private, no-store"]
    assert result.headers.getall("x-content-type-options") == ["nosniff"]
