"""Apache httpd: which VirtualHost and rule answer a URL, from the config files (or from
saved ``apachectl -S`` output, which names the files that define the virtual hosts).

The replay follows httpd's own order for one request:

1. the VirtualHost: those listening on the URL's port; the first whose ServerName or
   ServerAlias names the Host, else the first of them (the port's default, as ``-S`` says);
2. URL to handler or file ("translate name"): mod_rewrite's ``RewriteRule`` in the vhost
   (``[P]`` proxies, ``[R]`` redirects, ``[F]``/``[G]`` answer 403/410), then ``ProxyPass``
   and ``ProxyPassMatch`` in configuration order (the first that matches wins, ``!``
   excludes), then mod_alias (``Redirect*`` before ``Alias``/``AliasMatch``), else
   ``DocumentRoot``;
3. ``<Location>`` and ``<LocationMatch>`` sections merged in file order (outside the vhost
   first), so a later section overrides: ``SetHandler "proxy:..."`` hands the request to
   the proxy even when an Alias mapped it to a file, ``Require all denied`` answers 403.

Conditions (``RewriteCond``, ``<If>``) are not evaluated; the route says so.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .model import ReaderError, Route, RuleMatch

__all__ = ["ApacheDirective", "parse_apache", "parse_dump_vhosts", "route_apache"]

_TRANSPARENT = ("ifmodule", "ifdefine", "ifversion", "ifdirective", "iffile", "ifsection")


@dataclass
class ApacheDirective:
    name: str
    args: list[str]
    block: list[ApacheDirective] | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return self.name.lower()

    def text(self) -> str:
        args = " ".join(
            f'"{a}"' if not a or set(a) & set(' "\\$()*?[]^|') else a for a in self.args
        )
        return f"<{self.name} {args}>" if self.block is not None else f"{self.name} {args}"


def _lines(text: str, source: str) -> list[tuple[str, str]]:
    """Logical lines (continuations joined, comments dropped) with ``file:line``."""
    lines: list[tuple[str, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        stripped = raw.strip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append((line, f"{source}:{start}"))
    return lines


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line, posix=True)
    except ValueError:
        return line.split()


def parse_apache(
    path: Path, *, server_root: Path | None = None, depth: int = 0
) -> list[ApacheDirective]:
    """The directives of an Apache config file, ``Include``/``IncludeOptional`` expanded."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ReaderError(f"cannot read {path}: {exc}") from None
    root = server_root or path.parent
    stack: list[list[ApacheDirective]] = [[]]
    names: list[str] = []
    for line, source in _lines(text, str(path)):
        if line.startswith("</"):
            name = line[2:].rstrip(">").strip().lower()
            if not names or names[-1] != name:
                raise ReaderError(f"{source}: </{name}> closes nothing open")
            names.pop()
            block = stack.pop()
            if name in _TRANSPARENT:
                stack[-1].extend(block)
            else:
                stack[-1][-1].block = block
            continue
        if line.startswith("<"):
            words = _split(line[1:].rstrip(">").rstrip())
            if not words:
                raise ReaderError(f"{source}: an empty section")
            names.append(words[0].lower())
            if words[0].lower() not in _TRANSPARENT:
                stack[-1].append(ApacheDirective(words[0], words[1:], [], source))
            stack.append([])
            continue
        words = _split(line)
        directive = ApacheDirective(words[0], words[1:], None, source)
        if directive.key == "serverroot" and directive.args:
            root = Path(directive.args[0])
        if directive.key in ("include", "includeoptional") and directive.args and depth < 8:
            pattern = directive.args[0]
            full = pattern if os.path.isabs(pattern) else str(root / pattern)
            matched = sorted(glob.glob(full))
            if os.path.isdir(full):
                matched = sorted(str(p) for p in Path(full).rglob("*") if p.is_file())
            if not matched and directive.key == "include" and not glob.has_magic(pattern):
                raise ReaderError(f"{source}: Include {pattern}: no such file")
            for name in matched:
                stack[-1].extend(parse_apache(Path(name), server_root=root, depth=depth + 1))
            continue
        stack[-1].append(directive)
    if names:
        raise ReaderError(f"{path}: <{names[-1]}> is never closed")
    return stack[0]


