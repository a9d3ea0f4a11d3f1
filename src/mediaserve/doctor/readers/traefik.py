"""Traefik's file provider (YAML or TOML): which router answers a URL, and its service.

Traefik sorts the routers of an entry point by priority, highest first, and the first
whose rule matches takes the request. A router without ``priority`` gets the *length of its
rule text*: ``Host(`shop.example.com`) && PathRegexp(`\\.(jpe?g|png)$`)`` outranks
``Host(`shop.example.com`) && PathPrefix(`/media/`)`` because it is longer, not because it
is more specific -- the surprise this reader exists to name. The rule language is replayed:
``Host``, ``HostRegexp``, ``Path``, ``PathPrefix``, ``PathRegexp`` (and v2's
``{name:regex}`` templates), ``Method``, ``&&``, ``||``, ``!`` and parentheses; other
matchers (headers, query, client IP) count as matching and are reported as not replayed.
The router's middlewares are followed for what changes the answer (``stripPrefix``,
``redirectScheme``, ``redirectRegex``), and its service for the upstream URLs.

YAML needs PyYAML (``pip install 'mediaserve[doctor]'``); TOML uses tomllib (Python 3.11+)
or tomli.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .model import ReaderError, Route, RuleMatch

__all__ = ["load_traefik", "parse_rule", "route_traefik"]


_SUFFIXES = (".yml", ".yaml", ".toml")


def load_traefik(path: Path) -> dict[str, Any]:
    """The dynamic configuration in ``path`` (YAML, or TOML by its ``.toml`` name); for a
    folder (``providers.file.directory``), its files merged as Traefik merges them."""
    if path.is_dir():
        merged: dict[str, Any] = {"http": {"routers": {}, "services": {}, "middlewares": {}}}
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES)
        if not files:
            raise ReaderError(f"{path} holds no .yml, .yaml or .toml file")
        for file in files:
            http = load_traefik(file).get("http") or {}
            for section in ("routers", "services", "middlewares"):
                merged["http"][section].update(http.get(section) or {})
        return merged
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ReaderError(f"cannot read {path}: {exc}") from None
    data: Any
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - 3.10
            try:
                import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]
            except ImportError:
                raise ReaderError(
                    "reading Traefik TOML on Python 3.10 needs tomli: "
                    "pip install 'mediaserve[doctor]'"
                ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ReaderError(f"{path} is not valid TOML: {exc}") from None
    else:
        try:
            import yaml
        except ImportError:
            raise ReaderError(
                f"reading Traefik YAML ({path}) needs PyYAML: pip install 'mediaserve[doctor]' "
                "(or convert the file to TOML)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ReaderError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ReaderError(f"{path}: Traefik's dynamic configuration is a mapping")
    return data


# -- the rule language -------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\)|,)|`([^`]*)`|\"((?:\\.|[^\"\\])*)\"|([A-Za-z]+))")


@dataclass
class _Ask:
    host: str
    path: str
    method: str = "GET"
    caveats: list[str] = field(default_factory=list)
    paths: list[RuleMatch] = field(default_factory=list)


Matcher = Any  # a nested tuple tree: ("and"|"or", a, b) / ("not", a) / ("call", name, args)


def _tokens(rule: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(rule):
        if not rule[position:].strip():
            break
        match = _TOKEN.match(rule, position)
        if match is None:
            raise ReaderError(f"cannot read the rule near {rule[position : position + 20]!r}")
        position = match.end()
        punct, backtick, quoted, word = match.groups()
        if punct is not None:
            found.append(("op", punct))
        elif backtick is not None:
            found.append(("str", backtick))
        elif quoted is not None:
            found.append(("str", quoted))
        else:
            found.append(("word", word or ""))
    return found


def parse_rule(rule: str) -> Matcher:
    """The rule as a tree; :class:`ReaderError` naming the spot when it cannot be read."""
    tokens = _tokens(rule)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal position
        token = peek()
        if token is None or (expected is not None and token[1] != expected):
            raise ReaderError(f"rule {rule!r}: expected {expected or 'more'}")
        position += 1
        return token

    def either() -> Matcher:
        left = both()
        while peek() == ("op", "||"):
            take()
            left = ("or", left, both())
        return left

    def both() -> Matcher:
        left = single()
        while peek() == ("op", "&&"):
            take()
            left = ("and", left, single())
        return left

    def single() -> Matcher:
        token = take()
        if token == ("op", "!"):
            return ("not", single())
        if token == ("op", "("):
            inner = either()
            take(")")
            return inner
        if token[0] != "word":
            raise ReaderError(f"rule {rule!r}: unexpected {token[1]!r}")
        take("(")
        args: list[str] = []
        while peek() != ("op", ")"):
            kind, value = take()
            if kind == "str":
                args.append(value)
            elif value != ",":
                raise ReaderError(f"rule {rule!r}: unexpected {value!r} in {token[1]}()")
        take(")")
        return ("call", token[1], args)

    tree = either()
    if peek() is not None:
        raise ReaderError(f"rule {rule!r}: unexpected {tokens[position][1]!r}")
    return tree


def _template(pattern: str) -> str:
    """v2's ``{name:regex}`` / ``{name}`` templates as a Python regex (the rest literal)."""
    out, position = "", 0
    for match in re.finditer(r"\{(\w+)(?::((?:[^{}]|\{[^{}]*\})+))?\}", pattern):
        out += re.escape(pattern[position : match.start()])
        out += f"(?:{match.group(2) or '[^/.]+'})"
        position = match.end()
    return out + re.escape(pattern[position:])


