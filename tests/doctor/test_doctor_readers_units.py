"""The readers on config text alone: kind detection and the rules the real-server tests do
not reach (Apache rewrites and redirects, Traefik's explicit priority and scheme redirect,
Caddy's path matcher forms, Route judgement)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediaserve.doctor.readers import Route, RuleMatch, check_route, detect_kind, route
from mediaserve.doctor.readers.caddy import route_caddy


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("nginx.conf", "events {}\nhttp {\n server {\n  location / { }\n }\n}\n", "nginx"),
        ("all.conf", "# configuration file /etc/nginx/nginx.conf:\nhttp { }\n", "nginx"),
        ("Caddyfile", "shop.example.com {\n  reverse_proxy web:8000\n}\n", "caddy"),
        ("caddy.json", json.dumps({"apps": {"http": {"servers": {}}}}), "caddy"),
        ("shop.conf", "<VirtualHost *:80>\n ServerName a\n</VirtualHost>\n", "apache"),
        ("vhosts.txt", "VirtualHost configuration:\n*:80  a (/x.conf:1)\n", "apache"),
        ("dynamic.yml", "http:\n  routers: {}\n", "traefik"),
        ("dynamic.toml", "[http.routers.a]\nrule = 'Host(`a`)'\n", "traefik"),
    ],
)
def test_the_kind_is_recognised(tmp_path: Path, name: str, text: str, kind: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert detect_kind(path) == kind


def test_folders_are_npm_or_traefik(tmp_path: Path) -> None:
    (tmp_path / "data" / "nginx" / "proxy_host").mkdir(parents=True)
    assert detect_kind(tmp_path / "data") == "npm"
    (tmp_path / "dyn").mkdir()
    (tmp_path / "dyn" / "a.yaml").write_text("http: {}\n")
    assert detect_kind(tmp_path / "dyn") == "traefik"


def _apache(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "site.conf"
    path.write_text(
        "<VirtualHost *:80>\n    ServerName shop.example.com\n"
        f"    DocumentRoot {tmp_path}\n    Alias /media/ {tmp_path}/media/\n{body}\n"
        "</VirtualHost>\n"
    )
    return path


def test_apache_rewrite_flags(tmp_path: Path) -> None:
    config = _apache(
        tmp_path,
        "    RewriteEngine On\n"
        "    RewriteCond %{HTTPS} off\n"
        '    RewriteRule "^/old/(.*)$" "https://shop.example.com/new/$1" [R=301,L]\n'
        '    RewriteRule "^/secret" "-" [F]\n'
        '    RewriteRule "^/media/(.*\\.jpg)$" "http://app:8000/media/$1" [P]\n',
    )
    moved = route(config, "http://shop.example.com/old/a.jpg")
    assert (moved.action, moved.status, moved.location) == (
        "redirect",
        301,
        "https://shop.example.com/new/a.jpg",
    )
    assert any("RewriteCond not evaluated" in c for c in moved.caveats)
    assert route(config, "http://shop.example.com/secret/x").status == 403
    proxied = route(config, "http://shop.example.com/media/a.jpg")
    assert (proxied.action, proxied.upstream) == ("proxy", "http://app:8000/media/a.jpg")
    findings = check_route(proxied, "/media/a.jpg", "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    assert "away from Alias /media/" in findings[0].summary


def test_apache_include_and_default_vhost(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "000-default.conf").write_text(
        "<VirtualHost *:80>\n  DocumentRoot /var/www/html\n</VirtualHost>\n"
    )
    (sites / "shop.conf").write_text(
        "<VirtualHost *:80>\n  ServerName shop.example.com\n"
        "  ProxyPass / http://web:8000/\n</VirtualHost>\n"
    )
    main = tmp_path / "apache2.conf"
    main.write_text(f"<IfModule mod_alias.c>\n</IfModule>\nIncludeOptional {sites}/*.conf\n")
    assert (
        route(main, "http://shop.example.com/media/a.jpg").upstream == "http://web:8000/media/a.jpg"
    )
    other = route(main, "http://www.example.com/media/a.jpg")
    assert other.path == "/var/www/html/media/a.jpg"
    assert "000-default.conf" in other.block


def test_traefik_explicit_priority_and_scheme_redirect(tmp_path: Path) -> None:
    config = tmp_path / "dynamic.toml"
    config.write_text(
        "[http.routers.media]\n"
        '  rule = "PathPrefix(`/media/`)"\n'
        '  service = "files"\n'
        "  priority = 500\n"
        '  middlewares = ["https"]\n'
        "[http.routers.images]\n"
        '  rule = "Host(`shop.example.com`) && PathRegexp(`\\\\.(jpe?g|png)$`)"\n'
        '  service = "app"\n'
        "[http.middlewares.https.redirectScheme]\n"
        '  scheme = "https"\n'
        "  permanent = true\n"
        "[[http.services.files.loadBalancer.servers]]\n"
        '  url = "http://files:80"\n'
        "[[http.services.app.loadBalancer.servers]]\n"
        '  url = "http://web:8000"\n'
    )
    plain = route(config, "http://shop.example.com/media/a.jpg")
    assert (plain.action, plain.status) == ("redirect", 301)
    assert plain.location == "https://shop.example.com/media/a.jpg"
    secure = route(config, "https://shop.example.com/media/a.jpg")
    assert secure.rule is not None
    assert secure.rule.text.startswith("router media (priority 500)")
    assert secure.upstream == "http://files:80"


def test_caddy_path_matcher_forms() -> None:
    def site(paths: list[str]) -> dict[str, object]:
        handler = {"handler": "static_response", "status_code": 204}
        routes = [{"match": [{"path": paths}], "handle": [handler]}]
        return {"apps": {"http": {"servers": {"s": {"listen": [":80"], "routes": routes}}}}}

    for paths, path, hit in (
        (["/media/*"], "/MEDIA/a.jpg", True),  # case-insensitive
        (["*.jpg"], "/media/a.jpg", True),
        (["*thumb*"], "/media/a-thumb.jpg", True),
        (["/media/*/a.jpg"], "/media/x/a.jpg", True),
        (["/media"], "/media/a.jpg", False),
    ):
        answer = route_caddy(site(paths), f"http://a{path}")
        assert (answer.action == "respond") is hit, (paths, path)
        if not hit:
            assert (answer.action, answer.status) == ("none", 200)  # Caddy's empty 200


def test_route_judgement_for_redirect_and_none() -> None:
    redirect = Route("caddy", "s", RuleMatch("path /media/*", "prefix", "/media/"), "redirect",
                     status=302, location="https://cdn.example.com/a.jpg")  # fmt: skip
    assert [f.verdict for f in check_route(redirect, "/media/a.jpg", "/media/")] == ["warn"]
    nothing = Route("traefik", "traefik", None, "none", status=404)
    [finding] = check_route(nothing, "/media/a.jpg", "/media/")
    assert finding.verdict == "fail"
    assert "no rule answers (404)" in finding.summary
