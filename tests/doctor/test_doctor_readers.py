"""The proxy readers replay what the real proxy does: Caddy, Apache and Nginx Proxy Manager.

Each proxy runs for real (tests/harness) with two sites on one port, told apart by Host:
``shadow.test``, where a rule for image extensions takes ``/media/*.jpg`` away from the media
rule (Caddy's ``path_regexp`` handle, Apache's ``<LocationMatch>`` with a proxy handler, NPM's
"Cache Assets"), and ``healthy.test``, the control. Two small upstreams stand in for the app
(answers 404 for media, as Django without a media route does) and for a file server; each
marks its answers with ``X-Upstream``. For every URL the test asks the real proxy, then the
reader, and asserts they agree on who answered: the app, the file server, or the proxy's
own files. Then the ``proxy`` hop's verdict: FAIL naming the rule on the shadow site, no
FAIL on the control.
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import LOOPBACK, NginxSite, ServerProcess, curl, png_bytes, require, start_nginx
from harness.apache import apache_binary, start_apache
from harness.caddy import start_caddy
from mediaserve.doctor.readers import Route, check_config, detect_kind, route
from mediaserve.doctor.readers.npm import IMAGE_INCLUDES

pytestmark = pytest.mark.integration

SHOE = png_bytes()
DOC = b"%PDF-1.4 not really a pdf\n"
PATHS = ("/media/shoe.jpg", "/media/doc.pdf", "/about/")


# -- upstreams ---------------------------------------------------------------------------------


class _Upstream(http.server.ThreadingHTTPServer):
    name: str
    media: Path | None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Upstream

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        body = f"{self.server.name}: {path}\n".encode()
        status = 404
        media = self.server.media
        if media is not None and path.startswith("/media/"):
            candidate = media / path[len("/media/") :]
            if candidate.is_file():
                body, status = candidate.read_bytes(), 200
        elif media is None and not path.startswith("/media/"):
            status = 200
        self.send_response(status)
        self.send_header("X-Upstream", self.server.name)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class World:
    media: Path
    app: int
    files: int


def _serve(name: str, media: Path | None) -> _Upstream:
    server = _Upstream((LOOPBACK, 0), _Handler)
    server.name, server.media = name, media
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-readers-"))
    folder.chmod(0o755)
    media = folder / "media"
    media.mkdir(mode=0o755)
    (media / "shoe.jpg").write_bytes(SHOE)
    (media / "doc.pdf").write_bytes(DOC)
    for path in media.iterdir():
        path.chmod(0o644)
    app, files = _serve("app", None), _serve("files", media)
    try:
        yield World(media, app.server_address[1], files.server_address[1])
    finally:
        app.shutdown()
        files.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def _who(proxy: ServerProcess, host: str, path: str) -> str:
    """Who answered through the real proxy: an upstream's name, or ``files`` read by the
    proxy itself (the bytes of the file on disk)."""
    result = curl("-H", f"Host: {host}", proxy.url(path), check=False)
    upstream = result.headers.get("X-Upstream")
    if upstream:
        return upstream
    if result.status == 200 and result.body in (SHOE, DOC):
        return "disk"
    return f"proxy {result.status}"


def _replayed(answer: Route, world: World) -> str:
    """Who the reader says answers, in the same words as :func:`_who`."""
    if answer.action == "proxy":
        upstream = answer.upstream or ""
        if f":{world.app}" in upstream:
            return "app"
        if f":{world.files}" in upstream:
            return "files"
        return f"proxy to {upstream}"
    if answer.action == "files":
        return "disk"
    return f"proxy {answer.status}"


def _agree(proxy: ServerProcess, config: Path, world: World, host: str) -> dict[str, str]:
    seen: dict[str, str] = {}
    for path in PATHS:
        real = _who(proxy, host, path)
        answer = route(config, f"http://{host}:{proxy.port}{path}")
        assert _replayed(answer, world) == real, (path, real, answer, proxy.log_tail(20))
        seen[path] = real
    return seen


def _verdicts(config: Path, url: str) -> list[str]:
    return [f.verdict for f in check_config(config, url, "/media/")]


# -- Caddy -------------------------------------------------------------------------------------


def _caddy_sites(world: World) -> str:
    return f"""
