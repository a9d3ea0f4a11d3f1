"""Generated proxy configuration: ``mediaserve config nginx|npm|caddy|apache|traefik``.

One :class:`ProxySetup` (prefix, directory, app, private prefixes) renders every format, so
they agree with each other and with in-process serving on headers and on what is private.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import npm, traefik
from .apache import render_apache
from .caddy import render_caddy
from .model import ConfigError, ProxySetup, Upstream
from .nginx import render_nginx

__all__ = ["KINDS", "ConfigError", "ProxySetup", "Rendered", "Upstream", "render"]

KINDS = ("nginx", "npm", "caddy", "apache", "traefik")


@dataclass(frozen=True)
class Rendered:
    """The files to write (name -> text) and the notes for the person installing them."""

    files: dict[str, str]
    notes: list[str] = field(default_factory=list)


def render(kind: str, setup: ProxySetup) -> Rendered:
    if kind == "nginx":
        notes = []
        if setup.server_name == "_":
            notes.append(
                "No --server-name: the block is the default_server for its port. On "
                "Debian/Ubuntu remove the stock site first (rm /etc/nginx/sites-enabled/"
                "default; nginx -t reports a duplicate default server otherwise), or give "
                "--server-name your.domain."
            )
        return Rendered({"mediaserve.conf": render_nginx(setup)}, notes)
    if kind == "npm":
        return Rendered(
            {
                npm.ADVANCED_FILE: npm.render_npm_advanced(setup),
                npm.COMPOSE_FILE: npm.render_npm_compose(setup),
            },
            npm.npm_notes(setup),
        )
    if kind == "caddy":
        notes = []
        if not setup.all_private:
            notes.append(
                "Caddy follows symlinks (no setting refuses them): keep MEDIA_ROOT free of "
                "them (find MEDIA_ROOT -type l), or pass --private '' so the app checks "
                "every name."
            )
        return Rendered({"Caddyfile": render_caddy(setup)}, notes)
    if kind == "apache":
        notes = []
        if setup.offload not in (None, "x-sendfile"):
            notes.append(
                "Apache offloads with X-Sendfile: set MEDIASERVE['OFFLOAD'] = 'x-sendfile' "
                "(and --offload x-sendfile here)."
            )
        return Rendered({"mediaserve-apache.conf": render_apache(setup)}, notes)
    if kind == "traefik":
        return Rendered(
            {
                traefik.COMPOSE_FILE: traefik.render_traefik(setup),
                traefik.SIDECAR_CONF: traefik.render_sidecar_nginx(setup),
            },
            [
                "Traefik cannot send files for the app (no X-Accel-Redirect): private media "
                "is served by the app in-process; leave MEDIASERVE['OFFLOAD'] unset."
            ],
        )
    raise ConfigError(f"unknown proxy {kind!r}: use one of {', '.join(KINDS)}")