def _call(name: str, args: list[str], ask: _Ask) -> bool:
    lowered = name.lower()
    try:
        if lowered == "host":
            return ask.host.lower() in [a.lower() for a in args]
        if lowered == "hostregexp":
            return any(re.fullmatch(_template(a) if "{" in a else a, ask.host, re.I) for a in args)
        if lowered in ("path", "pathprefix", "pathregexp"):
            for arg in args:
                templated = "{" in arg and lowered != "pathregexp"
                if lowered == "pathregexp":
                    hit = re.search(arg, ask.path) is not None
                elif templated:
                    suffix = "" if lowered == "path" else ".*"
                    hit = re.fullmatch(_template(arg) + suffix, ask.path) is not None
                elif lowered == "path":
                    hit = ask.path == arg
                else:
                    hit = ask.path.startswith(arg)
                if hit:
                    text = f"{name}(`{arg}`)"
                    if lowered == "pathregexp" or templated:
                        ask.paths.append(RuleMatch(text, "regex"))
                    else:
                        kind = "exact" if lowered == "path" else "prefix"
                        ask.paths.append(RuleMatch(text, kind, arg))
                    return True
            return False
    except re.error as exc:
        ask.caveats.append(f"{name}({', '.join(args)}): {exc}")
        return False
    if lowered == "method":
        return ask.method in [a.upper() for a in args]
    ask.caveats.append(f"{name}(...) not evaluated (taken as matching)")
    return True


def _matches(tree: Matcher, ask: _Ask) -> bool:
    if tree[0] == "and":
        return _matches(tree[1], ask) and _matches(tree[2], ask)
    if tree[0] == "or":
        return _matches(tree[1], ask) or _matches(tree[2], ask)
    if tree[0] == "not":
        saved = list(ask.paths)
        result = not _matches(tree[1], ask)
        ask.paths = saved
        return result
    return _call(tree[1], tree[2], ask)


# -- routers, middlewares, services ------------------------------------------------------------


def _plain(name: str) -> str:
    return name.split("@", 1)[0]


def _entry_points(data: dict[str, Any]) -> dict[str, int]:
    """Entry point -> port, when the file also holds the static configuration."""
    ports: dict[str, int] = {}
    for name, entry in (data.get("entryPoints") or {}).items():
        tail = str((entry or {}).get("address", "")).rsplit(":", 1)[-1].split("/")[0]
        if tail.isdigit():
            ports[name] = int(tail)
    return ports


def _service_urls(services: dict[str, Any], name: str, depth: int = 0) -> list[str]:
    service = services.get(_plain(name)) or {}
    balancer = service.get("loadBalancer") or {}
    urls = [str(s.get("url", "?")) for s in balancer.get("servers") or []]
    if not urls and depth < 4:
        weighted = (service.get("weighted") or {}).get("services") or []
        for inner in weighted:
            urls.extend(_service_urls(services, str(inner.get("name", "")), depth + 1))
    return urls


