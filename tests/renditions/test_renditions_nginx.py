"""Behind the nginx config `mediaserve config nginx` generates: a built rendition is a file
nginx serves itself with the immutable Cache-Control, and a miss (not built yet, or the
Accept-negotiated URL) falls through to the app, which builds it once."""

from __future__ import annotations

import http.client
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import NginxSite, ServerProcess, start_gunicorn, start_nginx
from harness.images import Corpus
from harness.paths import TESTS_DIR
from mediaserve.proxyconf import render
from mediaserve.proxyconf.model import ProxySetup, Upstream
from mediaserve.renditions import BUILTIN_PRESETS
from mediaserve.renditions.keys import digest_of, rendition_name

pytestmark = pytest.mark.integration

NAME = "products/photo.jpg"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def site(corpus: Corpus) -> Iterator[tuple[ServerProcess, ServerProcess, Path]]:
    base = Path(tempfile.mkdtemp(prefix="mediaserve-renditions-nginx-"))
    base.chmod(0o755)
    media = base / "media"
    (media / "products").mkdir(parents=True, mode=0o755)
    (media / "products").chmod(0o755)
    media.chmod(0o755)
    shutil.copy(corpus.photo_p3.path, media / NAME)
    (media / NAME).chmod(0o644)
    app = start_gunicorn(
        "renditions.site_wsgi:application",
        env={
            "DJANGO_SETTINGS_MODULE": "renditions.site_settings",
            "RENDITIONS_SITE_MEDIA_ROOT": str(media),
        },
        pythonpath=[TESTS_DIR], worker_class="gthread", threads=4,
        extra_args=["--access-logformat", "app %(r)s %(s)s"], ready_path="/media/missing",
    )  # fmt: skip

    def conf(where: NginxSite) -> str:
        setup = ProxySetup(
            media_root=str(media),
            upstream=Upstream("127.0.0.1", app.port),
            listen=f"127.0.0.1:{where.port}",
            offload=None,
            renditions="renditions",
        )
        return render("nginx", setup).files["mediaserve.conf"]

    try:
        proxy = start_nginx(conf)
        try:
            yield proxy, app, media
        finally:
            proxy.stop()
    finally:
        app.stop()
        shutil.rmtree(base, ignore_errors=True)


def _get(server: ServerProcess, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _url(corpus: Corpus, preset: str, fmt: str | None = None) -> str:
    digest = digest_of(corpus.photo_p3.path.read_bytes())
    return "/media/" + rendition_name(NAME, BUILTIN_PRESETS[preset], digest, fmt)


def _app_hits(app: ServerProcess, url: str, at_least: int = 0) -> int:
    """The app's access lines for ``url``. gunicorn writes one after the response went out,
    which may be just after the client read it: wait (up to 5 s) for ``at_least`` lines."""
    pattern = re.compile(rf"app GET {re.escape(url)} HTTP/1.[01] 200")
    deadline = time.monotonic() + 5
    hits = len(pattern.findall(app.logs()))
    while hits < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
        hits = len(pattern.findall(app.logs()))
    return hits


def test_a_miss_goes_to_the_app_then_nginx_serves_the_file(
    site: tuple[ServerProcess, ServerProcess, Path], corpus: Corpus
) -> None:
    proxy, app, media = site
    url = _url(corpus, "meta-catalog")
    status, headers, body = _get(proxy, url)
    assert status == 200
    assert headers["content-type"] == "image/jpeg"
    assert headers["cache-control"] == IMMUTABLE
    assert _app_hits(app, url, at_least=1) == 1  # built by the app
    assert (media / url.removeprefix("/media/")).read_bytes() == body
    again_status, again, again_body = _get(proxy, url)
    assert again_status == 200
    assert again_body == body
    assert again["cache-control"] == IMMUTABLE  # nginx's own add_header now
    assert again["content-type"] == "image/jpeg"
    assert _app_hits(app, url) == 1  # the app never saw the second request
    ranged = _get(proxy, url, Range="bytes=0-9")
    assert ranged[0] == 206
    assert ranged[2] == body[:10]


def test_the_negotiated_url_is_answered_by_the_app_with_vary(
    site: tuple[ServerProcess, ServerProcess, Path], corpus: Corpus
) -> None:
    proxy, _app, _media = site
    url = _url(corpus, "thumb-200")
    status, headers, _body = _get(proxy, url, Accept="image/avif,image/webp,*/*")
    assert status == 200
    assert headers["content-type"] == "image/avif"
    assert headers["vary"] == "Accept"
    assert headers["cache-control"] == IMMUTABLE


def test_folders_and_dot_names_under_renditions_are_the_shared_404(
    site: tuple[ServerProcess, ServerProcess, Path], corpus: Corpus
) -> None:
    proxy, _app, media = site
    _get(proxy, _url(corpus, "meta-catalog"))  # something is built, so folders exist
    assert (media / "renditions" / ".locks").is_dir()
    for path in (
        "/media/renditions/meta-catalog",
        "/media/renditions/",
        "/media/renditions/.locks/0001.lock",
    ):
        status, headers, _ = _get(proxy, path)
        assert status == 404, path
        assert "location" not in headers
