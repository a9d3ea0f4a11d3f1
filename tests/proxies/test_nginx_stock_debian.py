"""The generated nginx block on a stock Debian/Ubuntu nginx, laid out as the package lays it out.

Debian's nginx.conf includes ``conf.d/*.conf`` and then ``sites-enabled/*``, and
sites-enabled/default (the stock site) is the ``default_server`` for port 80. Installed
beside it as the header said, the 0.1 block (``server_name _``) never saw a request: every
media URL got the stock site's own 404. Now a block without a name claims
``default_server`` itself, so nginx -t refuses the pair and names the stock site; the header
says how to install it, and following it (to the letter: the test runs the header's own
steps) serves media. A block with a name works beside the stock site as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from proxy_support import config_text

from harness import (
    LOOPBACK,
    MediaTree,
    NginxConfigError,
    NginxSite,
    RawResponse,
    ServerProcess,
    free_port,
    raw_request,
    require,
    start_nginx,
)
from harness.nginx import stock_default_site

HOST = "shop.example.com"


def generated(tree: MediaTree, listen: str, *extra: str) -> str:
    return config_text(
        "nginx", "--listen", listen, "--media-root", str(tree.root),
        "--upstream", f"{LOOPBACK}:{free_port()}", *extra,
    )  # fmt: skip


def debian_layout(block: Callable[[NginxSite], str]) -> Callable[[NginxSite], str]:
    """An ``http {}`` body as Debian's nginx.conf has it: the generated file installed as
    conf.d/mediaserve.conf, the stock site in sites-enabled/, included in that order.
    (The folder stands for /etc/nginx.)"""

    def conf(site: NginxSite) -> str:
        conf_d = site.root / "conf.d"
        enabled = site.root / "sites-enabled"
        for folder in (conf_d, enabled):
            folder.mkdir(mode=0o755, exist_ok=True)
        (enabled / "default").write_text(stock_default_site(f"{LOOPBACK}:{site.port}"))
        (conf_d / "mediaserve.conf").write_text(block(site))
        return f"include {conf_d}/*.conf;\ninclude {enabled}/*;\n"

    return conf


def get(server: ServerProcess, path: str, host: str = HOST) -> RawResponse:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    return raw_request(LOOPBACK, server.port, request.encode())


@pytest.fixture(autouse=True)
def _nginx() -> None:
    require("nginx")


def test_the_01_block_was_shadowed_by_the_stock_site(tree: MediaTree) -> None:
    """The report, reproduced: the block without default_server (as 0.1 generated it) beside
    the stock site; the file exists, yet the answer is the stock site's own 404."""

    def old_block(site: NginxSite) -> str:
        text = generated(tree, f"{LOOPBACK}:{site.port}")
        return text.replace(" default_server;", ";")

    server = start_nginx(debian_layout(old_block))
    try:
        response = get(server, "/media/" + tree.text)
    finally:
        server.stop()
    assert response.status == 404
    assert b"<center>nginx" in response.body


def test_nginx_t_refuses_the_block_beside_the_stock_site_and_names_it(tree: MediaTree) -> None:
    """Rather than a site that fails silently: nginx -t names the stock site."""
    with pytest.raises(NginxConfigError) as refused:
        start_nginx(debian_layout(lambda site: generated(tree, f"{LOOPBACK}:{site.port}")))
    assert "duplicate default server" in str(refused.value)
    assert "sites-enabled/default" in str(refused.value)


def install_steps(header: str) -> list[list[str]]:
    """The shell steps the generated header gives (``#   rm ...`` lines)."""
    return [line[1:].split() for line in header.splitlines() if re.match(r"#\s+rm\s", line)]


def test_following_the_header_serves_media_on_a_stock_install(tree: MediaTree) -> None:
    """The header's own steps, run against the copy of /etc/nginx, make media work for any
    Host (the block answers every Host, as `server_name _` meant)."""
    stock = debian_layout(lambda site: generated(tree, f"{LOOPBACK}:{site.port}"))

    def installed_as_the_header_says(site: NginxSite) -> str:
        include = stock(site)
        header = (site.root / "conf.d" / "mediaserve.conf").read_text()
        steps = install_steps(header)
        assert steps == [["rm", "/etc/nginx/sites-enabled/default"]], header[:800]
        for _command, target in steps:
            (site.root / Path(target).relative_to("/etc/nginx")).unlink()
        return include

    server = start_nginx(installed_as_the_header_says)
    try:
        for host in (HOST, "www.shop.example.com", "203.0.113.7"):
            response = get(server, "/media/" + tree.text, host)
            assert (response.status, response.body) == (200, tree.files[tree.text]), host
    finally:
        server.stop()


def test_a_named_block_works_beside_the_stock_site(tree: MediaTree) -> None:
    """With --server-name nothing needs removing: the name claims the host, the stock site
    keeps every other one."""
    server = start_nginx(
        debian_layout(
            lambda site: generated(tree, f"{LOOPBACK}:{site.port}", "--server-name", HOST)
        )
    )
    try:
        media = get(server, "/media/" + tree.text)
        assert (media.status, media.body) == (200, tree.files[tree.text])
        other = get(server, "/media/" + tree.text, "other.example.com")
        assert other.status == 404
        assert b"<center>nginx" in other.body
    finally:
        server.stop()
