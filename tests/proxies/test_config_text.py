"""What the generated configs take from in-process serving, checked on the text alone (no
server starts here; the real servers are in test_absence.py and test_mime_maps.py)."""

from __future__ import annotations

import re

import pytest

from mediaserve.http.plan import not_found
from mediaserve.pipeline.request import decode_path
from mediaserve.proxyconf import ProxySetup, render, traefik
from mediaserve.proxyconf.model import (
    NOT_FOUND_BODY,
    NOT_FOUND_HEADERS,
    NOT_FOUND_TYPE,
    refused_escape_regex,
)
from mediaserve.sources.base import Refused


def test_the_proxies_404_is_the_in_process_404() -> None:
    plan = not_found()
    assert plan.status == 404
    assert NOT_FOUND_BODY.encode() == b"".join(p for p in plan.body if isinstance(p, bytes))
    assert (("Content-Type", NOT_FOUND_TYPE), ("Content-Length", str(len(NOT_FOUND_BODY))),
            *NOT_FOUND_HEADERS) == plan.headers  # fmt: skip


# Escapes around the refused ones: a dot, a letter, a percent sign, UTF-8, the other case.
CANDIDATES = ("%2f", "%2F", "%5c", "%5C", "%00", "%2e", "%41", "%25", "%c3%a9", "%20", "%0a")


@pytest.mark.parametrize("escape", CANDIDATES)
def test_the_proxies_refuse_exactly_the_escapes_the_app_refuses(escape: str) -> None:
    """The proxies' pattern and pipeline/request.py decode_path must agree on every escape;
    a new refusal in the app fails here until the proxies learn it."""
    raw = f"/media/a{escape}b.jpg".encode()
    try:
        decode_path(b"/media/ab.jpg", raw)
        app_refuses = False
    except Refused:
        app_refuses = True
    proxies_refuse = re.search(refused_escape_regex(), raw.decode(), re.IGNORECASE) is not None
    assert proxies_refuse == app_refuses, escape


def test_an_escape_in_the_query_is_not_refused() -> None:
    assert re.search(refused_escape_regex(), "/media/a.jpg?next=%2F", re.IGNORECASE) is None


def _nginx(**kwargs: object) -> str:
    return render("nginx", ProxySetup(**kwargs)).files["mediaserve.conf"]  # type: ignore[arg-type]


def test_a_block_without_a_name_is_the_default_server() -> None:
    """Beside Debian's stock site a nameless block never sees a request; as default_server
    it either answers every Host or nginx -t names the conflict."""
    text = _nginx()
    assert "    listen 80 default_server;\n" in text
    assert "rm /etc/nginx/sites-enabled/default" in text
    assert "    listen 127.0.0.1:8080 default_server;\n" in _nginx(listen="127.0.0.1:8080")
    assert "    listen 80 default_server;\n" in _nginx(listen="80 default_server")


def test_a_named_block_leaves_the_default_to_others() -> None:
    text = _nginx(server_name="shop.example.com")
    assert "    listen 80;\n" in text
    assert "default_server" not in text


def test_the_traefik_sidecar_keeps_content_types_and_neutralise_active() -> None:
    """The sidecar serves public media with in-process serving's table: CONTENT_TYPES and
    NEUTRALISE_ACTIVE reach it as they reach the other generators."""
    setup = ProxySetup(content_types=(("glb", "model/gltf-binary"),), neutralise_active=False)
    sidecar = render("traefik", setup).files[traefik.SIDECAR_CONF]
    assert '"model/gltf-binary" glb;' in sidecar
    assert "sandbox" not in sidecar
    assert "sandbox" in render("traefik", ProxySetup()).files[traefik.SIDECAR_CONF]


@pytest.mark.parametrize("kind", ["nginx", "npm", "traefik", "caddy", "apache"])
def test_every_generator_answers_absence_with_the_in_process_body(kind: str) -> None:
    text = "\n".join(render(kind, ProxySetup(private=("invoices",))).files.values())
    body = {
        "caddy": '"Not Found\n"',
        "apache": "%{unescape:Not%20Found%0A}",
    }.get(kind, 'return 404 "Not Found\\n";')
    assert NOT_FOUND_BODY == "Not Found\n"
    assert body in text


def test_the_notes_name_the_traps_of_a_nameless_nginx_block_and_of_caddy() -> None:
    nginx_notes = " ".join(render("nginx", ProxySetup()).notes)
    assert "rm /etc/nginx/sites-enabled/default" in nginx_notes
    assert not render("nginx", ProxySetup(server_name="shop.example.com")).notes
    assert "symlinks" in " ".join(render("caddy", ProxySetup()).notes)
