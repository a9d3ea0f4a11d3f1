"""The doctor names a media server block that never sees the request.

Installed beside Debian's/Ubuntu's stock site (sites-enabled/default, the ``default_server``
for port 80), a server block that does not name the public host is shadowed: every media URL
gets the stock site's own 404. The doctor used to follow the stock site's ``location /`` and
blame a missing media volume; it must say which block answers and why.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from doctor_support import HOST, PKI, SHOE, doctor, make_media, make_pki, public_url

from harness import LOOPBACK, NginxSite, ServerProcess, require, start_nginx
from harness.nginx import stock_default_site
from mediaserve.doctor.proxy import check_proxy, choose_server, parse_nginx
from mediaserve.proxyconf import ProxySetup, Upstream, render

# -- the replay, on config text alone ------------------------------------------------------


def _generated(media_root: str, listen: str, server_name: str = "_") -> str:
    setup = ProxySetup(
        media_root=media_root,
        listen=listen,
        server_name=server_name,
        upstream=Upstream("127.0.0.1", 8000),
    )
    return render("nginx", setup).files["mediaserve.conf"]


def _debian(tmp_path: Path, block: str, default: str) -> Path:
    """/etc/nginx as Debian lays it out: nginx.conf including conf.d, then sites-enabled."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "sites-enabled").mkdir()
    (tmp_path / "conf.d" / "mediaserve.conf").write_text(block)
    (tmp_path / "sites-enabled" / "default").write_text(default)
    main = tmp_path / "nginx.conf"
    main.write_text(
        "events {}\nhttp {\n"
        f"    include {tmp_path}/conf.d/*.conf;\n"
        f"    include {tmp_path}/sites-enabled/*;\n}}\n"
    )
    return main


def _old_block(media_root: str) -> str:
    """The block as 0.1 generated it: ``server_name _`` without ``default_server``."""
    return _generated(media_root, "80").replace(" default_server;", ";")


