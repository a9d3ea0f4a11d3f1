"""Hop ``url``: the link the app emits (in a feed, an API response, a WhatsApp message).

Meta fetches exactly this string from the public internet, so it must be absolute, https,
on a public host name (a container name, ``localhost`` or a private IP answers nothing out
there), percent-encoded once, and end in a file extension. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from urllib.parse import quote, unquote, urlsplit

from .report import Finding

__all__ = ["check_url", "parse_url_or_none"]

HOP = "url"
#: Suffixes that only resolve inside a private network or a container runtime.
PRIVATE_SUFFIXES = (".local", ".internal", ".lan", ".home", ".localdomain", ".docker", ".intranet")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_ALLOWED = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$")


def parse_url_or_none(text: str) -> str | None:
    """Why ``text`` is not an absolute http(s) URL, or None when it is one."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return f"{text!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{text!r} is not an http(s) URL (scheme {parts.scheme or 'missing'!r})"
    if not parts.hostname:
        return f"{text!r} has no host"
    if port == 0:
        return f"{text!r} has port 0"
    return None


def host_problem(host: str) -> tuple[str, str] | None:
    """``(verdict, why)`` when Meta's servers could not reach ``host``; None for a public name."""
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if address.is_loopback or address.is_private or address.is_link_local:
            return "fail", f"{host} is a private address: unreachable from the internet"
        return "warn", f"{host} is an IP address: certificates and crawlers expect a host name"
    if host == "localhost" or host.endswith(".localhost"):
        return "fail", f"{host!r} is this machine, not a public host"
    if "." not in host:
        return "fail", f"{host!r} has no dot: a container or intranet name Meta cannot resolve"
    if host.endswith(PRIVATE_SUFFIXES):
        return "fail", f"{host!r} is a private-network name Meta cannot resolve"
    return None


def check_url(url: str, *, profile: str | None = None, local: bool = False) -> list[Finding]:
    """Findings about the emitted URL itself. ``local`` (``--local``): a set-up checked
    before it is public, so a private host and http:// are noted, not judged."""
    parts = urlsplit(url)
    findings: list[Finding] = []
    if not parts.scheme or not parts.netloc:
        return [
            Finding(
                HOP,
                "fail",
                "the URL is relative: a crawler needs scheme and host",
                [f"emitted: {url}"],
                "Build absolute URLs for anything sent outside the site, e.g.\n"
                "  request.build_absolute_uri(obj.image.url)\n"
                "or join a setting such as PUBLIC_BASE_URL = 'https://shop.example.com' with "
                "obj.image.url.",
            )
        ]
    if local and (parts.scheme == "http" or host_problem(parts.hostname or "")):
        findings.append(
            Finding(
                HOP,
                "skip",
                "local mode: not judged as a public URL (private host or http://)",
                [f"emitted: {url}"],
                "Run again without --local once the public URL exists.",
            )
        )
    elif parts.scheme == "http":
        https = "https://" + url[len("http://") :]
        findings.append(
            Finding(
                HOP,
                "fail" if profile else "warn",
                "the URL is http://: Meta and WhatsApp expect https://",
                [f"emitted: {url}"],
                f"Emit {https}: set the public base URL to https:// (e.g. PUBLIC_BASE_URL = "
                "'https://...'), and behind a TLS proxy set\n"
                "  SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')\n"
                "so request.build_absolute_uri() says https.",
            )
        )
    host = parts.hostname or ""
    problem = None if local else host_problem(host)
    if problem:
        verdict, why = problem
        findings.append(
            Finding(
                HOP,
                "fail" if verdict == "fail" else "warn",
                f"the host is not public: {why}",
                [f"emitted: {url}"],
                "Emit the public domain name the proxy answers for (PUBLIC_BASE_URL / "
                "MEDIA_URL = 'https://media.example.com/'), not the container or internal "
                "address.",
            )
        )
    path = parts.path
    if not _ALLOWED.match(path) or (parts.query and not _ALLOWED.match(parts.query)):
        fixed = quote(unquote(path), safe=_PATH_SAFE)
        findings.append(
            Finding(
                HOP,
                "fail",
                "the URL is not percent-encoded (spaces, non-ASCII or a stray %)",
                [f"path: {path!r}"],
                f"Percent-encode the path once: {fixed}\n"
                "(FieldFile.url already does; don't build media URLs by string concatenation).",
            )
        )
    elif re.search(r"%25[0-9A-Fa-f]{2}", path):
        findings.append(
            Finding(
                HOP,
                "warn",
                "the path looks encoded twice (%25 followed by hex digits)",
                [f"path: {path}", f"decoded once: {unquote(path)}"],
                "Encode the file name once; pass the raw name to quote(), or use FieldFile.url.",
            )
        )
    extension = posixpath.splitext(unquote(path))[1]
    if not extension:
        findings.append(
            Finding(
                HOP,
                "warn",
                "the path has no file extension",
                [f"path: {path}"],
                "Keep the extension in stored names (upload_to keeps it by default): some "
                "consumers pick the media type from it.",
            )
        )
    if not any(f.verdict != "skip" for f in findings):
        if local and findings:
            return findings
        findings.append(
            Finding(
                HOP,
                "pass",
                "absolute, https, public host, encoded, has an extension",
                [f"url: {url}"],
            )
        )
    return findings
