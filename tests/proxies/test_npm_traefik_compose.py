"""Nginx Proxy Manager's Cache-Assets trap reproduced on real nginx and fixed by the generated
Advanced-tab text; Traefik's nginx sidecar config served by real nginx; the compose files
(generated and deploy/) parsed by Debian's docker-compose, which needs no engine for that."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_support import (
    PRIVATE_PDF,
    PUBLIC_BIG,
    check_file_semantics,
    config_text,
    example_app,
    is_app_etag,
    mediaserve_config,
)

from harness import (
    REPO_ROOT,
    MediaTree,
    NginxSite,
    ServerProcess,
    curl,
    require,
    start_nginx,
)


@pytest.fixture(scope="module")
def app_without_files(tree: MediaTree) -> Iterator[ServerProcess]:
    """The app as it is in the trap: its MEDIA_ROOT is not the volume nginx has, so any media
    request that reaches it is a 404."""
    empty = tree.base / "app-media"
    empty.mkdir(mode=0o755, exist_ok=True)
    with example_app(empty, "x-accel-redirect") as app:
        yield app


# NPM's proxy-host server block, in the shape NPM writes it: the "Cache Assets" include (a
# regex location for asset extensions, cached, 404s included), then the Advanced text, then
# the default location unless the Advanced text has one (NPM looks for "location / {").
def npm_server(site: NginxSite, app_port: int, advanced: str) -> str:
    has_default = re.search(r"^(?:.*;)?\s*?location\s*?/\s*?{", advanced, re.I | re.M)
    default = (
        ""
        if has_default
        else """
        location / {
            proxy_pass $forward_scheme://$server:$port$request_uri;
        }"""
    )
    return f"""
    proxy_cache_path {site.root}/cache levels=1:2 keys_zone=public-cache:1m max_size=10m;
    server {{
        {site.listen}
        set $forward_scheme http;
        set $server "127.0.0.1";
        set $port {app_port};
        location ~* ^.*\\.(css|js|jpe?g|gif|png|webp|woff|eot|ttf|svg|ico|css\\.map|js\\.map)$ {{
            if_modified_since off;
            proxy_cache public-cache;
            proxy_cache_key $host$request_uri;
            proxy_ignore_headers Set-Cookie Cache-Control Expires X-Accel-Expires;
            proxy_cache_valid any 30m;
            proxy_cache_valid 404 1m;
            proxy_hide_header Set-Cookie;
            expires 7d;
            proxy_pass $forward_scheme://$server:$port$request_uri;
        }}
{advanced}
{default}
    }}
    """


def test_npm_cache_assets_takes_images_from_a_plain_media_location(
    app_without_files: ServerProcess, tree: MediaTree
) -> None:
    """The trap as users meet it: `location /media/ { alias ...; }` in the Advanced tab. A PDF
    is served, but the PNG matches the asset regex first, goes to the app and 404s."""
    require("nginx")
    plain = f"""
        location /media/ {{
            alias {tree.root}/;
        }}"""
    proxy = start_nginx(lambda site: npm_server(site, app_without_files.port, plain))
    try:
        assert curl(proxy.url("/media/" + PRIVATE_PDF)).status == 200
        assert curl(proxy.url("/media/image.png")).status == 404
    finally:
        proxy.stop()


def test_generated_npm_advanced_text_serves_images_despite_cache_assets(
    app_without_files: ServerProcess, tree: MediaTree
) -> None:
    require("nginx")
    advanced = config_text(
        "npm", "--media-root", str(tree.root), "--upstream",
        f"127.0.0.1:{app_without_files.port}", "--output", str(tree.base / "npm-out"),
    )  # fmt: skip
    assert "npm-advanced.conf" in advanced
    text = (tree.base / "npm-out" / "npm-advanced.conf").read_text()
    proxy = start_nginx(lambda site: npm_server(site, app_without_files.port, text))
    try:
        image = curl(proxy.url("/media/image.png"))
        assert (image.status, image.body) == (200, tree.files["image.png"])
        assert not is_app_etag(image.headers.get("etag"))
        check_file_semantics(proxy.url("/media/" + PUBLIC_BIG), tree.files[PUBLIC_BIG])
        # Everything else still reaches the app through the Advanced text's own location /.
        assert curl(proxy.url("/healthz")).status == 200
    finally:
        proxy.stop()


def test_traefik_sidecar_config_serves_public_media_only(tree: MediaTree) -> None:
    require("nginx")
    out = tree.base / "traefik-out"
    result = mediaserve_config(
        "traefik", "--media-root", str(tree.root), "--private", "private", "--output", str(out)
    )
    assert result.returncode == 0, result.stderr
    sidecar = (out / "mediaserve-nginx.conf").read_text()

    def conf(site: NginxSite) -> str:
        return sidecar.replace("listen 80;", site.listen)

    proxy = start_nginx(conf)
    try:
        check_file_semantics(proxy.url("/media/" + PUBLIC_BIG), tree.files[PUBLIC_BIG])
        assert curl(proxy.url("/media/" + PRIVATE_PDF)).status == 404
        assert curl(proxy.url("/admin/")).status == 404
    finally:
        proxy.stop()


def docker_compose(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require("docker-compose")
    env = {**os.environ, "DJANGO_SECRET_KEY": "compose-config-check"}
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
        check=False,
    )  # fmt: skip


def test_deploy_compose_file_parses(tmp_path: Path) -> None:
    result = docker_compose("-f", str(REPO_ROOT / "deploy/docker-compose.yml"), "config",
                            cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "media:/srv/media:ro" in result.stdout
    assert "MEDIASERVE_OFFLOAD: x-accel-redirect" in result.stdout


def test_deploy_nginx_conf_is_what_the_generator_prints() -> None:
    """deploy/nginx/mediaserve.conf is generated; a hand edit or a generator change must be
    noticed (regenerate with the command in deploy/README.md)."""
    expected = config_text(
        "nginx", "--upstream", "http://web:8000", "--private", "invoices",
        "--media-root", "/srv/media",
    )  # fmt: skip
    assert (REPO_ROOT / "deploy/nginx/mediaserve.conf").read_text() == expected


@pytest.mark.parametrize("kind", ["npm", "traefik"])
def test_generated_compose_merges_with_a_project(kind: str, tmp_path: Path) -> None:
    base = tmp_path / "docker-compose.yml"
    base.write_text(
        "services:\n  web:\n    image: shop\n  npm:\n    image: jc21/nginx-proxy-manager\n"
    )
    result = mediaserve_config(kind, "--upstream", "web:8000", "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    extra = next(tmp_path.glob("docker-compose.*.yml"))
    merged = docker_compose("-f", str(base), "-f", str(extra), "config", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert "/srv/media:ro" in merged.stdout
