"""Proof: the hops Meta's crawler meets before and around the file, each broken for real.

DNS through a stub resolver the test starts (no record, AAAA only, a private address), a
TLS chain without its intermediate, an HTTP<->HTTPS redirect loop, a slow first byte, bytes
that change between two fetches (two replicas with different copies), robots.txt keeping
Meta out of /media/, gzip that turns a Range into another body; and --local with the causal
summary. Servers are real (nginx, gunicorn); the doctor runs as a user would, without
--proxy-config.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dns_stub import stub_resolver
from doctor_support import (
    HOST,
    PKI,
    SHOE,
    Chain,
    doctor,
    make_chain,
    make_media,
    make_pki,
    public_url,
    site_env,
    start_proxy,
    start_site,
)

from harness import LOOPBACK, NginxSite, ServerProcess, free_port, require, start_nginx

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    require("nginx")
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
def chain(workdir: Path) -> Chain:
    return make_chain(workdir / "chain")


@pytest.fixture(scope="module")
def media_root(workdir: Path) -> Path:
    return make_media(workdir / "files")


def _alias(media_root: Path, extra: str = "") -> str:
    return f"""
    location /media/ {{
        alias {media_root}/;
        {extra}
    }}"""


@pytest.fixture(scope="module")
def site(pki: PKI, media_root: Path) -> Iterator[ServerProcess]:
    """A healthy TLS site serving /media/ from disk, shared by the DNS tests."""
    server = start_proxy(pki, _alias(media_root))
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


def _cause(run: object) -> dict[str, str]:
    data = run.data  # type: ignore[attr-defined]
    assert data["cause"] is not None, run.stdout  # type: ignore[attr-defined]
    return dict(data["cause"])


# -- DNS -------------------------------------------------------------------------------------


def test_dns_no_record_is_the_dns_hop(site: ServerProcess, pki: PKI) -> None:
    """NXDOMAIN: nothing else can be tried, and the fix is the record to create."""
    with stub_resolver({}) as resolver:
        run = doctor(public_url(site), "--resolver", resolver, pki=pki)
    cause = _cause(run)
    assert (cause["hop"], run.code) == ("dns", 2), run.stdout
    assert "does not exist (NXDOMAIN)" in cause["summary"]
    assert f"{HOST}. A <the proxy's public IPv4>" in cause["fix"]
    assert run.verdict("public") == "skip"


def test_dns_aaaa_only_is_the_dns_hop(site: ServerProcess, pki: PKI) -> None:
    with stub_resolver({HOST: ["::1"]}) as resolver:
        run = doctor(public_url(site), "--resolver", resolver, pki=pki)
    cause = _cause(run)
    assert cause["hop"] == "dns", run.stdout
    assert "AAAA record only" in cause["summary"]
    assert f"Add an A record for {HOST}" in cause["fix"]


def test_dns_private_address_fails_though_it_works_from_here(site: ServerProcess, pki: PKI) -> None:
    """10.x/127.x in public DNS: every fetch from this machine works; Meta's cannot."""
    with stub_resolver({HOST: ["127.0.0.1"]}) as resolver:
        run = doctor(public_url(site), "--resolver", resolver, pki=pki)
    cause = _cause(run)
    assert cause["hop"] == "dns", run.stdout
    assert "resolves to a private address (127.0.0.1)" in cause["summary"]
    assert run.verdict("public") == "pass", run.stdout


def test_dns_private_address_is_fine_with_local(site: ServerProcess, pki: PKI) -> None:
    """The healthy control for DNS: --local accepts the private address, every hop passes,
    and the fetches went to the address the resolver gave (no --resolve here)."""
    with stub_resolver({HOST: ["127.0.0.1"]}) as resolver:
        run = doctor(public_url(site), "--resolver", resolver, "--local", pki=pki)
    assert run.code == 0, run.stdout
    assert run.verdict("dns") == "pass"


# -- TLS -------------------------------------------------------------------------------------


