"""Proof: each broken set-up, built for real (gunicorn running a tiny Django site behind
Debian's nginx on TLS, loopback only), is diagnosed as the right hop with the right fix.

A correct set-up passes every hop first, so a test that expects a failure cannot pass
because the doctor fails everything. One app server per Django shape for the whole module;
nginx configs change per test (nginx starts in a fraction of a second).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from doctor_support import (
    BIG,
    HOST,
    PKI,
    PRIVATE,
    SHOE,
    SMALL,
    Run,
    doctor,
    keep_sample,
    make_media,
    make_pki,
    nginx_conf_path,
    proxy_all,
    public_url,
    site_env,
    start_proxy,
    start_site,
)

from harness import LOOPBACK, REPO_ROOT, ServerProcess, free_port, require

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    require("nginx")
    require("gunicorn")
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-doctor-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(workdir: Path) -> PKI:
    return make_pki(workdir / "pki")


@pytest.fixture(scope="module")
def media_root(workdir: Path) -> Path:
    return make_media(workdir / "files")


def _site(media_root: Path, **values: str) -> Iterator[ServerProcess]:
    server = start_site(media_root, **values)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def app(media_root: Path) -> Iterator[ServerProcess]:
    """The correct app: media_urlpatterns(), ALLOWED_HOSTS has the public host, proxy header."""
    yield from _site(media_root)


@pytest.fixture(scope="module")
def static_app(media_root: Path) -> Iterator[ServerProcess]:
    """urls.py uses static(): with DEBUG off it routes nothing."""
    yield from _site(media_root, urls="static")


@pytest.fixture
def proxy(request: pytest.FixtureRequest) -> Iterator[list[ServerProcess]]:
    """Holds the nginx a test starts, and stops it afterwards."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def _nginx(started: list[ServerProcess], pki: PKI, body: str, **kwargs: str) -> ServerProcess:
    server = start_proxy(pki, body, **kwargs)
    started.append(server)
    return server


def _alias(media_root: Path, *, slash: bool = True, extra: str = "") -> str:
    target = f"{media_root}/" if slash else str(media_root)
    return f"""
    location /media/ {{
        alias {target};
        {extra}
    }}"""


# -- the baseline ----------------------------------------------------------------------------


