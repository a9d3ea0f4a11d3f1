"""Caddy: which route answers a URL, from the JSON config (or a Caddyfile, through
``caddy adapt``).

Caddy's JSON is what Caddy runs; a Caddyfile is only turned into it (``caddy adapt``), with
the directive order and the sorting of ``handle`` blocks applied. So a Caddyfile is adapted
by the real ``caddy`` binary when it is installed, never by a re-implementation here that
could sort differently. The replay then follows Caddy's own rules for one request:

* the server whose ``listen`` holds the URL's port (any server when none does);
* its ``routes`` in order; a route runs when one of its matcher sets matches (all matchers
  of a set must); routes in the same ``group`` are mutually exclusive (the first matching
  one runs; ``handle`` blocks are such a group); a ``terminal`` route stops the list;
* each running route's handlers in order: ``vars`` (``root``) and ``rewrite``
  (``strip_path_prefix``: ``handle_path``) change the request, ``subroute`` runs its own
  routes, and the first responding handler (``reverse_proxy``, ``file_server``,
  ``static_response``, ``error``) answers. Nothing answering is Caddy's empty 200.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .model import ReaderError, Route, RuleMatch

__all__ = ["adapt_caddyfile", "load_caddy", "route_caddy"]

_PASS_THROUGH = {
    "headers", "encode", "templates", "request_body", "map", "push", "copy_response_headers",
    "intercept", "tracing", "log_append", "invoke",
}  # fmt: skip


#: ``caddy adapt`` results by (path, mtime, size): a scan asks for every target.
_ADAPTED: dict[tuple[str, int, int], dict[str, Any]] = {}


def adapt_caddyfile(path: Path) -> dict[str, Any]:
    """The JSON Caddy runs for the Caddyfile at ``path``, from the real ``caddy adapt``
    (run once per version of the file)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ReaderError(f"cannot read {path}: {exc}") from None
    key = (str(path.resolve()), info.st_mtime_ns, info.st_size)
    if key not in _ADAPTED:
        _ADAPTED[key] = _adapt(path)
    return copy.deepcopy(_ADAPTED[key])


