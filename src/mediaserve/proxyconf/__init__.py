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
        return Rendered({"mediaserve.conf": render_nginx(setup)})
    if kind == "npm":
        return Rendered(
            {
                npm.ADVANCED_FILE: npm.render_npm_advanced(setup),
                npm.COMPOSE_FILE: npm.render_npm_compose(setup),
            },
            npm.npm_notes(setup),
        )
    if kind == "caddy":
        return Rendered({"Caddyfile": render_caddy(setup)})
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
