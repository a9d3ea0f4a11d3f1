"""Who produced an HTTP answer: a proxy by itself, or the app server behind it.

Seen from outside, the same 404 means opposite things: nginx's own 404 says the proxy looked
on its disk (a volume not mounted), Django's 404 page says the request reached the app (no
route there, or a proxy rule sent it there). The ``Server`` header alone cannot tell: nginx
and Caddy put their own name on what they pass on (nginx drops the upstream's ``Server``),
while Apache passes the backend's. So the body's signature comes first, from the error pages
each server writes itself, then the header. Pure: no I/O.

Signatures, from the servers' own pages:

- nginx: ``<center>nginx</center>`` (or ``nginx/1.x``) under the ``<h1>``; OpenResty (what
  Nginx Proxy Manager runs) writes ``<center>openresty</center>`` and ``Server: openresty``;
  NPM's default site is a page that names "Nginx Proxy Manager".
- Apache httpd: ``The requested URL was not found on this server.`` and an ``<address>``
  footer naming Apache.
- Caddy: ``Server: Caddy``; a site with no matching route answers **200 with an empty body**,
  and ``file_server`` answers 404 with an empty body.
- Traefik: Go's ``404 page not found`` (text/plain) when no router matches, no ``Server``.
- Django: ``The requested resource was not found on this server.`` (production 404),
  ``Page not found`` with "because you have ``DEBUG = True``" (the debug 404),
  ``<h1>Bad Request (400)</h1>``, ``<h1>Server Error (500)</h1>``.
- gunicorn's own error pages: ``<h1><p>Bad Request</p></h1>``; uvicorn and granian name
  themselves in ``Server`` (their own 500 is ``Internal Server Error`` in plain text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .fetch import Response

__all__ = ["PROXIES", "Origin", "identify"]

Role = Literal["proxy", "app", "unknown"]

#: Names of the proxies the doctor gives a tailored fix for.
PROXIES = ("nginx", "npm", "openresty", "apache", "caddy", "traefik")

_BODY_SIGNS: tuple[tuple[bytes, str, Role, str], ...] = (
    (b"nginx proxy manager", "npm", "proxy", "Nginx Proxy Manager's default page"),
    (b"<center>openresty", "openresty", "proxy", "OpenResty's own error page"),
    (b"<center>nginx", "nginx", "proxy", "nginx's own error page"),
    (
        b"the requested url was not found on this server",
        "apache",
        "proxy",
        "Apache's own 404 page",
    ),
    (b"<address>apache", "apache", "proxy", "Apache's own error page"),
    (b"because you have <code>debug = true</code>", "django-debug", "app", "Django's DEBUG page"),
    (
        b"the requested resource was not found on this server",
        "django",
        "app",
        "Django's 404 page",
    ),
    (b"<h1>bad request (400)</h1>", "django", "app", "Django's 400 page"),
    (b"<h1>server error (500)</h1>", "django", "app", "Django's 500 page"),
    (b"<h1><p>", "gunicorn", "app", "gunicorn's own error page"),
)

_SERVER_NAMES: tuple[tuple[str, str, Role], ...] = (
    ("openresty", "openresty", "proxy"),
    ("nginx", "nginx", "proxy"),
    ("caddy", "caddy", "proxy"),
    ("apache", "apache", "proxy"),
    ("traefik", "traefik", "proxy"),
    ("cloudflare", "cloudflare", "proxy"),
    ("gunicorn", "gunicorn", "app"),
    ("uvicorn", "uvicorn", "app"),
    ("granian", "granian", "app"),
    ("daphne", "daphne", "app"),
    ("hypercorn", "hypercorn", "app"),
    ("waitress", "waitress", "app"),
    ("wsgiserver", "wsgiref", "app"),
    ("werkzeug", "werkzeug", "app"),
)


@dataclass(frozen=True)
class Origin:
    """Who answered. ``strong`` when the body's own signature says so (a proxy's error page
    cannot come from the app behind it); a ``Server`` header alone is weak, because the
    proxy in front stamps its name on the app's answers too."""

    name: str
    role: Role
    clue: str
    strong: bool
    #: The ``Server`` header as sent (the proxy in front, usually).
    server: str = ""

    @property
    def label(self) -> str:
        names = {
            "npm": "Nginx Proxy Manager",
            "django-debug": "Django (DEBUG = True)",
            "django": "Django",
            "openresty": "OpenResty (Nginx Proxy Manager?)",
        }
        return names.get(self.name, self.name)


def identify(response: Response) -> Origin:
    """The origin of ``response`` from its body's signature, then its ``Server`` header."""
    server = (response.header("server") or "").strip()
    lowered = server.lower()
    body = response.head[:4096].lower()
    for sign, name, role, clue in _BODY_SIGNS:
        if sign in body:
            if name == "nginx" and lowered.startswith("openresty"):
                name, clue = "openresty", "OpenResty's own error page"
            return Origin(name, role, clue, True, server)
    if body.strip() == b"404 page not found" and not server:
        return Origin("traefik", "proxy", "Go's '404 page not found' (Traefik's)", True, server)
    empty = response.length == 0 and response.method != "HEAD"
    if lowered.startswith("caddy") and empty and response.status in (200, 404):
        clue = (
            "Caddy's empty answer (no route matched)"
            if response.status == 200
            else "Caddy file_server's empty 404"
        )
        return Origin("caddy", "proxy", clue, True, server)
    for prefix, name, role in _SERVER_NAMES:
        if lowered.startswith(prefix):
            return Origin(name, role, f"Server: {server}", False, server)
    if body.strip() == b"not found" and response.content_type == "text/plain":
        return Origin("app", "app", "a plain-text 'Not Found' (mediaserve, Starlette)", False, "")
    return Origin(lowered or "unknown", "unknown", f"Server: {server}" if server else "", False, "")