_DUMP_LINE = re.compile(r"\(([^()]+):(\d+)\)\s*$")


def parse_dump_vhosts(text: str) -> list[str]:
    """The files named by ``apachectl -S`` output, in the order it lists them."""
    files: list[str] = []
    for line in text.splitlines():
        found = _DUMP_LINE.search(line)
        if found and found.group(1) not in files:
            files.append(found.group(1))
    return files


def _load(config: Path) -> tuple[list[ApacheDirective], list[str]]:
    text = config.read_text(errors="replace")
    if "VirtualHost configuration:" in text:
        files = parse_dump_vhosts(text)
        if not files:
            raise ReaderError(f"{config}: apachectl -S output naming no file")
        directives: list[ApacheDirective] = []
        for name in files:
            if not Path(name).is_file():
                raise ReaderError(
                    f"apachectl -S names {name}, not readable here: run the doctor where "
                    "Apache runs, or copy /etc/apache2 and pass its apache2.conf"
                )
            directives.extend(parse_apache(Path(name)))
        return directives, [f"apachectl -S output {config}: {len(files)} file(s)"]
    return parse_apache(config), [f"config {config}"]


def _vhost_port(address: str) -> int | None:
    tail = address.rsplit(":", 1)[-1] if ":" in address else ""
    return int(tail) if tail.isdigit() else None


def _names(vhost: ApacheDirective) -> list[str]:
    names: list[str] = []
    for directive in vhost.block or []:
        if directive.key in ("servername", "serveralias"):
            names.extend(a.split("://")[-1].split(":")[0].lower() for a in directive.args)
    return names


def _claims(vhost: ApacheDirective, host: str) -> bool:
    host = host.lower()
    for name in _names(vhost):
        if "*" in name or "?" in name:
            regex = re.escape(name).replace(r"\*", ".*").replace(r"\?", ".")
            if re.fullmatch(regex, host):
                return True
        elif name == host:
            return True
    return False


def _choose_vhost(
    directives: list[ApacheDirective], host: str, port: int
) -> ApacheDirective | None:
    vhosts = [d for d in directives if d.key == "virtualhost" and d.block is not None]
    on_port = [
        v for v in vhosts if any(_vhost_port(a) in (port, None) for a in v.args or ["*"])
    ] or vhosts
    named = [v for v in on_port if _claims(v, host)]
    chosen = named or on_port
    return chosen[0] if chosen else None


@dataclass
class _Rules:
    """The directives that apply, outside the vhost first (vhost ones come after)."""

    scopes: list[list[ApacheDirective]]
    matched: list[RuleMatch] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)

    def all(self, *names: str) -> list[ApacheDirective]:
        wanted = {n.lower() for n in names}
        return [d for scope in self.scopes for d in scope if d.key in wanted]


def _location_hits(section: ApacheDirective, path: str) -> bool:
    args = section.args
    if not args:
        return False
    regex = section.key == "locationmatch" or (len(args) > 1 and args[0] == "~")
    pattern = args[-1]
    if regex:
        try:
            return re.search(pattern, path) is not None
        except re.error:
            return False
    # <Location /media> matches /media, /media/ and /media/x, never /mediax.
    base = pattern.rstrip("/")
    return path in (pattern, base) or path.startswith(base + "/") or pattern == "/"


def _rule_of(directive: ApacheDirective) -> RuleMatch:
    key = directive.key
    args = directive.args
    if key in ("locationmatch", "proxypassmatch", "aliasmatch", "rewriterule", "redirectmatch"):
        return RuleMatch(directive.text(), "regex")
    if key == "location" and len(args) > 1 and args[0] == "~":
        return RuleMatch(directive.text(), "regex")
    if key in ("redirect", "redirectpermanent", "redirecttemp") and args:
        prefix = args[1] if len(args) > 2 else args[0]
        return RuleMatch(directive.text(), "prefix", prefix)
    return RuleMatch(directive.text(), "prefix", args[0] if args else None)


def _expand(template: str, match: re.Match[str]) -> str:
    return re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "", template)