def _adapt(path: Path) -> dict[str, Any]:
    binary = shutil.which("caddy", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
    if binary is None:
        raise ReaderError(
            f"{path} is a Caddyfile, and reading one needs the caddy binary (not found here). "
            "Where Caddy runs: `caddy adapt --config Caddyfile > caddy.json` (or "
            "`curl localhost:2019/config/ > caddy.json`), then --proxy-config caddy.json"
        )
    result = subprocess.run(
        [binary, "adapt", "--adapter", "caddyfile", "--config", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        raise ReaderError(f"caddy adapt rejected {path}: {why[-1] if why else 'no reason'}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ReaderError(f"caddy adapt printed no JSON for {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ReaderError(f"caddy adapt printed no config object for {path}")
    return data


def load_caddy(path: Path) -> dict[str, Any]:
    """Caddy's JSON config from ``path``: JSON as is, a Caddyfile adapted by caddy."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ReaderError(f"cannot read {path}: {exc}") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return adapt_caddyfile(path)  # a Caddyfile opening with its global options block
        if isinstance(data, dict):
            return data
        raise ReaderError(f"{path}: Caddy's JSON config is an object, not {type(data).__name__}")
    return adapt_caddyfile(path)


@dataclass
class _Request:
    host: str
    path: str
    root: str | None = None
    #: The matching routes with a path matcher that ran, innermost last.
    chain: list[RuleMatch] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)


def _path_matches(pattern: str, path: str) -> bool:
    """Caddy's ``path`` matcher: case-insensitive; ``*`` at the end is a prefix, at the
    start a suffix, at both ends a substring, elsewhere a glob; else the exact path."""
    pattern, path = pattern.lower(), path.lower()
    if len(pattern) > 1 and pattern.startswith("*") and pattern.endswith("*"):
        return pattern[1:-1] in path
    if pattern.endswith("*") and "*" not in pattern[:-1]:
        return path.startswith(pattern[:-1])
    if pattern.startswith("*") and "*" not in pattern[1:]:
        return path.endswith(pattern[1:])
    if "*" in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    return path == pattern


def _host_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower(), host.lower()
    if "*" in pattern:
        regex = "^" + re.escape(pattern).replace(r"\*", "[^.]+") + "$"
        return re.match(regex, host) is not None
    return pattern == host


def _go_regex(pattern: str) -> str:
    """RE2 to Python: named groups ``(?P<n>...)`` are the same; ``(?i)`` too."""
    return pattern


def _set_matches(matchers: dict[str, Any], request: _Request) -> tuple[bool, RuleMatch | None]:
    """Whether one matcher set matches, and the path rule it holds (for the report)."""
    rule: RuleMatch | None = None
    for name, value in matchers.items():
        if name == "host":
            if not any(_host_matches(h, request.host) for h in value):
                return False, None
        elif name == "path":
            if not any(_path_matches(p, request.path) for p in value):
                return False, None
            prefixes = [p[:-1] for p in value if p.endswith("*") and not p.startswith("*")]
            kind = "prefix" if prefixes else "exact"
            rule = RuleMatch(f"path {' '.join(value)}", kind, prefixes[0] if prefixes else None)
        elif name == "path_regexp":
            pattern = str(value.get("pattern", ""))
            try:
                if re.search(_go_regex(pattern), request.path) is None:
                    return False, None
            except re.error:
                request.caveats.append(f"path_regexp {pattern!r}: not a Python regex, skipped")
                return False, None
            rule = RuleMatch(f"path_regexp {pattern}", "regex")
        elif name == "not":
            if any(_set_matches(inner, request)[0] for inner in value):
                return False, None
        elif name in ("method", "protocol"):
            if name == "method" and "GET" not in [str(v).upper() for v in value]:
                return False, None
            if name == "protocol" and str(value) not in ("http", "https"):
                return False, None
        else:
            request.caveats.append(f"matcher {name} not evaluated (taken as matching)")
    return True, rule


def _route_matches(route: dict[str, Any], request: _Request) -> tuple[bool, RuleMatch | None]:
    sets = route.get("match")
    if not sets:
        return True, None
    for matchers in sets:
        ok, rule = _set_matches(matchers, request)
        if ok:
            return True, rule
    return False, None


def _status(value: Any, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def _handle(handler: dict[str, Any], request: _Request) -> Route | bool | None:
    """A Route when the handler answers, True when it ends the route list, else None."""
    kind = handler.get("handler", "")
    rule = request.chain[-1] if request.chain else None
    if kind == "vars" and "root" in handler:
        request.root = str(handler["root"])
    elif kind == "rewrite":
        prefix = handler.get("strip_path_prefix")
        if prefix and request.path.lower().startswith(str(prefix).lower()):
            request.path = "/" + request.path[len(prefix) :].lstrip("/")
        uri = handler.get("uri")
        if uri:
            if "{" in str(uri):
                request.caveats.append(f"rewrite to {uri}: placeholders not expanded")
            else:
                request.path = str(uri).split("?", 1)[0]
    elif kind == "subroute":
        return _run(handler.get("routes") or [], request)
    elif kind == "reverse_proxy":
        upstreams = [str(u.get("dial", "?")) for u in handler.get("upstreams") or []]
        return Route("caddy", "", rule, "proxy", upstream=", ".join(upstreams) or "?")
    elif kind == "file_server":
        root = str(handler.get("root") or request.root or "{http.vars.root}")
        if root == "{http.vars.root}":
            root = request.root or "."
        mapped = root.rstrip("/") + request.path
        return Route("caddy", "", rule, "files", root=root, path=mapped)
    elif kind == "static_response":
        status = _status(handler.get("status_code", 200), 200)
        headers = handler.get("headers") or {}
        location = (headers.get("Location") or [None])[0]
        if location and 300 <= status < 400:
            return Route("caddy", "", rule, "redirect", status=status, location=location)
        return Route("caddy", "", rule, "respond", status=status)
    elif kind == "error":
        return Route("caddy", "", rule, "respond", status=_status(handler.get("status_code"), 500))
    elif kind not in _PASS_THROUGH and kind != "vars":
        request.caveats.append(f"handler {kind} not replayed (taken as passing the request on)")
    return None


def _run(routes: list[dict[str, Any]], request: _Request) -> Route | bool | None:
    groups: set[str] = set()
    for route in routes:
        group = route.get("group")
        if group and group in groups:
            continue
        ok, rule = _route_matches(route, request)
        if not ok:
            continue
        if group:
            groups.add(group)
        pushed = rule is not None
        if pushed and rule is not None:
            request.chain.append(rule)
        for handler in route.get("handle") or []:
            answer = _handle(handler, request)
            if isinstance(answer, Route):
                return answer
        if pushed:
            request.chain.pop()
        if route.get("terminal"):
            return True
    return None


def _listens_on(server: dict[str, Any], port: int) -> bool:
    for address in server.get("listen") or []:
        tail = str(address).rsplit(":", 1)[-1]
        if "-" in tail:
            low, _, high = tail.partition("-")
            if low.isdigit() and high.isdigit() and int(low) <= port <= int(high):
                return True
        elif tail.isdigit() and int(tail) == port:
            return True
    return False


def _path_rules(routes: list[dict[str, Any]], request: _Request, found: list[RuleMatch]) -> None:
    """Every path rule (at any depth) matching the request's original path."""
    for route in routes:
        ok, rule = _route_matches(route, request)
        if not ok:
            continue
        if rule is not None:
            found.append(rule)
        for handler in route.get("handle") or []:
            if handler.get("handler") == "subroute":
                _path_rules(handler.get("routes") or [], request, found)


def route_caddy(config: dict[str, Any], url: str, *, source: str = "caddy.json") -> Route:
    """What Caddy, running ``config``, does with ``url``."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = unquote(parts.path or "/")
    servers = ((config.get("apps") or {}).get("http") or {}).get("servers") or {}
    if not servers:
        raise ReaderError(f"{source}: no apps.http.servers (Caddy serves no HTTP from it)")
    pool = [(n, s) for n, s in servers.items() if _listens_on(s, port)] or list(servers.items())
    name, server = pool[0]
    listen = " ".join(str(a) for a in server.get("listen") or []) or "?"
    block = f"server {name} (listen {listen})"
    request = _Request(host=parts.hostname or "", path=path)
    answer = _run(server.get("routes") or [], request)
    evidence = [f"config {source}: {block}"]
    if isinstance(answer, Route):
        route = answer
        route.block = block
    else:
        route = Route("caddy", block, None, "none", status=200)
        evidence.append("no handler answers: Caddy sends an empty 200")
    everything: list[RuleMatch] = []
    _path_rules(server.get("routes") or [], _Request(request.host, path), everything)
    winner = route.rule.text if route.rule else None
    route.losers = [r for r in everything if r.text != winner]
    route.caveats = list(dict.fromkeys(request.caveats))
    if route.rule is not None:
        evidence.append(f"{path} -> {route.rule.text}")
    if route.action == "files" and request.path != path:
        evidence.append(f"path rewritten to {request.path} before file_server")
    route.evidence = evidence + route.evidence
    return route
