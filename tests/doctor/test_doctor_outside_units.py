"""The pure parts of the outside-in diagnosis: who wrote an answer (the servers' own error
pages, as they send them), robots.txt matching (RFC 9309), the DNS client against the stub
server, and which failure the summary names as the cause."""

from __future__ import annotations

import hashlib

import pytest
from dns_stub import stub_resolver

from mediaserve.doctor.dns import DNSError, check_dns, resolve
from mediaserve.doctor.fetch import Response
from mediaserve.doctor.fingerprints import identify
from mediaserve.doctor.report import Finding, Report, render_text
from mediaserve.doctor.robots import check_robots, parse_robots


def _response(status: int, body: bytes, server: str = "", ctype: str = "text/html") -> Response:
    headers = [("Content-Type", ctype)] + ([("Server", server)] if server else [])
    return Response(
        url="https://shop.example.com/media/x.jpg", method="GET", status=status,
        reason="", headers=headers, length=len(body),
        sha256=hashlib.sha256(body).hexdigest(), head=body, elapsed=0.01,
    )  # fmt: skip


NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
OPENRESTY_404 = NGINX_404.replace(b"nginx/1.22.1", b"openresty")
APACHE_404 = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on this server.</p>\n<hr>\n"
    b"<address>Apache/2.4.62 (Debian) Server at shop.example.com Port 80</address>\n"
    b"</body></html>\n"
)
DJANGO_404 = (
    b'<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n'
    b"<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>"
    b"\n</body>\n</html>\n"
)
DJANGO_DEBUG_404 = (
    b"<title>Page not found at /media/x.jpg</title> ... <p>You\xe2\x80\x99re seeing this "
    b"error because you have <code>DEBUG = True</code> in your Django settings file.</p>"
)
GUNICORN_400 = (
    b"<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n  <body>\n"
    b"    <h1><p>Bad Request</p></h1>\n    Invalid request line\n  </body>\n</html>\n"
)


@pytest.mark.parametrize(
    ("response", "name", "role", "strong"),
    [
        (_response(404, NGINX_404, "nginx/1.22.1"), "nginx", "proxy", True),
        (_response(404, OPENRESTY_404, "openresty"), "openresty", "proxy", True),
        # server_tokens off in OpenResty still says openresty in Server
        (_response(404, NGINX_404.replace(b"/1.22.1", b""), "openresty"), "openresty", "proxy",
         True),
        (_response(404, APACHE_404, "Apache/2.4.62 (Debian)"), "apache", "proxy", True),
        (_response(404, b"404 page not found\n", "", "text/plain; charset=utf-8"), "traefik",
         "proxy", True),
        (_response(200, b"", "Caddy"), "caddy", "proxy", True),
        (_response(404, b"", "Caddy"), "caddy", "proxy", True),
        # Django's pages are Django's whoever stamps the Server header on them
        (_response(404, DJANGO_404, "nginx/1.22.1"), "django", "app", True),
        (_response(404, DJANGO_404, "Caddy"), "django", "app", True),
        (_response(404, DJANGO_DEBUG_404, "gunicorn"), "django-debug", "app", True),
        (_response(400, GUNICORN_400, "gunicorn"), "gunicorn", "app", True),
        (_response(500, b"Internal Server Error", "uvicorn", "text/plain"), "uvicorn", "app",
         False),
        (_response(404, b"Not Found\n", "granian", "text/plain"), "granian", "app", False),
        # nginx's name on an answer that is not its page: the proxy in front, weakly
        (_response(404, b"Not Found\n", "nginx", "text/plain"), "nginx", "proxy", False),
    ],
)  # fmt: skip
def test_who_answered(response: Response, name: str, role: str, strong: bool) -> None:
    origin = identify(response)
    assert (origin.name, origin.role, origin.strong) == (name, role, strong)


def test_apache_404_is_not_taken_for_django_by_the_served_hop() -> None:
    """Both pages end "not found on this server"; the served hop's status text must say
    Apache for Apache's."""
    from mediaserve.doctor.served import origin_of

    assert origin_of(_response(404, APACHE_404, "Apache/2.4.62 (Debian)")) == "apache"
    assert origin_of(_response(404, DJANGO_404, "nginx")) == "django"


# -- robots.txt (RFC 9309) -------------------------------------------------------------------


def test_longest_match_wins_and_allow_wins_a_tie() -> None:
    robots = parse_robots(
        "User-agent: *\nDisallow: /media/\nAllow: /media/products/\n"
        "Disallow: /media/products/private\nAllow: /tie\nDisallow: /tie\n"
    )
    assert robots.allowed("facebookexternalhit", "/media/products/a.jpg")
    assert not robots.allowed("facebookexternalhit", "/media/other/a.jpg")
    assert not robots.allowed("facebookexternalhit", "/media/products/private/a.jpg")
    assert robots.allowed("facebookexternalhit", "/tie")


