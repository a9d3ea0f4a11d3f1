"""Generated proxy config as text: the choices that keep each format correct, and the inputs
no format can express. Loading into the real servers is tests/proxies/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import REPO_ROOT
from mediaserve.http.content_types import (
    EXTENSION_TYPES,
    FALLBACK_TYPE,
    PASSIVE_EXTENSIONS,
    extension_is_active,
    guess_type,
    is_active,
    served_types,
)
from mediaserve.http.plan import ServeOptions
from mediaserve.policy.platforms import MB, WHATSAPP_DOCUMENT
from mediaserve.proxyconf import KINDS, ConfigError, ProxySetup, Upstream, render
from mediaserve.proxyconf.nginx import render_npm_advanced


def text(kind: str, **kwargs: object) -> str:
    return "\n".join(render(kind, ProxySetup(**kwargs)).files.values())  # type: ignore[arg-type]


def test_extension_verdicts_are_the_in_process_verdicts() -> None:
    """Proxies pick headers by extension, mediaserve by type: one table answers both."""
    for ext in [*EXTENSION_TYPES, "rss", "kml", "htc", "exe", ""]:
        for spelled in (ext, ext.upper()):
            verdict = is_active(guess_type(f"x.{spelled}"))
            assert extension_is_active(spelled) == verdict, spelled
            assert (ext in PASSIVE_EXTENSIONS) == (not verdict), ext


def test_served_types_are_what_guess_type_sends() -> None:
    grouped = served_types()
    assert sorted(e for exts in grouped.values() for e in exts) == sorted(EXTENSION_TYPES)
    for value, exts in grouped.items():
        assert all(guess_type(f"x.{ext}") == value for ext in exts), value


def nginx_types(conf: str) -> dict[str, str]:
    block = conf.split("types {", 1)[1].split("}", 1)[0]
    found = {}
    for line in block.strip().splitlines():
        value, _, exts = line.strip().rstrip(";").rpartition('" ')
        found.update(dict.fromkeys(exts.split(), value.lstrip('"')))
    return found


def test_nginx_sends_the_in_process_type_for_every_extension() -> None:
    conf = text("nginx")
    assert nginx_types(conf) == {ext: guess_type(f"x.{ext}") for ext in EXTENSION_TYPES}
    assert f"default_type {FALLBACK_TYPE};" in conf


@pytest.mark.parametrize("kind", ["nginx", "caddy", "apache"])
def test_only_the_passive_extensions_escape_the_sandbox(kind: str) -> None:
    """The one exception to the sandbox names exactly the passive extensions: anything else
    (HTML, an extension only the proxy's map knows, none at all) is neutralised."""
    conf = text(kind)
    lists = re.findall(r"\\.\(\?:([a-z0-9|]+)\)\$", conf)
    passive = [alt for alt in lists if {"jpg", "pdf"} <= set(alt.split("|")) and "html" not in alt]
    assert [set(alt.split("|")) for alt in passive] == [set(PASSIVE_EXTENSIONS)]
    assert conf.count("sandbox; default-src 'none'") == 1


def test_content_type_overrides_reach_every_proxy() -> None:
    """MEDIASERVE CONTENT_TYPES changes in-process types, so it changes the proxies' too."""
    overrides = {"glb": "model/gltf-binary", "log": "text/html"}
    setup = ProxySetup(content_types=(("GLB", "model/gltf-binary"), (".log", "text/html")))
    types = nginx_types(render("nginx", setup).files["mediaserve.conf"])
    assert types["glb"] == guess_type("x.glb", overrides) == "model/gltf-binary"
    assert types["log"] == guess_type("x.log", overrides) == "text/html; charset=utf-8"
    passive = setup.passive_regex.split("|")
    assert "glb" in passive
    assert "log" not in passive
    for kind in ("caddy", "apache"):
        assert "model/gltf-binary" in text(kind, content_types=(("glb", "model/gltf-binary"),))


@pytest.mark.parametrize("pair", [("gl b", "model/x"), ("glb", "model/x; a=b"), ("x", "$t/y")])
def test_content_type_overrides_a_proxy_cannot_express_are_refused(pair: tuple[str, str]) -> None:
    with pytest.raises(ConfigError, match="CONTENT_TYPES"):
        ProxySetup(content_types=(pair,))


@pytest.mark.parametrize("kind", ["nginx", "caddy", "apache"])
def test_without_neutralise_active_nothing_is_sandboxed(kind: str) -> None:
    """NEUTRALISE_ACTIVE = False in-process (trusted media only) means no sandbox here."""
    assert "sandbox" in text(kind)
    assert "sandbox" not in text(kind, neutralise_active=False)


def test_proxy_defaults_are_the_in_process_defaults() -> None:
    """Spelled once, in ServeOptions: a proxy left at its defaults answers as the app does."""
    assert ProxySetup().cache_control == ServeOptions().cache_control
    assert ProxySetup().max_ranges == ServeOptions().max_ranges
    assert ProxySetup().neutralise_active == ServeOptions().neutralise_active
    assert f'add_header Cache-Control "{ServeOptions().cache_control}";' in text("nginx")


def test_proxy_body_limit_is_the_largest_whatsapp_document() -> None:
    assert ProxySetup().max_body == f"{WHATSAPP_DOCUMENT.max_bytes // MB}m" == "100m"


def test_nginx_media_location_beats_regex_locations() -> None:
    assert 'location ^~ "/media/" {' in text("nginx")


def test_nginx_alias_has_the_trailing_slash() -> None:
    """alias /srv/media (no slash) turns /media/a.jpg into /srv/mediaa.jpg."""
    assert 'alias "/srv/media/";' in text("nginx", media_root="/srv/media")
    assert 'alias "/srv/media/";' in text("nginx", media_root="/srv/media/")


def test_nginx_turns_tcp_nopush_off() -> None:
    """With tcp_nopush, unaligned ranges over keep-alive waited ~40 ms each (bench/)."""
    assert "tcp_nopush off;" in text("nginx")


def test_nginx_quotes_paths_with_spaces_and_quotes() -> None:
    conf = text("nginx", media_root='/srv/my "media"')
    assert 'alias "/srv/my \\"media\\"/";' in conf


@pytest.mark.parametrize(
    ("kind", "root"),
    [("nginx", "/srv/$media"), ("npm", "/srv/$x"), ("caddy", "/srv/{media}"),
     ("apache", "/srv/med*a"), ("apache", "/srv/${HOME}")],
)  # fmt: skip
def test_paths_a_format_cannot_express_are_refused(kind: str, root: str) -> None:
    with pytest.raises(ConfigError, match="rename the directory"):
        render(kind, ProxySetup(media_root=root))


def test_npm_advanced_text_has_the_default_location_npm_looks_for() -> None:
    """NPM drops its own `location /` only if the Advanced text matches this pattern, and then
    the offload header the Advanced text sets reaches the app."""
    advanced = render_npm_advanced(ProxySetup(private=("private",)))
    assert re.search(r"^(?:.*;)?\s*?location\s*?/\s*?{", advanced, re.I | re.M)
    assert 'proxy_set_header X-Mediaserve-Offload "x-accel-redirect";' in advanced


def test_internal_location_only_when_the_app_offloads() -> None:
    assert "internal;" in text("nginx", offload="x-accel-redirect")
    assert "internal;" not in text("nginx", offload=None)
    assert "X-Mediaserve-Offload" not in text("nginx", offload=None)


def test_all_private_media_goes_to_the_app() -> None:
    conf = text("nginx", private=("",))
    assert "alias" in conf  # the internal location still maps the directory
    assert 'location ^~ "/media/" {\n        proxy_pass' in conf


def test_apache_proxies_private_prefixes_before_excluding_media() -> None:
    conf = text("apache", private=("invoices",), offload="x-sendfile")
    assert conf.index('ProxyPass "/media/invoices/"') < conf.index('ProxyPass "/media/" !')
    assert "XSendFilePath" in conf
    assert "FileETag None" in conf


def test_traefik_rule_excludes_private_prefixes() -> None:
    conf = text("traefik", private=("invoices",), server_name="shop.example.com")
    assert (
        "Host(`shop.example.com`) && PathPrefix(`/media/`) && !PathPrefix(`/media/invoices/`)"
        in conf
    )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"media_url": "/"}, "must not be '/'"),
        ({"media_url": "/me dia/"}, "URL path"),
        ({"media_url": "/../x/"}, "URL path"),
        ({"media_root": "media"}, "absolute path"),
        ({"internal_prefix": "/media/_x/"}, "overlaps MEDIA_URL"),
        ({"cache_control": "public; add_header X 1"}, "without quotes"),
        ({"limit_req": "fast"}, "20r/s"),
        ({"server_name": "a.com; include /etc/passwd"}, "without quotes"),
    ],
)
def test_bad_options_are_refused_with_the_fix(kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        ProxySetup(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["ftp://x:1", "web:port", "http://web:8000/app", ""])
def test_bad_upstreams_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="upstream"):
        Upstream.parse(value)


def test_upstream_forms() -> None:
    assert Upstream.parse("web:8000") == Upstream("web", 8000)
    assert Upstream.parse("http://[::1]:9000").address == "[::1]:9000"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_defaults(kind: str) -> None:
    assert all(body.strip() for body in render(kind, ProxySetup()).files.values())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "config", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT / "src")},
    )  # fmt: skip


def test_cli_error_is_one_line_naming_the_option() -> None:
    result = cli("nginx", "--media-root", "relative/media")
    assert result.returncode == 2
    assert result.stderr.startswith("mediaserve config: --media-root 'relative/media'")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_writes_files_into_output_dir(tmp_path: Path) -> None:
    result = cli("npm", "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "docker-compose.npm.yml",
        "npm-advanced.conf",
    ]
    assert "Custom Locations" in result.stderr  # the NPM notes go to stderr


def test_cli_reports_unwritable_output_without_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("nginx", "--output", str(blocker / "sub"))
    assert result.returncode == 2
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_with_unimportable_settings_says_so() -> None:
    result = cli("nginx", "--settings", "no.such.settings")
    assert result.returncode == 2
    assert "Django settings" in result.stderr
    assert "Traceback" not in result.stderr