def route_traefik(config: Path, url: str) -> Route:
    """What Traefik, with the file provider's ``config``, does with ``url``."""
    data = load_traefik(config)
    http = data.get("http") or {}
    routers: dict[str, Any] = http.get("routers") or {}
    if not routers:
        raise ReaderError(f"{config}: no http.routers (is this Traefik's dynamic config?)")
    services: dict[str, Any] = http.get("services") or {}
    middlewares: dict[str, Any] = http.get("middlewares") or {}
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = unquote(parts.path or "/")
    ports = _entry_points(data)
    ranked: list[tuple[int, int, str, dict[str, Any]]] = []
    for order, (name, router) in enumerate(routers.items()):
        rule = str((router or {}).get("rule", ""))
        priority = int((router or {}).get("priority") or 0) or len(rule)
        ranked.append((-priority, order, name, router or {}))
    ranked.sort(key=lambda item: (item[0], item[1]))
    evidence = [f"config {config}: {len(routers)} router(s), by priority (default: rule length)"]
    caveats: list[str] = []
    if not ports:
        caveats.append("entry points' ports unknown (static config not in this file)")
    winner: tuple[str, dict[str, Any], _Ask] | None = None
    losers: list[RuleMatch] = []
    top = 0
    names: dict[str, str] = {}
    for negative, _order, name, router in ranked:
        points = router.get("entryPoints") or []
        if ports and points and not any(ports.get(p) == port for p in points):
            continue
        ask = _Ask(parts.hostname or "", path)
        try:
            tree = parse_rule(str(router.get("rule", "")))
        except ReaderError as exc:
            caveats.append(f"router {name}: {exc}")
            continue
        if not _matches(tree, ask):
            continue
        caveats.extend(ask.caveats)
        rule_text = f"router {name} (priority {-negative}): {router.get('rule', '')}"
        shown = ask.paths[0] if ask.paths else RuleMatch(rule_text, "any")
        match = RuleMatch(rule_text, shown.kind, shown.prefix)
        names[rule_text] = name
        if winner is None:
            winner = (name, router, ask)
            chosen, top = match, -negative
        else:
            losers.append(match)
    if winner is None:
        route = Route("traefik", "traefik", None, "none", status=404, evidence=evidence)
        route.evidence.append("no router matches: Traefik answers 404 page not found")
        route.caveats = caveats
        return route
    name, router, ask = winner
    route = Route("traefik", f"router {name}", chosen, "unknown", losers=losers)
    route.evidence = [*evidence, f"{path} -> {chosen.text}"]
    forwarded = path
    for middleware in router.get("middlewares") or []:
        spec = middlewares.get(_plain(str(middleware))) or {}
        if "stripPrefix" in spec:
            for prefix in spec["stripPrefix"].get("prefixes") or []:
                if forwarded.startswith(prefix):
                    forwarded = "/" + forwarded[len(prefix) :].lstrip("/")
                    break
        elif "redirectScheme" in spec and parts.scheme != spec["redirectScheme"].get("scheme"):
            permanent = spec["redirectScheme"].get("permanent")
            route.action, route.status = "redirect", 301 if permanent else 302
            route.location = f"{spec['redirectScheme'].get('scheme')}://{parts.hostname}{path}"
        elif "redirectRegex" in spec:
            regex = str(spec["redirectRegex"].get("regex", ""))
            try:
                if re.search(regex, url):
                    route.action, route.status = "redirect", 302
                    route.location = str(spec["redirectRegex"].get("replacement", ""))
            except re.error:
                caveats.append(f"middleware {middleware}: regex {regex!r} not a Python regex")
        elif spec:
            kinds = ", ".join(spec)
            caveats.append(f"middleware {middleware} ({kinds}) not replayed")
    if route.action != "redirect":
        service = str(router.get("service", ""))
        urls = _service_urls(services, service)
        if _plain(service) in ("noop", "api", "dashboard") or service.endswith("@internal"):
            route.action, route.status = "respond", 404
        elif urls:
            route.action, route.upstream = "proxy", ", ".join(urls)
            if forwarded != path:
                route.evidence.append(f"middlewares forward {forwarded}")
        else:
            route.action = "respond"
            route.status = 404
            route.evidence.append(f"service {service or '(none)'} has no servers here")
    route.caveats = list(dict.fromkeys(caveats))
    media = next((r for r in losers if r.kind == "prefix" and r.prefix not in (None, "/")), None)
    if media is not None:
        route.fix = (
            "Traefik orders routers by priority, which defaults to the length of the rule "
            f"text: router {name} wins because its rule is longer, not because it is more "
            "specific. Give the media router a higher priority:\n"
            f"  http:\n    routers:\n      {names[media.text]}:\n        priority: {top + 1}"
        )
    return route