def _chain_site(chain: Chain, media_root: Path, cert: Path) -> Callable[[NginxSite], str]:
    def conf(site: NginxSite) -> str:
        return f"""
server {{
    listen {LOOPBACK}:{site.port} ssl;
    server_name {HOST};
    ssl_certificate {cert};
    ssl_certificate_key {chain.key};
{_alias(media_root)}
}}
"""

    return conf


@pytest.mark.parametrize("full", [False, True], ids=["leaf-only", "fullchain"])
def test_missing_intermediate_is_the_tls_hop(
    chain: Chain, media_root: Path, started: list[ServerProcess], full: bool
) -> None:
    """nginx with cert.pem instead of fullchain.pem: a client trusting only the root cannot
    build the chain. The control (fullchain) passes."""
    nginx = start_nginx(_chain_site(chain, media_root, chain.full if full else chain.leaf))
    started.append(nginx)
    run = doctor(public_url(nginx), "--resolve", f"{HOST}:{nginx.port}:{LOOPBACK}",
                 "--cafile", str(chain.root))  # fmt: skip
    if full:
        assert run.code == 0, run.stdout
        return
    cause = _cause(run)
    assert cause["hop"] == "tls", run.stdout
    assert "incomplete chain" in cause["summary"]
    assert "doctor test intermediate" in cause["summary"]
    assert "fullchain.pem" in cause["fix"]


# -- HTTP ------------------------------------------------------------------------------------


def test_http_https_redirect_loop(pki: PKI, started: list[ServerProcess]) -> None:
    """https sends to http, http back to https (a CDN's Flexible mode against an origin
    that forces https looks like this from outside)."""
    plain = free_port()
    pem, key = pki.cert("good")

    def conf(site: NginxSite) -> str:
        return f"""
server {{
    listen {LOOPBACK}:{site.port} ssl;
    server_name {HOST};
    ssl_certificate {pem};
    ssl_certificate_key {key};
    location / {{ return 301 http://{HOST}:{plain}$request_uri; }}
}}
server {{
    listen {LOOPBACK}:{plain};
    server_name {HOST};
    location / {{ return 301 https://{HOST}:{site.port}$request_uri; }}
}}
"""

    nginx = start_nginx(conf)
    started.append(nginx)
    run = doctor(public_url(nginx), "--resolve", f"{HOST}:{plain}:{LOOPBACK}", proxy=nginx,
                 pki=pki)  # fmt: skip
    cause = _cause(run)
    assert cause["hop"] == "public", run.stdout
    assert cause["summary"].startswith("HTTP<->HTTPS redirect loop")
    assert "Full (strict)" in cause["fix"]


def test_slow_first_byte_is_timed(media_root: Path) -> None:
    """An app that takes 0.3 s before answering media, checked before it is public
    (--local, a loopback http URL) with a 0.25 s budget."""
    require("gunicorn")
    server = start_site(media_root, first_byte_delay="0.3",
                        allowed_hosts=f"{HOST},{LOOPBACK}")  # fmt: skip
    try:
        run = doctor(f"{server.base_url}/media/{SHOE}", "--local", "--max-first-byte", "0.25")
    finally:
        server.stop()
    cause = _cause(run)
    assert cause["hop"] == "public", run.stdout
    assert cause["summary"].startswith("slow first byte: ")
    assert "(budget 0.25 s)" in cause["summary"]
    assert run.verdict("url") == "skip"