def route_apache(config: Path, url: str) -> Route:
    """What Apache, running ``config``, does with ``url``."""
    directives, evidence = _load(config)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = unquote(parts.path or "/")
    top = [d for d in directives if d.key != "virtualhost"]
    vhost = _choose_vhost(directives, host, port)
    if vhost is not None:
        names = " ".join(_names(vhost)) or "(no ServerName)"
        block = f"<VirtualHost {' '.join(vhost.args)}> {names} ({vhost.source})"
        rules = _Rules([top, vhost.block or []])
    else:
        block = "main server"
        rules = _Rules([top])
    evidence.append(f"{host}:{port} -> {block}")
    route = Route("apache", block, None, "unknown", evidence=evidence)
    _translate(rules, path, route)
    _locations(rules, path, route)
    winner = route.rule.text if route.rule else None
    route.losers = [r for r in rules.matched if r.text != winner]
    route.caveats = list(dict.fromkeys(rules.caveats))
    if route.rule is not None:
        evidence.append(f"{path} -> {route.rule.text}")
    return route


def _translate(rules: _Rules, path: str, route: Route) -> None:
    """Steps 1-2 of the module docstring: rewrite, proxy, alias, document root."""
    if _rewrite(rules, path, route):
        for directive in rules.all("alias", "aliasmatch"):  # what the rewrite took it from
            if _alias_hit(directive, path):
                rules.matched.append(_rule_of(directive))
        return
    proxied = False
    for directive in _proxy_rules(rules):
        key, args = directive.key, directive.args
        hit: re.Match[str] | None = None
        if key == "proxypassmatch":
            try:
                hit = re.search(args[0], path)
            except re.error:
                continue
            if hit is None:
                continue
        elif not path.startswith(args[0]):
            continue
        if args[1] == "!":  # an exclusion: not a rule that answers, and ends the search
            route.evidence.append(f"{directive.text()}: not proxied")
            proxied = True
            continue
        rules.matched.append(_rule_of(directive))
        if proxied:
            continue
        proxied = True
        target = _expand(args[1], hit) if hit else args[1] + path[len(args[0]) :]
        route.rule, route.action, route.upstream = _rule_of(directive), "proxy", target
    if route.action == "proxy":
        for directive in rules.all("alias", "aliasmatch"):  # still listed as losers
            if _alias_hit(directive, path):
                rules.matched.append(_rule_of(directive))
        return
    for directive in rules.all("redirect", "redirectmatch", "redirectpermanent", "redirecttemp"):
        args = directive.args
        if directive.key == "redirectmatch":
            pattern = args[1] if len(args) > 2 else args[0]
            try:
                if re.search(pattern, path) is None:
                    continue
            except re.error:
                continue
        else:
            prefix = args[1] if len(args) > 2 else args[0]
            if not path.startswith(prefix):
                continue
        rules.matched.append(_rule_of(directive))
        if route.action == "unknown":
            status = {"permanent": 301, "temp": 302, "seeother": 303, "gone": 410}
            code = args[0] if len(args) > 2 else "302"
            route.rule, route.action = _rule_of(directive), "redirect"
            route.status = int(code) if code.isdigit() else status.get(code.lower(), 302)
            route.location = args[-1]
    for directive in rules.all("alias", "aliasmatch"):
        mapped = _alias_hit(directive, path)
        if mapped is None:
            continue
        rules.matched.append(_rule_of(directive))
        if route.action == "unknown":
            route.rule, route.action = _rule_of(directive), "files"
            route.path, route.root = mapped, directive.args[1]
    if route.action == "unknown":
        roots = rules.all("documentroot")
        if roots and roots[-1].args:
            root = roots[-1].args[0]
            route.action, route.root, route.path = "files", root, root.rstrip("/") + path
        else:
            route.action, route.status = "none", 404


def _alias_hit(directive: ApacheDirective, path: str) -> str | None:
    if len(directive.args) < 2:
        return None
    pattern, target = directive.args[0], directive.args[1]
    if directive.key == "aliasmatch":
        try:
            hit = re.search(pattern, path)
        except re.error:
            return None
        return _expand(target, hit) if hit else None
    base = pattern.rstrip("/")
    if path == pattern or path.startswith(pattern if pattern.endswith("/") else base + "/"):
        rest = path[len(pattern) :]
        return target.rstrip("/") + "/" + rest.lstrip("/") if rest else target
    return None