def test_a_group_naming_the_agent_replaces_the_star_group() -> None:
    robots = parse_robots(
        "User-agent: *\nDisallow: /\n\nUser-agent: FacebookExternalHit\nUser-agent: WhatsApp\n"
        "Allow: /media/\nDisallow: /admin/\n"
    )
    assert robots.allowed("facebookexternalhit", "/media/a.jpg")
    assert robots.allowed("WhatsApp", "/media/a.jpg")
    assert not robots.allowed("meta-externalagent", "/media/a.jpg")
    assert not robots.allowed("facebookexternalhit", "/admin/x")


def test_wildcards_and_end_anchor() -> None:
    robots = parse_robots("User-agent: *\nDisallow: /*.jpg$\nDisallow: /private*/\n")
    assert not robots.allowed("WhatsApp", "/media/a.jpg")
    assert robots.allowed("WhatsApp", "/media/a.jpg.html")
    assert not robots.allowed("WhatsApp", "/private-x/a.png")
    assert robots.allowed("WhatsApp", "/media/a.png")


def test_an_empty_disallow_allows_everything() -> None:
    assert parse_robots("User-agent: *\nDisallow:\n").allowed("WhatsApp", "/media/a.jpg")


def test_robots_unreachable_is_a_skip_not_a_failure() -> None:
    from harness import free_port
    from mediaserve.doctor.fetch import FetchOptions

    url = f"http://127.0.0.1:{free_port()}/media/a.jpg"
    [finding] = check_robots(url, FetchOptions(timeout=2))
    assert finding.verdict == "skip"


# -- DNS -------------------------------------------------------------------------------------


def _server(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def test_resolve_reads_a_and_aaaa_from_a_real_server() -> None:
    with stub_resolver({"shop.example.com": ["93.184.216.34", "2001:db8::7"]}) as address:
        answer = resolve("Shop.Example.com.", _server(address), 2)
    assert (answer.a, answer.aaaa, answer.nxdomain) == (["93.184.216.34"], ["2001:db8::7"], False)


def test_public_addresses_pass() -> None:
    with stub_resolver({"shop.example.com": ["93.184.216.34"]}) as address:
        _, [finding] = check_dns("shop.example.com", _server(address), 2)
    assert finding.verdict == "pass"
    assert "A: 93.184.216.34; AAAA: none" in finding.evidence


def test_a_silent_resolver_is_named_not_a_traceback() -> None:
    from harness import free_port

    with pytest.raises(DNSError):
        resolve("shop.example.com", ("127.0.0.1", free_port()), 0.5)
    _, [finding] = check_dns("shop.example.com", ("127.0.0.1", free_port()), 0.5)
    assert finding.verdict == "fail"
    assert "--resolver HOST:PORT" in finding.fix


def test_an_address_or_a_pinned_host_is_not_looked_up() -> None:
    assert check_dns("127.0.0.1", None, 1)[1][0].verdict == "skip"
    assert check_dns("shop.example.com", None, 1, pinned="127.0.0.1")[1][0].verdict == "skip"


# -- the causal summary ----------------------------------------------------------------------


def _report(*findings: tuple[str, str]) -> Report:
    report = Report(target="https://x/media/a.jpg")
    report.add(Finding(hop, verdict, f"{hop} broke") for hop, verdict in findings)  # type: ignore[arg-type]
    return report


def test_the_cause_is_the_failure_that_explains_the_others() -> None:
    """url fails first in hop order but explains nothing; routing explains the 404s."""
    report = _report(("url", "fail"), ("routing", "fail"), ("in-process", "fail"),
                     ("public", "fail"))  # fmt: skip
    assert report.first("fail").hop == "url"  # type: ignore[union-attr]
    assert [f.hop for f in report.causes()] == ["routing", "url"]
    cause = report.cause()
    assert cause is not None
    assert cause.hop == "routing"
    assert report.explained_by(cause) == ["in-process", "public"]
    text = render_text(report)
    assert "RESULT: FAIL (exit 2): broken hop is 'routing': routing broke" in text
    assert "it explains the failures at: in-process, public" in text
    assert "also broken, on its own: 'url': url broke" in text
    data = report.to_dict()
    assert data["cause"]["hop"] == "routing"
    assert [c["hop"] for c in data["other_causes"]] == ["url"]


def test_the_earliest_of_two_independent_causes_comes_first_on_a_tie() -> None:
    report = _report(("tls", "fail"), ("dns", "fail"), ("public", "fail"))
    assert report.cause().hop == "dns"  # type: ignore[union-attr]
    assert report.explained_by(report.cause()) == ["tls", "public"]  # type: ignore[arg-type]


def test_warnings_only_name_the_first_warning() -> None:
    report = _report(("public", "warn"), ("proxy", "pass"))
    assert report.cause().hop == "public"  # type: ignore[union-attr]
    assert "RESULT: WARN (exit 1): first warning at 'public'" in render_text(report)


@pytest.mark.parametrize("value", ["nonsense", "1.1.1.1", "1.1.1.1:0", "host:99999", ":53"])
def test_a_bad_resolver_is_a_usage_message(value: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "doctor", "https://x.example/media/a.jpg",
         "--resolver", value],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--resolver wants HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr
