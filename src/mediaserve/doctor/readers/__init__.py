"""Proxy readers: which block of a proxy's config answers a URL, and what it does with it.

One entry point for every proxy the doctor knows: :func:`route` returns the common
:class:`Route` (the block, the winning rule, the rules it beat, and the action: proxied to
which upstream, served from which folder, answered or redirected by the proxy), and
:func:`check_config` turns it into the ``proxy`` hop's findings. The kind of config is
recognised from the file (:func:`detect_kind`): nginx (``nginx.conf``, ``nginx -T``), an
Nginx Proxy Manager data folder (``--npm-data``), Caddy (JSON, or a Caddyfile through
``caddy adapt``), Apache (config files, or saved ``apachectl -S`` output) and Traefik's
file provider (YAML or TOML).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ..report import Finding
from .model import Action, ReaderError, Route, RuleMatch

__all__ = [
    "KINDS",
    "Action",
    "ReaderError",
    "Route",
    "RuleMatch",
    "check_config",
    "check_route",
    "detect_kind",
    "media_lines",
    "route",
]

HOP = "proxy"
KINDS = ("nginx", "npm", "caddy", "apache", "traefik")

_APACHE_WORDS = (
    "<virtualhost", "servername ", "documentroot ", "proxypass ", "loadmodule ", "alias ",
    "serverroot ", "include ", "includeoptional ", "listen ", "rewriterule ",
)  # fmt: skip


def detect_kind(config: Path) -> str:
    """Which proxy ``config`` configures, from its name and its first lines."""
    if config.is_dir():
        if (config / "nginx").is_dir() or config.name == "data":
            return "npm"
        if any(p.suffix.lower() in (".yml", ".yaml", ".toml") for p in config.iterdir()):
            return "traefik"
        return "nginx"
    name = config.name.lower()
    try:
        head = config.read_text(errors="replace")[:20000]
    except OSError:
        return "nginx"
    lowered = head.lower()
    if name.endswith((".yml", ".yaml", ".toml")):
        return "traefik"
    if name == "caddyfile" or name.endswith(".caddyfile") or name.startswith("caddyfile."):
        return "caddy"
    stripped = head.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(head) if len(head) < 20000 else json.loads(config.read_text())
        except (json.JSONDecodeError, OSError):
            data = None
        if isinstance(data, dict) and "apps" in data:
            return "caddy"
    lines = [line.strip().lower() for line in lowered.splitlines()]
    if name in ("apache2.conf", "httpd.conf") or "virtualhost configuration:" in lowered:
        return "apache"
    nginx_like = any(line.endswith((";", "{")) for line in lines if not line.startswith("#"))
    sections = ("<virtualhost", "<ifmodule", "<directory", "<location", "<files")
    if any(line.startswith(sections) for line in lines):
        return "apache"
    if any(line.startswith(_APACHE_WORDS) for line in lines) and not nginx_like:
        return "apache"
    if any(line.startswith(("[http.routers", "[http.services")) for line in lines):
        return "traefik"
    if any(line.startswith("reverse_proxy") or line.startswith("file_server") for line in lines):
        return "caddy"
    return "nginx"


def route(config: Path, url: str, *, kind: str | None = None) -> Route:
    """What the proxy configured at ``config`` does with ``url`` (:class:`ReaderError` when
    the config cannot be read: the message says why and what to pass instead)."""
    kind = kind or detect_kind(config)
    if kind == "nginx":
        from .nginx import NginxParseError, parse_nginx, route_nginx

        try:
            directives = parse_nginx(config)
        except (OSError, NginxParseError) as exc:
            raise ReaderError(f"cannot read the nginx config {config}: {exc}") from None
        return route_nginx(directives, url, source=str(config))
    if kind == "npm":
        from .npm import route_npm

        return route_npm(config, url)
    if kind == "caddy":
        from .caddy import load_caddy, route_caddy

        return route_caddy(load_caddy(config), url, source=str(config))
    if kind == "apache":
        from .apache import route_apache

        return route_apache(config, url)
    if kind == "traefik":
        from .traefik import route_traefik

        return route_traefik(config, url)
    raise ReaderError(f"unknown proxy kind {kind!r} (one of {', '.join(KINDS)})")


_FIXES = {
    "caddy": "Caddy tries `handle` blocks in the order the Caddyfile adapter sorts them, and a "
    "named matcher is not sorted after a path: put the media block first, or exclude media "
    "from the other matcher:\n"
    "  @images {{\n    path_regexp \\.(jpe?g|png|webp)$\n    not path {prefix}*\n  }}\n"
    "(check the order with `caddy adapt --config Caddyfile`)",
    "apache": "Apache applies <Location>/<LocationMatch> sections after Alias, in file order, "
    "and a proxy handler or ProxyPassMatch takes the request away from the Alias. Exclude "
    "media in the pattern, e.g.\n"
    '  <LocationMatch "^(?!{prefix}).*\\.(jpe?g|png|webp)$">\n'
    "or, for ProxyPassMatch, put `ProxyPass {prefix} !` before it.",
}


def _is_media(rule: RuleMatch, media: str) -> bool:
    """Whether ``rule`` is a plain prefix rule for the media prefix (or a folder above it
    other than ``/``): the rule the user wrote for media."""
    if rule.prefix is None or rule.kind == "regex":
        return False
    prefix = rule.prefix.rstrip("*")
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    return prefix != "/" and (media.rstrip("/") + "/").startswith(prefix)


def check_route(
    answer: Route, path: str, media_prefix: str | None, *, forwarded_proto: bool = False
) -> list[Finding]:
    """The ``proxy`` hop's findings from a replayed :class:`Route`.

    The same judgement for every proxy: a media rule beaten by another (an image regex, a
    longer Traefik rule), a request answered by the proxy itself, a folder that is not here
    or not readable, no rule at all; otherwise a pass naming the upstream or the folder.
    """
    evidence = [*answer.evidence, *(f"not replayed: {c}" for c in answer.caveats)]
    media = media_prefix or "/media/"
    winner = answer.rule
    if path.startswith(media) and (winner is None or not _is_media(winner, media)):
        beaten = next((r for r in answer.losers if _is_media(r, media)), None)
        if beaten is not None:
            fix = answer.fix or _FIXES.get(
                answer.proxy, "Make the media rule win for every file under it."
            )
            return [
                Finding(
                    HOP,
                    "fail",
                    f"{winner.text if winner else 'another rule'} takes {path} away from "
                    f"{beaten.text}: {answer.outcome()} ({answer.proxy})",
                    [*evidence, f"answered by: {answer.describe()}", f"beaten: {beaten.text}"],
                    fix.replace("{prefix}", media).replace("{{", "{").replace("}}", "}"),
                )
            ]
    if answer.action == "proxy":
        return [Finding(HOP, "pass", f"{answer.describe()}", evidence)]
    if answer.action == "redirect":
        return [
            Finding(
                HOP,
                "warn",
                f"{answer.describe()}: crawlers follow few redirects",
                evidence,
                "Serve media at its final URL (MEDIA_URL on the public host).",
            )
        ]
    if answer.action in ("respond", "none"):
        status = answer.status or 404
        return [
            Finding(
                HOP,
                "fail" if status != 304 else "warn",
                f"{answer.describe()} ({status}) instead of the file",
                evidence,
                f"Give {media} a rule that serves the files or passes them to the app "
                f"({answer.proxy}: see docs/doctor.md, 'Reading proxy configs').",
            )
        ]
    if answer.action == "unknown":
        return [Finding(HOP, "warn", f"{answer.describe()}: what it does is unknown", evidence)]
    return _files(answer, evidence)


def _files(answer: Route, evidence: list[str]) -> list[Finding]:
    mapped = answer.path
    if mapped is None:
        return [Finding(HOP, "pass", answer.describe(), evidence)]
    evidence.append(f"{answer.proxy} reads {mapped}")
    target = Path(mapped)
    if not target.exists() and answer.root and Path(answer.root).is_dir():
        return [
            Finding(
                HOP,
                "fail",
                f"{answer.describe()}, and {answer.root} has no {mapped[len(answer.root) :]}"
                ": the proxy answers 404",
                evidence,
                f"Point the proxy at MEDIA_ROOT (the folder is {answer.root}), or copy the "
                "file there; the 'file' hop says whether MEDIA_ROOT has it.",
            )
        ]
    if not target.exists():
        return [
            Finding(
                HOP,
                "fail",
                f"{answer.describe()}, but {mapped} does not exist where the doctor runs: the "
                "media volume is not mounted in the proxy (or the folder is wrong)",
                evidence,
                f"Mount the app's media volume into the proxy at {answer.root}, or pass "
                "media to the app instead.",
            )
        ]
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = 0
    if not mode & stat.S_IROTH and not os.access(target, os.R_OK):
        return [
            Finding(
                HOP,
                "fail",
                f"{mapped} is not readable (mode {mode:04o}): 403",
                evidence,
                f"chmod 644 {mapped}; settings.py: FILE_UPLOAD_PERMISSIONS = 0o644",
            )
        ]
    return [Finding(HOP, "pass", f"{answer.describe()}: {mapped} (mode {mode:04o})", evidence)]


def media_lines(config: Path, url: str, media_prefix: str | None, *, kind: str) -> list[str]:
    """What the proxy does with media as a whole: an image and a non-image under the media
    prefix, replayed side by side (a rule that captures image extensions shows up even when
    the URL being checked is a PDF)."""
    from urllib.parse import urlsplit, urlunsplit

    media = media_prefix or "/media/"
    parts = urlsplit(url)
    lines: list[str] = []
    for label, name in (("images", "doctor-probe.jpg"), ("other files", "doctor-probe.pdf")):
        probe = urlunsplit((parts.scheme, parts.netloc, media + name, "", ""))
        try:
            answer = route(config, probe, kind=kind)
        except ReaderError:
            return []
        rule = answer.rule.text if answer.rule else "(no rule)"
        lines.append(f"{label} under {media}: {rule} -> {answer.outcome()}")
    return lines


def check_config(
    config: Path,
    url: str,
    media_prefix: str | None,
    *,
    kind: str | None = None,
    forwarded_proto: bool = False,
) -> list[Finding]:
    """The ``proxy`` hop for any config :func:`detect_kind` knows (nginx and NPM go through
    the nginx checks of :mod:`.nginx`, which know more of nginx's own pitfalls)."""
    from urllib.parse import unquote, urlsplit

    kind = kind or detect_kind(config)
    try:
        if kind == "npm":
            from .npm import check_npm

            findings = check_npm(config, url, media_prefix, forwarded_proto=forwarded_proto)
        elif kind == "nginx":
            from .nginx import check_nginx_file

            findings = check_nginx_file(config, url, media_prefix, forwarded_proto=forwarded_proto)
        else:
            answer = route(config, url, kind=kind)
            path = unquote(urlsplit(url).path or "/")
            findings = check_route(answer, path, media_prefix, forwarded_proto=forwarded_proto)
    except ReaderError as exc:
        return [Finding(HOP, "warn", f"cannot read the {kind} config: {exc}", [], "")]
    with_media(findings, media_lines(config, url, media_prefix, kind=kind))
    return findings


def with_media(findings: list[Finding], lines: list[str]) -> None:
    """Add the media overview to the hop's first finding, unless it already says it."""
    if findings and lines:
        findings[0].evidence.extend(line for line in lines if line not in findings[0].evidence)
