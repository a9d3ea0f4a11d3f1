"""Hop ``proxy``: which block of the proxy's config answers the media URL, and what it does.

The proxy is recognised from ``--proxy-config`` (nginx, Caddy, Apache, Traefik) or
``--npm-data`` (Nginx Proxy Manager's volume) and replayed by its reader in
:mod:`.readers`; nginx's own checks (and the names older code imports from here) live in
:mod:`.readers.nginx`.
"""

from __future__ import annotations

from pathlib import Path

from .readers import check_config
from .readers.nginx import (
    Directive,
    NginxParseError,
    check_nginx,
    choose_location,
    choose_server,
    parse_nginx,
    route_nginx,
)
from .report import Finding

__all__ = [
    "Directive",
    "NginxParseError",
    "check_nginx",
    "check_proxy",
    "choose_location",
    "choose_server",
    "parse_nginx",
    "route_nginx",
]


def check_proxy(
    config: Path, url: str, media_prefix: str | None, *, forwarded_proto: bool = False
) -> list[Finding]:
    """The ``proxy`` hop's findings for ``url`` under the proxy configured at ``config``
    (a file, a Traefik folder, or an NPM data folder)."""
    return check_config(config, url, media_prefix, forwarded_proto=forwarded_proto)