def test_the_stock_default_server_is_named_not_a_missing_volume(tmp_path: Path) -> None:
    config = _debian(tmp_path, _old_block(str(tmp_path)), stock_default_site("80"))
    findings = check_proxy(config, f"http://{HOST}/media/{SHOE}", "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    summary = findings[0].summary
    assert "another server block is the default_server for port 80" in summary
    assert f"answers this Host ({HOST})" in summary
    assert "sites-enabled/default" in summary
    assert "location ^~ /media/" in summary
    assert "not mounted" not in summary
    assert f"server_name {HOST};" in findings[0].fix
    assert "rm /etc/nginx/sites-enabled/default" in findings[0].fix


def test_without_any_default_server_the_first_block_answers(tmp_path: Path) -> None:
    """No block says default_server: nginx takes the port's first one (here the stock site,
    with its default_server removed, placed first)."""
    stock = stock_default_site("80").replace(" default_server", "")
    (tmp_path / "a.conf").write_text(stock)
    (tmp_path / "b.conf").write_text(_old_block(str(tmp_path)))
    main = tmp_path / "nginx.conf"
    main.write_text(f"http {{\n include {tmp_path}/a.conf;\n include {tmp_path}/b.conf;\n}}\n")
    findings = check_proxy(main, f"http://{HOST}/media/{SHOE}", "/media/")
    assert "is the first on port 80" in findings[0].summary


def test_a_site_naming_the_host_shadows_a_nameless_media_block(tmp_path: Path) -> None:
    """The project's own site names the host (root /var/www/shop) and the generated media
    block names none: nginx gives the request to the site, which has no media location."""
    site = (
        "server { listen 80; server_name shop.example.com; root /var/www/shop;\n"
        "  location / { try_files $uri $uri/ =404; } }\n"
    )
    config = _debian(tmp_path, _generated(str(tmp_path), "80"), site)
    findings = check_proxy(config, f"http://{HOST}/media/{SHOE}", "/media/")
    assert f"another server block names this Host ({HOST})" in findings[0].summary
    assert "not mounted" not in findings[0].summary


@pytest.mark.parametrize(
    "site",
    [
        # The site passes everything to the app, which serves media in-process.
        "server { listen 80 default_server; location / { proxy_pass http://web:8000; } }",
        # The media block is another host's (a CDN name): not this Host's to answer.
        "server { listen 80 default_server; root /var/www/html; }",
    ],
)
def test_no_shadow_is_reported_where_none_harms(tmp_path: Path, site: str) -> None:
    media = _generated(str(tmp_path), "80", "cdn.example.com")
    if "proxy_pass" in site:
        media = _generated(str(tmp_path), "80").replace(" default_server;", ";")
    config = _debian(tmp_path, media, site + "\n")
    findings = check_proxy(config, f"http://{HOST}/media/{SHOE}", "/media/")
    assert all("another server block" not in f.summary for f in findings), findings


def test_a_block_chosen_by_its_name_is_not_shadowed(tmp_path: Path) -> None:
    """The control: the block names the host, so it answers; the hop goes on to the disk."""
    block = _generated(str(tmp_path), "80", HOST)
    config = _debian(tmp_path, block, stock_default_site("80"))
    findings = check_proxy(config, f"http://{HOST}/media/{SHOE}", "/media/")
    assert all("another server block" not in f.summary for f in findings)
    assert any("location ^~ /media/" in e for f in findings for e in f.evidence)


def test_the_generated_block_is_the_default_once_the_stock_site_is_gone(tmp_path: Path) -> None:
    block = _generated(str(tmp_path), "80")
    config = _debian(tmp_path, block, "")
    server = choose_server(parse_nginx(config), HOST, 80)
    assert server is not None
    assert any("default_server" in d.args for d in server.find("listen"))


@pytest.mark.parametrize(
    ("names", "host", "winner"),
    [
        # nginx's order: exact, longest leading wildcard, longest trailing, first regex.
        (["~^shop", "*.example.com", "shop.example.com"], "shop.example.com", 2),
        (["~^shop", "*.example.com", "*.shop.example.com"], "a.shop.example.com", 2),
        (["~^shop", "shop.*", "*.com"], "shop.example.com", 2),
        (["~^shop", "shop.*"], "shop.example.com", 1),
        (["~^sh", "~^shop"], "shop.example.com", 0),
        (["SHOP.example.com"], "shop.EXAMPLE.com", 0),
    ],
)
def test_server_names_rank_as_nginx_ranks_them(
    tmp_path: Path, names: list[str], host: str, winner: int
) -> None:
    servers = "\n".join(
        f"server {{ listen 80; server_name {name}; location /b{i}/ {{ return 204; }} }}"
        for i, name in enumerate(names)
    )
    config = tmp_path / "nginx.conf"
    config.write_text(f"http {{\n{servers}\n}}\n")
    server = choose_server(parse_nginx(config), host, 80)
    assert server is not None
    assert server.find("server_name")[0].args == [names[winner]]


# -- the real thing: Debian's stock site and the generated block in nginx, on TLS -------------


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    require("nginx")
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-doctor-shadow-"))
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


def _stock_install(pki: PKI, media_root: Path, server_name: str = "_") -> ServerProcess:
    """nginx laid out as on Debian, on TLS: conf.d/mediaserve.conf (the generated block, as
    0.1 wrote it when ``server_name`` is ``_``) and sites-enabled/default (the stock site)."""
    pem, key = pki.cert("good")

    def conf(site: NginxSite) -> str:
        listen = f"{LOOPBACK}:{site.port} ssl"
        text = _generated(str(media_root), listen, server_name)  # no app: media only
        if server_name == "_":
            text = text.replace(" default_server;", ";")
        conf_d, enabled = site.root / "conf.d", site.root / "sites-enabled"
        for folder in (conf_d, enabled):
            folder.mkdir(mode=0o755, exist_ok=True)
        (conf_d / "mediaserve.conf").write_text(text)
        (enabled / "default").write_text(stock_default_site(listen))
        return (
            f"ssl_certificate {pem};\nssl_certificate_key {key};\n"
            f"include {conf_d}/*.conf;\ninclude {enabled}/*;\n"
        )

    return start_nginx(conf)


def test_doctor_names_the_stock_site_that_shadows_the_media_block(
    pki: PKI, media_root: Path
) -> None:
    nginx = _stock_install(pki, media_root)
    try:
        config = str(nginx.cleanup_paths[0] / "nginx.conf")
        run = doctor(public_url(nginx), "--proxy-config", config, proxy=nginx, pki=pki)
    finally:
        nginx.stop()
    assert run.first["hop"] == "proxy", run.stdout
    assert "another server block is the default_server for port" in run.first["summary"]
    assert f"answers this Host ({HOST})" in run.first["summary"]
    assert "sites-enabled/default" in run.first["summary"]
    assert "not mounted" not in run.text("proxy")
    assert f"server_name {HOST};" in run.first["fix"]
    # What the crawler gets is the stock site's 404, as the report said.
    assert "404 from nginx itself" in run.text("public")


def test_doctor_passes_the_block_that_names_the_host(pki: PKI, media_root: Path) -> None:
    """The control: the same install with --server-name; the proxy and public hops pass."""
    nginx = _stock_install(pki, media_root, HOST)
    try:
        config = str(nginx.cleanup_paths[0] / "nginx.conf")
        run = doctor(public_url(nginx), "--proxy-config", config, proxy=nginx, pki=pki)
    finally:
        nginx.stop()
    assert run.verdict("proxy") == "pass", run.stdout
    assert run.verdict("public") == "pass", run.stdout