def test_a_correct_set_up_passes_every_hop(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """The control: app and proxy right, an 800x800 JPEG: exit 0 even as Meta's crawler."""
    nginx = _nginx(proxy, pki, proxy_all(app.port))
    run = doctor(public_url(nginx), "--upstream", app.base_url, "--profile", "meta-catalog",
                 "--proxy-config", str(nginx_conf_path(nginx)),
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.code == 0, run.stdout
    for hop in ("url", "file", "settings", "routing", "in-process", "upstream", "proxy", "tls",
                "public", "consumer"):  # fmt: skip
        assert run.verdict(hop) == "pass", (hop, run.stdout)


def test_a_name_is_checked_like_its_url(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """A media name plus --base-url gives the same diagnosis as the URL itself."""
    nginx = _nginx(proxy, pki, proxy_all(app.port))
    run = doctor(SHOE, "--base-url", f"https://{HOST}:{nginx.port}",
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.code == 0, run.stdout
    assert run.data["url"] == public_url(nginx)


# -- Django ----------------------------------------------------------------------------------


def test_debug_only_static_is_the_routing_hop(
    static_app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """static() adds no pattern with DEBUG off: Django 404s, the fix is media_urlpatterns()."""
    nginx = _nginx(proxy, pki, proxy_all(static_app.port))
    run = doctor(public_url(nginx), "--upstream", static_app.base_url,
                 env=site_env(media_root, urls="static"), proxy=nginx, pki=pki)  # fmt: skip
    assert run.code == 2
    assert run.first["hop"] == "routing", run.stdout
    assert "static()" in run.first["summary"]
    assert "media_urlpatterns()" in run.first["fix"]
    assert "404 from django" in run.text("public")


def test_html_catch_all_is_the_routing_hop(
    media_root: Path, pki: PKI, proxy: list[ServerProcess]
) -> None:
    """A SPA catch-all answers 200 with an HTML page: routing names the view and the order."""
    for server in _site(media_root, urls="catchall"):
        nginx = _nginx(proxy, pki, proxy_all(server.port))
        run = doctor(public_url(nginx), env=site_env(media_root, urls="catchall"), proxy=nginx,
                     pki=pki)  # fmt: skip
        assert run.first["hop"] == "routing", run.stdout
        assert "app_shell" in run.first["summary"]
        assert "media_urlpatterns() + urlpatterns" in run.first["fix"]
        assert "HTML page instead of the file" in run.text("public")


def test_ssl_redirect_without_proxy_header_is_a_loop_fixed_in_settings(
    media_root: Path, pki: PKI, proxy: list[ServerProcess]
) -> None:
    """Django sees http behind the TLS proxy and redirects to the same https URL forever."""
    values = {"ssl_redirect": "1", "proxy_header": "0"}
    for server in _site(media_root, **values):
        nginx = _nginx(proxy, pki, proxy_all(server.port))
        run = doctor(public_url(nginx), env=site_env(media_root, **values), proxy=nginx, pki=pki)
        assert run.code == 2
        assert run.first["hop"] == "settings", run.stdout
        assert "SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')" in run.first["fix"]
        assert "redirect loop" in run.text("public")


def test_public_host_missing_from_allowed_hosts_is_the_settings_hop(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """The doctor's settings say ALLOWED_HOSTS=['localhost']: Django would answer 400."""
    nginx = _nginx(proxy, pki, proxy_all(app.port))
    run = doctor(public_url(nginx), env=site_env(media_root, allowed_hosts="localhost"),
                 proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "settings", run.stdout
    assert "ALLOWED_HOSTS" in run.first["summary"]
    assert f"{HOST!r}" in run.first["fix"]
    assert "DisallowedHost" in run.text("in-process")


def test_proxy_without_host_header_gets_disallowed_host_400(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """nginx sends its upstream address as Host: Django's 400; the fix is in the proxy."""
    nginx = _nginx(proxy, pki, proxy_all(app.port, host_header=""))
    run = doctor(public_url(nginx), "--proxy-config", str(nginx_conf_path(nginx)),
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.code == 2
    assert run.first["hop"] == "proxy", run.stdout
    assert "proxy_set_header Host $host;" in run.first["fix"]
    assert "DisallowedHost" in run.text("public")


# -- the proxy -------------------------------------------------------------------------------


def test_media_volume_missing_in_the_proxy(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess], workdir: Path
) -> None:
    """nginx serves /media/ from a folder the volume was never mounted at: nginx's own 404,
    while the app behind it has the file."""
    nginx = _nginx(proxy, pki, _alias(workdir / "proxy-media") + proxy_all(app.port))
    run = doctor(public_url(nginx), "--upstream", app.base_url,
                 "--proxy-config", str(nginx_conf_path(nginx)),
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.verdict("upstream") == "pass", run.stdout
    assert run.first["hop"] == "proxy", run.stdout
    assert "not mounted" in run.first["summary"]
    assert f"media:{workdir / 'proxy-media'}/:ro" in run.first["fix"]
    assert "404 from nginx itself" in run.text("public")


def test_media_volume_missing_without_the_config_still_names_nginx(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess], workdir: Path
) -> None:
    """Without --proxy-config the 404 page's signature says the proxy answered by itself."""
    nginx = _nginx(proxy, pki, _alias(workdir / "proxy-media") + proxy_all(app.port))
    run = doctor(public_url(nginx), "--upstream", app.base_url, env=site_env(media_root),
                 proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "proxy", run.stdout
    assert "nginx serves /media/ from its own disk" in run.first["summary"]
    assert "Mount the media volume into the proxy" in run.first["fix"]
    assert "404 from nginx itself" in run.text("public")


def test_alias_without_trailing_slash(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """`location /media/ { alias /srv/media; }` opens /srv/mediaproducts/shoe.jpg."""
    nginx = _nginx(proxy, pki, _alias(media_root, slash=False))
    run = doctor(public_url(nginx), "--proxy-config", str(nginx_conf_path(nginx)),
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "proxy", run.stdout
    assert f"{media_root}products/shoe.jpg" in run.first["summary"]
    assert f"alias {media_root}/;" in run.first["fix"]
    assert run.verdict("public") == "fail"


def test_npm_cache_assets_regex_hijacks_images(
    static_app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """Nginx Proxy Manager's "Cache Assets" regex beats `location /media/`: images go to an
    app that does not serve media (SERVED_EXTERNALLY) and 404 there."""
    npm_assets = f"""
    location ~* ^.*\\.(css|js|jpe?g|gif|png|webp|woff|eot|ttf|svg|ico|css\\.map|js\\.map)$ {{
        if_modified_since off;
        add_header Cache-Control "public, no-transform";
        expires 365d;
        proxy_pass http://{LOOPBACK}:{static_app.port};
        proxy_set_header Host $http_host;
    }}"""
    nginx = _nginx(proxy, pki, _alias(media_root) + npm_assets)
    run = doctor(public_url(nginx), "--proxy-config", str(nginx_conf_path(nginx)),
                 env=site_env(media_root, urls="static", served_externally="1"),
                 proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "proxy", run.stdout
    assert "regex location" in run.first["summary"]
    assert "location ^~ /media/" in run.first["fix"]
    assert run.verdict("public") == "fail"


def test_stale_copy_in_the_proxy_differs_from_the_app_without_django(
    app: ServerProcess, pki: PKI, proxy: list[ServerProcess], workdir: Path
) -> None:
    """No settings and no MEDIA_ROOT here: the app server's answer is the reference, and the
    proxy's own (older) copy of the file is caught by size and checksum."""
    from PIL import Image

    stale = workdir / "stale"
    (stale / "products").mkdir(parents=True, exist_ok=True)
    for folder in (stale, stale / "products"):
        folder.chmod(0o755)
    Image.new("RGB", (640, 640), (1, 2, 3)).save(stale / SHOE, "JPEG")
    (stale / SHOE).chmod(0o644)
    nginx = _nginx(proxy, pki, _alias(stale) + proxy_all(app.port))
    run = doctor(public_url(nginx), "--upstream", app.base_url, proxy=nginx, pki=pki)
    assert run.verdict("settings") == "skip"
    assert run.verdict("upstream") == "pass", run.stdout
    assert run.first["hop"] == "public", run.stdout
    assert run.first["summary"] == "the public body differs from the app server's"


def test_file_readable_only_by_its_owner_is_403_from_nginx(
    pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """A 0600 upload: nginx's workers (another user) get 403; the file hop has the fix."""
    if os.geteuid() != 0:
        pytest.skip("not root: nginx's workers run as this user and can read a 0600 file")
    nginx = _nginx(proxy, pki, _alias(media_root))
    run = doctor(public_url(nginx, PRIVATE), env=site_env(media_root), proxy=nginx, pki=pki)
    assert run.first["hop"] == "file", run.stdout
    assert "0600" in run.first["summary"]
    assert "FILE_UPLOAD_PERMISSIONS = 0o644" in run.first["fix"]
    assert "403 from nginx" in run.text("public")


def test_empty_200_from_the_proxy(pki: PKI, media_root: Path, proxy: list[ServerProcess]) -> None:
    """`return 200;` answers every media URL with nothing: the location is named."""
    nginx = _nginx(proxy, pki, "location ^~ /media/ { return 200; }")
    run = doctor(public_url(nginx), "--proxy-config", str(nginx_conf_path(nginx)),
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "proxy", run.stdout
    assert "empty 200" in run.first["summary"]
    assert "200 with an empty body" in run.text("public")


def test_wrong_content_type(pki: PKI, media_root: Path, proxy: list[ServerProcess]) -> None:
    """JPEG bytes sent as text/plain (a `types {}` with a default_type overriding mime.types)."""
    nginx = _nginx(proxy, pki, _alias(media_root, extra="types { } default_type text/plain;"))
    run = doctor(public_url(nginx), env=site_env(media_root), proxy=nginx, pki=pki)
    assert run.first["hop"] == "public", run.stdout
    assert "Content-Type is text/plain but the bytes are image/jpeg" in run.first["summary"]
    assert "mime.types" in run.first["fix"]


def test_upstream_down_is_502_and_the_upstream_hop(
    pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """nginx passes to a port where no app listens: 502 publicly, refused at the upstream."""
    dead = free_port()
    nginx = _nginx(proxy, pki, proxy_all(dead))
    run = doctor(public_url(nginx), "--upstream", f"http://{LOOPBACK}:{dead}",
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "upstream", run.stdout
    assert "connection refused" in run.first["summary"]
    assert "502 from nginx: the proxy cannot reach the app server" in run.text("public")


# -- Meta's rules ----------------------------------------------------------------------------


def test_image_under_500_px_fails_the_catalog_profile(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    nginx = _nginx(proxy, pki, proxy_all(app.port))
    run = doctor(public_url(nginx, SMALL), "--profile", "meta-catalog",
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "consumer", run.stdout
    assert "300x300 px is under Meta's minimum of 500x500" in run.first["summary"]
    assert run.verdict("public") == "pass"


def test_image_over_5_mb_fails_the_whatsapp_profile(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """The size comes from Content-Range of the crawler's partial fetch."""
    nginx = _nginx(proxy, pki, proxy_all(app.port))
    run = doctor(public_url(nginx, BIG), "--profile", "whatsapp",
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "consumer", run.stdout
    assert "5.3 MB is over the image limit of 5 MB" in run.first["summary"]


def test_block_only_for_the_crawler_user_agent(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """A bot rule 403s facebookexternalhit while browsers get the file."""
    block = 'if ($http_user_agent ~* "facebookexternalhit|facebookcatalog") { return 403; }'
    nginx = _nginx(proxy, pki, proxy_all(app.port), server_extra=block)
    run = doctor(public_url(nginx), "--profile", "meta-catalog", env=site_env(media_root),
                 proxy=nginx, pki=pki)  # fmt: skip
    assert run.verdict("public") == "pass", run.stdout
    assert run.first["hop"] == "consumer", run.stdout
    assert "blocked for Meta's crawler" in run.first["summary"]
    assert "facebookexternalhit" in run.first["fix"]


# -- TLS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cert", "summary"),
    [
        ("expired", "the certificate has expired"),
        ("wronghost", "the certificate is for another host"),
    ],
)
def test_bad_certificate_is_the_tls_hop(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess], cert: str,
    summary: str,
) -> None:  # fmt: skip
    nginx = _nginx(proxy, pki, proxy_all(app.port), cert=cert)
    run = doctor(public_url(nginx), env=site_env(media_root), proxy=nginx, pki=pki)
    assert run.first["hop"] == "tls", run.stdout
    assert summary in run.first["summary"]
    assert run.verdict("public") == "fail"


# -- the feed --------------------------------------------------------------------------------


def test_scan_of_a_feed_with_http_links(
    example_django: Any, media_root: Path, pki: PKI, proxy: list[ServerProcess], workdir: Path
) -> None:
    """The example's own feed writer, given an http:// PUBLIC_BASE_URL: every image_link of
    /feed.csv fails at the url hop, and --scan's JSON has one report per link."""
    from catalog.feed import write_feed
    from catalog.models import Product

    feed_dir = workdir / "feed"
    feed_dir.mkdir(mode=0o755, exist_ok=True)
    feed_dir.chmod(0o755)
    nginx = _nginx(proxy, pki, _alias(media_root) + f"location = /feed.csv {{ root {feed_dir}; }}")
    products = [
        Product(pk=number, sku=f"SKU-{number}", name=name, description="d", brand="b",
                price=Decimal("9.90"), currency="BRL", image=name, image_width=800,
                image_height=800)
        for number, name in enumerate([SHOE, SMALL], 1)
    ]  # fmt: skip
    with (feed_dir / "feed.csv").open("w", newline="") as out:
        write_feed(out, products, f"http://{HOST}:{nginx.port}")
    (feed_dir / "feed.csv").chmod(0o644)
    run = doctor("--scan", f"https://{HOST}:{nginx.port}/feed.csv", "--profile", "meta-catalog",
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.code == 2, run.stdout
    reports = run.data["reports"]
    assert [r["name"] for r in reports] == [SHOE, SMALL]
    for report in reports:
        assert report["first_problem"]["hop"] == "url", report
        assert "http://" in report["first_problem"]["summary"]


def test_redirect_to_a_login_page(pki: PKI, media_root: Path, proxy: list[ServerProcess]) -> None:
    """Media behind authentication: the crawler lands on a login form with 200."""
    body = """
    location ^~ /media/ { return 302 /accounts/login/?next=$uri; }
    location = /accounts/login/ { default_type text/html; return 200 "<html><form></form></html>"; }
    """
    nginx = _nginx(proxy, pki, body)
    run = doctor(public_url(nginx), "--profile", "meta-catalog", env=site_env(media_root),
                 proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "public", run.stdout
    assert run.first["summary"].startswith("redirected to a login page: https://shop.example.com")
    assert "login page" in run.text("consumer")


def test_range_ignored_is_a_warning_and_exit_1(
    pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """`max_ranges 0` makes nginx answer Range with the whole file: it works, but video
    seeking and partial fetches do not, so warn (exit 1) rather than fail."""
    nginx = _nginx(proxy, pki, _alias(media_root, extra="max_ranges 0;"))
    run = doctor(public_url(nginx), env=site_env(media_root), proxy=nginx, pki=pki)
    assert run.code == 1, run.stdout
    assert run.first["hop"] == "public"
    assert run.first["summary"] == "Range ignored: 200 with the whole file instead of 206"


def test_manage_py_scan_of_the_example_catalog(
    pki: PKI, proxy: list[ServerProcess], workdir: Path
) -> None:
    """The example project itself: migrate and seed it, serve its MEDIA_ROOT through nginx,
    then `manage.py mediaserve doctor --scan` checks every FileField (images and the video)
    end to end; the one image deleted from disk is the only failure, at the file hop."""
    require("ffmpeg")
    var = workdir / "example-var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EXAMPLE_"))}
    env.update(EXAMPLE_VAR_DIR=str(var), PUBLIC_BASE_URL=f"https://{HOST}", MEDIA_ROOT="")
    manage = [sys.executable, str(REPO_ROOT / "example" / "manage.py")]
    for step in (["migrate", "-v0"], ["seed", "--count", "2"]):
        subprocess.run([*manage, *step], env=env, check=True, capture_output=True, timeout=120)
    media = var / "media"
    nginx = _nginx(proxy, pki, _alias(media))
    (media / "products" / "demo-002.jpg").unlink()
    args = ("--scan", "--json", "--base-url", f"https://{HOST}:{nginx.port}",
            "--resolve", f"{HOST}:{nginx.port}:{LOOPBACK}", "--cafile", pki.ca)  # fmt: skip
    done = subprocess.run(
        [*manage, "mediaserve", "doctor", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    keep_sample(Run(done.returncode, done.stdout, done.stderr), args,
                command="python manage.py mediaserve doctor")  # fmt: skip
    data = json.loads(done.stdout)
    verdicts = {r["name"]: r["verdict"] for r in data["reports"]}
    assert verdicts == {
        "products/demo-001.jpg": "pass",
        "products/demo-002.jpg": "fail",
        "videos/demo-001.webm": "pass",
    }, done.stdout
    [broken] = [r for r in data["reports"] if r["verdict"] == "fail"]
    assert broken["first_problem"]["hop"] == "file"
    assert done.returncode == 2


def test_head_refused_while_get_works_is_a_warning(
    pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """Some consumers check with HEAD first; a proxy answering it 405 is worth a warning."""
    refuse_head = "if ($request_method = HEAD) { return 405; }"
    nginx = _nginx(proxy, pki, _alias(media_root, extra=refuse_head))
    run = doctor(public_url(nginx), env=site_env(media_root), proxy=nginx, pki=pki)
    assert run.code == 1, run.stdout
    assert run.first["hop"] == "public"
    assert run.first["summary"] == "HEAD disagrees with GET"


def test_validators_stripped_by_the_proxy_are_a_warning(
    app: ServerProcess, pki: PKI, media_root: Path, proxy: list[ServerProcess]
) -> None:
    """Without ETag/Last-Modified Meta downloads the image again on every crawl."""
    strip = f"""
    location / {{
        proxy_pass http://{LOOPBACK}:{app.port};
        proxy_set_header Host $http_host;
        proxy_hide_header ETag;
        proxy_hide_header Last-Modified;
    }}"""
    nginx = _nginx(proxy, pki, strip)
    run = doctor(public_url(nginx), "--upstream", app.base_url, env=site_env(media_root),
                 proxy=nginx, pki=pki)  # fmt: skip
    assert run.code == 1, run.stdout
    assert run.verdict("upstream") == "pass"
    assert run.first["hop"] == "public"
    assert run.first["summary"].startswith("no ETag or Last-Modified")


def test_spa_fallback_in_the_proxy_answers_html(
    pki: PKI, media_root: Path, proxy: list[ServerProcess], workdir: Path
) -> None:
    """`try_files $uri /index.html` for a front-end app also catches /media/: a 200 HTML page."""
    spa = workdir / "spa"
    spa.mkdir(mode=0o755, exist_ok=True)
    (spa / "index.html").write_text("<!doctype html><html><div id=root></div></html>")
    (spa / "index.html").chmod(0o644)
    nginx = _nginx(proxy, pki, f"location / {{ root {spa}; try_files $uri /index.html; }}")
    run = doctor(public_url(nginx), "--proxy-config", str(nginx_conf_path(nginx)),
                 env=site_env(media_root), proxy=nginx, pki=pki)  # fmt: skip
    assert run.first["hop"] == "proxy", run.stdout
    assert "try_files answers /index.html" in run.first["summary"]
    assert "try_files $uri =404;" in run.first["fix"]
    assert "HTML page instead of the file" in run.text("public")


def test_proxy_not_sending_x_forwarded_proto_loops_and_is_the_proxy_hop(
    media_root: Path, pki: PKI, proxy: list[ServerProcess]
) -> None:
    """Django is set up right (SECURE_PROXY_SSL_HEADER) but nginx does not send the header:
    the same loop as above, and this time the fix is in the proxy."""
    values = {"ssl_redirect": "1"}
    for server in _site(media_root, **values):
        body = f"""
        location / {{
            proxy_pass http://{LOOPBACK}:{server.port};
            proxy_set_header Host $http_host;
        }}"""
        nginx = _nginx(proxy, pki, body)
        run = doctor(public_url(nginx), "--proxy-config", str(nginx_conf_path(nginx)),
                     env=site_env(media_root, **values), proxy=nginx, pki=pki)  # fmt: skip
        assert run.verdict("settings") == "pass", run.stdout
        assert run.first["hop"] == "proxy", run.stdout
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in run.first["fix"]
        assert "redirect loop" in run.text("public")