def test_bytes_that_change_between_fetches(
    pki: PKI, media_root: Path, workdir: Path, started: list[ServerProcess]
) -> None:
    """Two replicas behind the proxy, each with its own copy of the file (volumes not
    shared): two fetches in a row get different images."""
    from PIL import Image

    other = workdir / "replica-b"
    (other / "products").mkdir(parents=True, exist_ok=True)
    for folder in (other, other / "products"):
        folder.chmod(0o755)
    Image.new("RGB", (800, 800), (10, 200, 10)).save(other / SHOE, "JPEG", quality=80)
    (other / SHOE).chmod(0o644)
    a, b = free_port(), free_port()
    pem, key = pki.cert("good")

    def conf(site: NginxSite) -> str:
        return f"""
upstream replicas {{ server {LOOPBACK}:{a}; server {LOOPBACK}:{b}; }}
server {{ listen {LOOPBACK}:{a}; location /media/ {{ alias {media_root}/; }} }}
server {{ listen {LOOPBACK}:{b}; location /media/ {{ alias {other}/; }} }}
server {{
    listen {LOOPBACK}:{site.port} ssl;
    server_name {HOST};
    ssl_certificate {pem};
    ssl_certificate_key {key};
    location /media/ {{ proxy_pass http://replicas; }}
}}
"""

    nginx = start_nginx(conf)
    started.append(nginx)
    run = doctor(public_url(nginx), proxy=nginx, pki=pki)
    cause = _cause(run)
    assert cause["hop"] == "public", run.stdout
    assert cause["summary"] == "the same URL answered different bytes on two fetches in a row"
    assert "every replica must see the same volume" in cause["fix"]


def test_robots_txt_disallowing_media_for_meta(
    pki: PKI, media_root: Path, started: list[ServerProcess]
) -> None:
    """`User-agent: * / Disallow: /media/` written for search engines keeps Meta out too."""
    rules = "User-agent: *\\nDisallow: /media/\\n"
    robots = f'location = /robots.txt {{ default_type text/plain; return 200 "{rules}"; }}'
    nginx = start_proxy(pki, _alias(media_root) + robots)
    started.append(nginx)
    run = doctor(public_url(nginx), "--profile", "meta-catalog", proxy=nginx, pki=pki)
    cause = _cause(run)
    assert cause["hop"] == "robots", run.stdout
    assert (
        "disallows /media/products/shoe.jpg for facebookexternalhit and WhatsApp"
        in (cause["summary"])
    )
    assert "User-agent: facebookexternalhit" in cause["fix"]
    assert "Allow: /media/products/" in cause["fix"]
    assert run.verdict("public") == "pass"


def test_gzip_on_images_breaks_ranges(
    pki: PKI, media_root: Path, started: list[ServerProcess]
) -> None:
    """gzip_types with image/jpeg: a crawler's Accept-Encoding plus Range gets a gzip body
    instead of the 206 (a plain fetch, without Accept-Encoding, looks fine)."""
    gzip = "gzip on; gzip_types image/jpeg; gzip_min_length 1; gzip_vary on;"
    nginx = start_proxy(pki, _alias(media_root, gzip))
    started.append(nginx)
    run = doctor(public_url(nginx), proxy=nginx, pki=pki)
    cause = _cause(run)
    assert cause["hop"] == "public", run.stdout
    assert "with Accept-Encoding: gzip the answer is Content-Encoding: gzip" in cause["summary"]
    assert "gzip_types without image" in cause["fix"]


# -- --local and the causal summary ----------------------------------------------------------


@pytest.mark.parametrize("local", [False, True], ids=["public-check", "local"])
def test_local_run_names_the_routing_not_the_loopback_url(media_root: Path, local: bool) -> None:
    """A loopback URL on an app whose urls.py uses static() with DEBUG off: without --local
    the url hop fails too, but the summary's cause is routing (it explains the 404s); with
    --local the url is not judged at all."""
    require("gunicorn")
    values = {"urls": "static", "allowed_hosts": f"{HOST},{LOOPBACK}"}
    server = start_site(media_root, **values)
    try:
        args = [f"{server.base_url}/media/{SHOE}", "--upstream", server.base_url]
        run = doctor(*args, *(["--local"] if local else []), env=site_env(media_root, **values))
    finally:
        server.stop()
    cause = _cause(run)
    assert cause["hop"] == "routing", run.stdout
    assert "static()" in cause["summary"]
    assert {"in-process", "public"} <= set(run.data["explains"]), run.stdout
    others = [c["hop"] for c in run.data["other_causes"]]
    assert others == ([] if local else ["url"]), run.stdout
    assert run.verdict("url") == ("skip" if local else "fail")