http://shadow.test:{{port}} {{
    @images path_regexp img \\.(jpe?g|png|webp)$
    handle @images {{
        reverse_proxy {LOOPBACK}:{world.app}
    }}
    handle_path /media/* {{
        root * {world.media}
        file_server
    }}
    handle {{
        reverse_proxy {LOOPBACK}:{world.app}
    }}
}}

http://fixed.test:{{port}} {{
    @images {{
        path_regexp img \\.(jpe?g|png|webp)$
        not path /media/*
    }}
    handle @images {{
        reverse_proxy {LOOPBACK}:{world.app}
    }}
    handle_path /media/* {{
        root * {world.media}
        file_server
    }}
    handle {{
        reverse_proxy {LOOPBACK}:{world.app}
    }}
}}

http://healthy.test:{{port}} {{
    handle /media/* {{
        reverse_proxy {LOOPBACK}:{world.files}
    }}
    handle {{
        reverse_proxy {LOOPBACK}:{world.app}
    }}
}}
"""


@pytest.fixture(scope="module")
def caddy(world: World) -> Iterator[ServerProcess]:
    require("caddy")
    text = _caddy_sites(world)
    server = start_caddy(lambda port: text.replace("{port}", str(port)))
    try:
        yield server
    finally:
        server.stop()


def _caddyfile(server: ServerProcess) -> Path:
    return server.cleanup_paths[0] / "Caddyfile"


def test_caddy_replay_agrees_with_caddy(caddy: ServerProcess, world: World) -> None:
    config = _caddyfile(caddy)
    assert detect_kind(config) == "caddy"
    shadow = _agree(caddy, config, world, "shadow.test")
    assert shadow == {"/media/shoe.jpg": "app", "/media/doc.pdf": "disk", "/about/": "app"}
    healthy = _agree(caddy, config, world, "healthy.test")
    assert healthy == {"/media/shoe.jpg": "files", "/media/doc.pdf": "files", "/about/": "app"}
    # The fix the doctor prints (`not path /media/*` in the image matcher), applied.
    fixed = _agree(caddy, config, world, "fixed.test")
    assert fixed == {"/media/shoe.jpg": "disk", "/media/doc.pdf": "disk", "/about/": "app"}
    assert _verdicts(config, f"http://fixed.test:{caddy.port}/media/shoe.jpg") == ["pass"]


def test_caddy_regex_matcher_shadowing_media_is_named(caddy: ServerProcess) -> None:
    findings = check_config(
        _caddyfile(caddy), f"http://shadow.test:{caddy.port}/media/shoe.jpg", "/media/"
    )
    assert [f.verdict for f in findings] == ["fail"]
    assert "path_regexp \\.(jpe?g|png|webp)$ takes /media/shoe.jpg away from path /media/*" in (
        findings[0].summary
    )
    assert "not path /media/*" in findings[0].fix


def test_caddy_control_has_no_fail(caddy: ServerProcess) -> None:
    for path in PATHS[:2]:
        url = f"http://healthy.test:{caddy.port}{path}"
        assert _verdicts(_caddyfile(caddy), url) == ["pass"], url
    # The shadow site's own non-image media file is read from disk, and is there.
    assert _verdicts(_caddyfile(caddy), f"http://shadow.test:{caddy.port}/media/doc.pdf") == [
        "pass"
    ]


def test_caddy_json_is_read_directly(caddy: ServerProcess, tmp_path: Path) -> None:
    """The JSON a running Caddy holds (what `caddy adapt` prints): same replay, no binary."""
    adapted = subprocess.run(
        ["caddy", "adapt", "--adapter", "caddyfile", "--config", str(_caddyfile(caddy))],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    config = tmp_path / "caddy.json"
    config.write_text(adapted.stdout)
    assert detect_kind(config) == "caddy"
    answer = route(config, f"http://shadow.test:{caddy.port}/media/shoe.jpg")
    assert answer.rule is not None
    assert answer.rule.kind == "regex"
    assert [r.text for r in answer.losers] == ["path /media/*"]


# -- Apache ------------------------------------------------------------------------------------


def _apache_sites(world: World, port: int) -> str:
    return f"""
<VirtualHost {LOOPBACK}:{port}>
    ServerName shadow.test
    DocumentRoot {world.media}
    Alias /media/ {world.media}/
    <Directory {world.media}>
        Require all granted
    </Directory>
    ProxyPass /media/ !
    ProxyPass / http://{LOOPBACK}:{world.app}/
    <LocationMatch "\\.(jpe?g|png|webp)$">
        SetHandler "proxy:http://{LOOPBACK}:{world.app}"
    </LocationMatch>
</VirtualHost>

<VirtualHost {LOOPBACK}:{port}>
    ServerName fixed.test
    DocumentRoot {world.media}
    Alias /media/ {world.media}/
    <Directory {world.media}>
        Require all granted
    </Directory>
    ProxyPass /media/ !
    ProxyPass / http://{LOOPBACK}:{world.app}/
    <LocationMatch "^(?!/media/).*\\.(jpe?g|png|webp)$">
        SetHandler "proxy:http://{LOOPBACK}:{world.app}"
    </LocationMatch>
</VirtualHost>

<VirtualHost {LOOPBACK}:{port}>
    ServerName match.test
    ServerAlias *.match.test
    DocumentRoot {world.media}
    Alias /media/ {world.media}/
    <Directory {world.media}>
        Require all granted
    </Directory>
    ProxyPassMatch "\\.(jpe?g|png|webp)$" "http://{LOOPBACK}:{world.app}"
    RewriteEngine On
    RewriteRule "^/about/(.*)$" "http://{LOOPBACK}:{world.files}/about/$1" [P]
</VirtualHost>

<VirtualHost {LOOPBACK}:{port}>
    ServerName healthy.test
    DocumentRoot {world.media}
    Alias /media/ {world.media}/
    <Directory {world.media}>
        Require all granted
    </Directory>
    ProxyPass /media/ !
    ProxyPass / http://{LOOPBACK}:{world.app}/
</VirtualHost>
"""


@pytest.fixture(scope="module")
def apache(world: World) -> Iterator[ServerProcess]:
    require("apache2")
    apache_binary()
    server = start_apache(lambda port: _apache_sites(world, port))
    try:
        yield server
    finally:
        server.stop()


def _httpd_conf(server: ServerProcess) -> Path:
    return server.cleanup_paths[0] / "httpd.conf"


def test_apache_replay_agrees_with_apache(apache: ServerProcess, world: World) -> None:
    config = _httpd_conf(apache)
    assert detect_kind(config) == "apache"
    shadow = _agree(apache, config, world, "shadow.test")
    assert shadow == {"/media/shoe.jpg": "app", "/media/doc.pdf": "disk", "/about/": "app"}
    healthy = _agree(apache, config, world, "healthy.test")
    assert healthy == {"/media/shoe.jpg": "disk", "/media/doc.pdf": "disk", "/about/": "app"}
    # The fix the doctor prints (media excluded from the LocationMatch pattern), applied.
    fixed = _agree(apache, config, world, "fixed.test")
    assert fixed == {"/media/shoe.jpg": "disk", "/media/doc.pdf": "disk", "/about/": "app"}
    assert _verdicts(config, f"http://fixed.test:{apache.port}/media/shoe.jpg") == ["pass"]
    # ProxyPassMatch beats the Alias (mod_proxy maps the URL before mod_alias); a
    # RewriteRule [P] proxies; a wildcard ServerAlias picks the vhost.
    matched = _agree(apache, config, world, "cdn.match.test")
    assert matched == {"/media/shoe.jpg": "app", "/media/doc.pdf": "disk", "/about/": "files"}
    findings = check_config(config, f"http://match.test:{apache.port}/media/shoe.jpg", "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    assert "ProxyPassMatch" in findings[0].summary
    # A Host no vhost names: Apache's first vhost for the address (shadow.test) answers.
    assert _agree(apache, config, world, "other.test")["/media/shoe.jpg"] == "app"


def test_apache_locationmatch_shadowing_an_alias_is_named(apache: ServerProcess) -> None:
    url = f"http://shadow.test:{apache.port}/media/shoe.jpg"
    findings = check_config(_httpd_conf(apache), url, "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    assert (
        '<LocationMatch "\\.(jpe?g|png|webp)$"> takes /media/shoe.jpg away from Alias /media/'
        in (findings[0].summary)
    )
    assert "LocationMatch" in findings[0].fix


def test_apache_control_has_no_fail(apache: ServerProcess) -> None:
    for path in PATHS[:2]:
        url = f"http://healthy.test:{apache.port}{path}"
        assert _verdicts(_httpd_conf(apache), url) == ["pass"], url


def test_apache_dump_vhosts_output_is_followed(apache: ServerProcess, tmp_path: Path) -> None:
    """`apachectl -S` output (here apache2 -S on the running config) names the files."""
    dump = subprocess.run(
        [apache_binary(), "-S", "-f", str(_httpd_conf(apache))],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    saved = tmp_path / "vhosts.txt"
    saved.write_text(dump.stdout + dump.stderr)
    assert "VirtualHost configuration:" in saved.read_text()
    assert detect_kind(saved) == "apache"
    answer = route(saved, f"http://shadow.test:{apache.port}/media/shoe.jpg")
    assert answer.action == "proxy"
    assert answer.rule is not None
    assert answer.rule.kind == "regex"


# -- Nginx Proxy Manager -----------------------------------------------------------------------


def _npm_host(
    number: int, name: str, world: World, *, cache_assets: bool, advanced: bool = False
) -> str:
    """A proxy_host/N.conf laid out as NPM generates it (forward host: the app; a custom
    location /media/ to the file server). ``advanced``: the doctor's fix for Cache Assets
    instead, the custom location moved to the Advanced tab with ``^~``."""
    assets = "  # Asset Caching\n  include conf.d/include/assets.conf;\n" if cache_assets else ""
    media = f"""  location /media/ {{
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-Scheme $scheme;
    proxy_set_header X-Forwarded-Proto  $scheme;
    proxy_set_header X-Forwarded-For    $remote_addr;
    proxy_set_header X-Real-IP          $remote_addr;
    proxy_pass       http://{LOOPBACK}:{world.files}/media/;
  }}
"""
    if advanced:
        media = f"""  location ^~ /media/ {{
      proxy_set_header Host $host;
      proxy_pass http://{LOOPBACK}:{world.files}/media/;
  }}
"""
    return f"""# ------------------------------------------------------------
# {name}
# ------------------------------------------------------------

server {{
  set $forward_scheme http;
  set $server         "{LOOPBACK}";
  set $port           {world.app};

  listen 80;
  listen [::]:80;

  server_name {name};

{assets}
  # Block Exploits
  include conf.d/include/block-exploits.conf;

  access_log /data/logs/proxy-host-{number}_access.log proxy;
  error_log /data/logs/proxy-host-{number}_error.log warn;

{media}
  location / {{
    # Proxy!
    include conf.d/include/proxy.conf;
  }}

  # Custom
  include /data/nginx/custom/server_proxy[.]conf;
}}
"""


def _npm_data(folder: Path, world: World) -> Path:
    data = folder / "data"
    (data / "nginx" / "proxy_host").mkdir(parents=True)
    (data / "nginx" / "custom").mkdir()
    (data / "logs").mkdir(mode=0o777)
    hosts = data / "nginx" / "proxy_host"
    (hosts / "1.conf").write_text(_npm_host(1, "shadow.test", world, cache_assets=True))
    (hosts / "2.conf").write_text(_npm_host(2, "healthy.test", world, cache_assets=False))
    fixed = _npm_host(3, "fixed.test", world, cache_assets=True, advanced=True)
    (hosts / "3.conf").write_text(fixed)
    return data


@pytest.fixture(scope="module")
def npm(world: World) -> Iterator[tuple[ServerProcess, Path]]:
    """Real nginx running NPM's files as the container would: /data is the data folder,
    conf.d/include/ beside nginx.conf, NPM's cache zone and log format in http {}."""
    require("nginx")
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-npm-"))
    folder.chmod(0o755)
    data = _npm_data(folder, world)
    cache = folder / "cache"
    cache.mkdir(mode=0o777)

    def conf(site: NginxSite) -> str:
        include = site.root / "conf.d" / "include"
        include.mkdir(parents=True, exist_ok=True)
        for name, text in IMAGE_INCLUDES.items():
            (include / name).write_text(text.replace("/data/", f"{data}/"))
        blocks = []
        for path in sorted((data / "nginx" / "proxy_host").glob("*.conf")):
            text = path.read_text().replace("/data/", f"{data}/")
            text = text.replace("  listen [::]:80;\n", "").replace("listen 80;", site.listen)
            blocks.append(text)
        return "\n".join(blocks)

    http_extra = (
        f"proxy_cache_path {cache} levels=1:2 keys_zone=public-cache:1m;\n"
        "log_format proxy '$remote_addr $host \"$request\" $status';"
    )
    server = start_nginx(conf, http_extra=http_extra)
    try:
        yield server, data
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_npm_replay_agrees_with_nginx(npm: tuple[ServerProcess, Path], world: World) -> None:
    proxy, data = npm
    assert detect_kind(data) == "npm"
    for host, expected in (
        ("shadow.test", {"/media/shoe.jpg": "app", "/media/doc.pdf": "files", "/about/": "app"}),
        ("healthy.test", {"/media/shoe.jpg": "files", "/media/doc.pdf": "files", "/about/": "app"}),
        ("fixed.test", {"/media/shoe.jpg": "files", "/media/doc.pdf": "files", "/about/": "app"}),
    ):
        for path, who in expected.items():
            assert _who(proxy, host, path) == who, (host, path)
            # NPM's files say `listen 80`: the replay asks for the URL as the public sees it.
            answer = route(data, f"http://{host}{path}")
            assert _replayed(answer, world) == who, (host, path, answer)


def test_npm_cache_assets_is_named_with_npm_fix(npm: tuple[ServerProcess, Path]) -> None:
    _proxy, data = npm
    findings = check_config(data, "http://shadow.test/media/shoe.jpg", "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    assert "takes /media/shoe.jpg away from location /media/" in findings[0].summary
    assert "Cache Assets" in findings[0].fix
    assert "location ^~ /media/" in findings[0].fix
    assert f"proxy_pass http://{LOOPBACK}:" in findings[0].fix  # the custom location's target
    assert any("assets.conf" in line for line in findings[0].evidence)
    # The fix applied (fixed.test: Cache Assets still on): real nginx sends images to the
    # file server (test above), and the hop passes.
    assert _verdicts(data, "http://fixed.test/media/shoe.jpg") == ["pass"]


def test_npm_control_and_unknown_host(npm: tuple[ServerProcess, Path]) -> None:
    _proxy, data = npm
    assert _verdicts(data, "http://healthy.test/media/shoe.jpg") == ["pass"]
    findings = check_config(data, "http://shop.example.com/media/shoe.jpg", "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    assert "no proxy host" in findings[0].summary
    assert "Congratulations" in findings[0].summary


def test_npm_data_folder_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "nginx").mkdir()
    findings = check_config(tmp_path, "http://shop.example.com/media/x.jpg", "/media/")
    assert [f.verdict for f in findings] == ["warn"]
    assert "not Nginx Proxy Manager's data volume" in findings[0].summary


# -- what the hop says beyond the verdict ------------------------------------------------------


def test_media_overview_names_the_rule_that_captures_images(
    caddy: ServerProcess, world: World
) -> None:
    """Checking a PDF passes, and the evidence still says where images under /media/ go."""
    findings = check_config(
        _caddyfile(caddy), f"http://shadow.test:{caddy.port}/media/doc.pdf", "/media/"
    )
    assert [f.verdict for f in findings] == ["pass"]
    evidence = findings[0].evidence
    assert (
        f"images under /media/: path_regexp \\.(jpe?g|png|webp)$ -> proxied to "
        f"{LOOPBACK}:{world.app}"
    ) in evidence
    assert f"other files under /media/: path /media/* -> served from {world.media}" in evidence


def test_a_file_missing_from_the_proxys_folder_is_its_404(
    caddy: ServerProcess, world: World
) -> None:
    url = f"http://shadow.test:{caddy.port}/media/nothing.pdf"
    assert (
        curl(url.replace("shadow.test", LOOPBACK), "-H", "Host: shadow.test", check=False).status
        == 404
    )
    findings = check_config(_caddyfile(caddy), url, "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    assert f"{world.media} has no /nothing.pdf: the proxy answers 404" in findings[0].summary


def test_unreadable_configs_are_named(tmp_path: Path) -> None:
    apache = tmp_path / "site.conf"
    apache.write_text("<VirtualHost *:80>\n    ServerName a.test\n")
    findings = check_config(apache, "http://a.test/media/x.jpg", "/media/")
    assert [f.verdict for f in findings] == ["warn"]
    assert "<virtualhost> is never closed" in findings[0].summary
    caddy = tmp_path / "caddy.json"
    caddy.write_text('{"apps": {"tls": {}}}')
    findings = check_config(caddy, "http://a.test/media/x.jpg", "/media/")
    assert "no apps.http.servers" in findings[0].summary