def _proxy_rules(rules: _Rules) -> list[ApacheDirective]:
    """ProxyPass/ProxyPassMatch in configuration order; one inside ``<Location X>`` has X
    as its path."""
    found: list[ApacheDirective] = []
    for scope in rules.scopes:
        for directive in scope:
            if directive.key in ("proxypass", "proxypassmatch") and len(directive.args) >= 2:
                found.append(directive)
            elif directive.key in ("location", "locationmatch") and directive.block:
                for inner in directive.block:
                    if inner.key in ("proxypass", "proxypassmatch") and inner.args:
                        key = "proxypassmatch" if directive.key == "locationmatch" else inner.key
                        found.append(
                            ApacheDirective(
                                inner.name if key == inner.key else "ProxyPassMatch",
                                [directive.args[-1], inner.args[0]],
                                None,
                                inner.source,
                            )
                        )
    return found


def _rewrite(rules: _Rules, path: str, route: Route) -> bool:
    """Whether a RewriteRule of the vhost answered (proxied, redirected, refused)."""
    scope = rules.scopes[-1]
    engine = [d for d in scope if d.key == "rewriteengine"]
    if not engine or (engine[-1].args[:1] != ["on"] and engine[-1].args[:1] != ["On"]):
        return False
    condition = False
    for directive in scope:
        if directive.key == "rewritecond":
            condition = True
            continue
        if directive.key != "rewriterule" or len(directive.args) < 2:
            continue
        pattern, target = directive.args[0], directive.args[1]
        flags = directive.args[2].strip("[]").upper().split(",") if len(directive.args) > 2 else []
        try:
            hit = re.search(pattern, path, re.IGNORECASE if "NC" in flags else 0)
        except re.error:
            continue
        if hit is None:
            condition = False
            continue
        rules.matched.append(_rule_of(directive))
        if condition:
            rules.caveats.append(
                f"{directive.text()}: its RewriteCond not evaluated (taken as true)"
            )
            condition = False
        rule = _rule_of(directive)
        new = _expand(target, hit)
        if "F" in flags:
            route.rule, route.action, route.status = rule, "respond", 403
            return True
        if "G" in flags:
            route.rule, route.action, route.status = rule, "respond", 410
            return True
        if "P" in flags:
            route.rule, route.action, route.upstream = rule, "proxy", new
            return True
        redirect = next((f for f in flags if f == "R" or f.startswith("R=")), None)
        if redirect is not None:
            code = redirect.partition("=")[2]
            route.rule, route.action = rule, "redirect"
            route.status = int(code) if code.isdigit() else 302
            route.location = new
            return True
        if target != "-":
            path = new
        if "L" in flags or "END" in flags:
            break
    return False


def _locations(rules: _Rules, path: str, route: Route) -> None:
    """Step 3: <Location>/<LocationMatch> sections merged in order; the last that sets a
    handler or an access rule decides."""
    for scope in rules.scopes:
        for section in scope:
            if section.key not in ("location", "locationmatch") or section.block is None:
                continue
            if not _location_hits(section, path):
                continue
            rule = _rule_of(section)
            rules.matched.append(rule)
            for inner in section.block:
                if inner.key == "sethandler" and inner.args:
                    handler = inner.args[0]
                    if handler.lower().startswith("proxy:"):
                        route.rule, route.action = rule, "proxy"
                        route.upstream = handler[len("proxy:") :].split("|")[-1]
                        route.path = route.root = None
                    elif handler.lower() != "none":
                        rules.caveats.append(f"{section.text()}: SetHandler {handler}")
                elif inner.key == "require" and [a.lower() for a in inner.args] == [
                    "all",
                    "denied",
                ]:
                    route.rule, route.action, route.status = rule, "respond", 403
                elif inner.key in ("if", "elseif", "else"):
                    rules.caveats.append(f"{section.text()}: <If> not evaluated")
