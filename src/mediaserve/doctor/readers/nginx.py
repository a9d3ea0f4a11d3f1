"""nginx: which ``location`` answers the media URL, and what it does with it.

Given the proxy's configuration (``--proxy-config /etc/nginx/nginx.conf``, or the file
``nginx -T`` prints), this replays nginx's location choice for the URL's path -- exact
``=`` match, else the longest prefix, which wins outright with ``^~``, else the first regex
in file order, else that longest prefix -- and then follows the winner: ``proxy_pass`` to
the app, ``alias``/``root`` to a path on disk (checked here: present? readable by the
worker user?), ``return``, ``try_files`` with an HTML fallback. The usual breakages each
have a signature: a regex location for images (Nginx Proxy Manager's "Cache Assets") that
beats ``location /media/``; ``alias`` without the trailing slash (``/srv/mediafile.jpg``); a
root or alias whose folder is not mounted in the proxy's container; a media server block
that never sees the request because another block is the port's ``default_server``.

The parser is small on purpose: it understands blocks, directives, quotes, comments and
``include`` (with globs); variables are not expanded.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..report import Finding
from .model import ReaderError, Route, RuleMatch

__all__ = [
    "Directive",
    "NginxParseError",
    "check_nginx",
    "check_nginx_file",
    "choose_location",
    "expand_set",
    "parse_nginx",
    "parse_nginx_text",
    "route_nginx",
]

HOP = "proxy"


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    source: str = ""

    def find(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]

    def first(self, name: str) -> Directive | None:
        found = self.find(name)
        return found[0] if found else None

    def text(self) -> str:
        return " ".join([self.name, *self.args])


class NginxParseError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:(\#[^\n]*)|("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|([{};])|([^\s{};"'#]+))"""
)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            if text[position:].strip():
                raise NginxParseError(
                    f"cannot read the config near {text[position : position + 30]!r}"
                )
            break
        position = match.end()
        comment, quoted, punct, word = match.groups()
        if comment is not None:
            continue
        if quoted is not None:
            tokens.append(quoted[1:-1])
        elif punct is not None:
            tokens.append(punct)
        elif word is not None:
            tokens.append(word)
    return tokens


_DUMP_MARK = re.compile(r"^# configuration file (.+):[ \t]*$", re.MULTILINE)


def _sources(path: Path) -> tuple[Path, str, dict[str, str]]:
    """The main file's name and text, and for an ``nginx -T`` dump every file's text."""
    text = path.read_text(errors="replace")
    marks = list(_DUMP_MARK.finditer(text))
    if not marks:
        return path, text, {}
    files: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        files.setdefault(mark.group(1), text[mark.end() : end])
    main = marks[0].group(1)
    return Path(main), files[main], files


def parse_nginx(path: Path) -> list[Directive]:
    """The directives of an nginx config file (or of ``nginx -T`` output), includes expanded.

    A relative include is looked up beside the including file, beside the main file and in
    /etc/nginx (nginx itself uses its prefix; Nginx Proxy Manager's host files include
    ``conf.d/include/...`` that way); in an ``nginx -T`` dump, among the files it holds.
    One that cannot be found stays an ``include`` directive, so the location holding it is
    known to be incomplete.
    """
    top, text, files = _sources(path)
    return _parse(text, top, top, files, 0)


def parse_nginx_text(text: str, path: Path, files: dict[str, str]) -> list[Directive]:
    """The directives of config ``text`` (the file ``path``), includes looked up first among
    ``files`` (name -> text, as an ``nginx -T`` dump holds them), then on disk."""
    return _parse(text, path, path, files, 0)


def _parse(text: str, path: Path, top: Path, files: dict[str, str], depth: int) -> list[Directive]:
    tokens = _tokens(text)
    position = 0

    def block() -> list[Directive]:
        nonlocal position
        items: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":  # noqa: S105 (a token, not a password)
                if words:
                    directive = Directive(words[0], words[1:], source=str(path))
                    if directive.name == "include" and directive.args and depth < 8:
                        expanded = _include(path, top, directive.args[0], files, depth)
                        items.extend(expanded if expanded is not None else [directive])
                    else:
                        items.append(directive)
                words = []
            elif token == "{":  # noqa: S105
                if not words:
                    raise NginxParseError(f"{path}: a block without a name")
                items.append(Directive(words[0], words[1:], block(), source=str(path)))
                words = []
            elif token == "}":  # noqa: S105
                return items
            else:
                words.append(token)
        return items

    return block()


def _include(
    base: Path, top: Path, pattern: str, files: dict[str, str], depth: int
) -> list[Directive] | None:
    """The included directives, or None when no file matches the pattern anywhere."""
    if os.path.isabs(pattern):
        candidates = [pattern]
    else:
        folders = dict.fromkeys([base.parent, top.parent, Path("/etc/nginx")])
        candidates = [str(folder / pattern) for folder in folders]
    for candidate in candidates:
        texts: list[tuple[str, str]] = [
            (name, files[name]) for name in sorted(files) if fnmatch.fnmatchcase(name, candidate)
        ]
        if not texts:
            for name in sorted(glob.glob(candidate)):
                try:
                    texts.append((name, Path(name).read_text(errors="replace")))
                except OSError:
                    continue
        if not texts:
            continue
        found: list[Directive] = []
        for name, text in texts:
            try:
                found.extend(_parse(text, Path(name), top, files, depth + 1))
            except NginxParseError:
                continue
        return found
    # A glob matching nothing is fine for nginx (an empty conf.d/*.conf); a plain name is not.
    return [] if any(c in pattern for c in "*?[") else None


def _servers(directives: list[Directive]) -> list[Directive]:
    servers: list[Directive] = []
    for directive in directives:
        if directive.name == "server" and directive.block is not None:
            servers.append(directive)
        elif directive.name == "http" and directive.block is not None:
            servers.extend(_servers(directive.block))
    return servers


def _listen_port(directive: Directive) -> int | None:
    if not directive.args:
        return None
    address = directive.args[0]
    tail = address.rsplit(":", 1)[-1] if not address.startswith("unix:") else ""
    return int(tail) if tail.isdigit() else None


def _name_rank(pattern: str, host: str) -> tuple[int, int] | None:
    """How well ``server_name`` ``pattern`` claims ``host``, in nginx's order (lower wins):
    the exact name, then the longest ``*.`` wildcard, the longest ``.*`` one, then the first
    regex (http://nginx.org/en/docs/http/server_names.html); None when it does not."""
    host = host.lower()
    name = pattern.lower()
    if name.startswith("~"):
        try:
            return (3, 0) if re.search(pattern[1:], host) is not None else None
        except re.error:
            return None
    if name.startswith("*."):
        return (1, -len(name)) if host.endswith(name[1:]) else None
    if name.startswith("."):
        return (1, -len(name)) if host == name[1:] or host.endswith(name) else None
    if name.endswith(".*"):
        return (2, -len(name)) if host.startswith(name[:-1]) else None
    return (0, 0) if name == host else None


def _names_host(server: Directive, host: str) -> tuple[int, int] | None:
    ranks = [
        rank
        for names in server.find("server_name")
        for rank in (_name_rank(n, host) for n in names.args)
        if rank is not None
    ]
    return min(ranks, default=None)


def _is_default(server: Directive, port: int) -> bool:
    return any(
        _listen_port(d) == port and ("default_server" in d.args or "default" in d.args)
        for d in server.find("listen")
    )


def _on_port(directives: list[Directive], port: int) -> list[Directive]:
    return [
        s for s in _servers(directives) if any(_listen_port(d) == port for d in s.find("listen"))
    ]


def choose_server(directives: list[Directive], host: str, port: int) -> Directive | None:
    """nginx's server block for ``host`` on ``port``: the one whose ``server_name`` claims
    the host best, else the port's ``default_server``, else the port's first block. (When
    no block listens on the port, e.g. a TLS terminator in front, all blocks are candidates.)
    """
    pool = _on_port(directives, port) or _servers(directives)
    ranked = [(rank, i, s) for i, s in enumerate(pool) if (rank := _names_host(s, host))]
    if ranked:
        return min(ranked, key=lambda item: (item[0], item[1]))[2]
    defaults = [s for s in pool if _is_default(s, port)]
    chosen = defaults or pool
    return chosen[0] if chosen else None


def _server_label(server: Directive) -> str:
    names = " ".join(a for d in server.find("server_name") for a in d.args) or "(no server_name)"
    return f"server {names} ({server.source})" if server.source else f"server {names}"


def _names_no_host(server: Directive) -> bool:
    """A block that names no host (``server_name _``, ``""`` or none): it only gets the
    requests of its port that no other block claims -- if it is the port's default."""
    names = [a for d in server.find("server_name") for a in d.args]
    return all(name in ("_", "") for name in names)


def _shadowed(
    directives: list[Directive], server: Directive, host: str, port: int, path: str
) -> list[Finding] | None:
    """The request lands in a block with no location for the path (and no app behind its
    ``location /``), while a block on the port that names no host has one: that media block
    never sees the request. The classic: the generated block (``server_name _``) installed on
    Debian/Ubuntu beside the stock site, which is the port's ``default_server`` and answers
    every Host no block names with its own 404. Also: a site that names the host, next to a
    nameless media block."""
    on_port = _on_port(directives, port)
    if server not in on_port:
        return None
    chosen = choose_location(server, path)
    if chosen.location is not None and chosen.pattern not in ("", "/"):
        return None
    if _inherited("proxy_pass", chosen.location, server) is not None:
        return None  # the app behind it serves the path itself
    for other in on_port:
        if other is server or not _names_no_host(other):
            continue
        choice = choose_location(other, path)
        if choice.location is None or choice.pattern in ("", "/"):
            continue
        location = " ".join(choice.location.args)
        evidence = [
            f"{host}:{port} -> {_server_label(server)}",
            f"shadowed: {_server_label(other)}, location {location}",
        ]
        if _names_host(server, host) is not None:
            return [
                Finding(
                    HOP,
                    "fail",
                    f"another server block names this Host ({host}) and answers it: "
                    f"{_server_label(server)}; the block with location {location} names no "
                    f"host and never sees {path}",
                    evidence,
                    f"Move the media locations into the server block for {host}, or take "
                    f"{host} out of that block and generate the media block with "
                    f"--server-name {host}; then nginx -t && nginx -s reload.",
                )
            ]
        why = (
            f"is the default_server for port {port}"
            if _is_default(server, port)
            else f"is the first on port {port} (nginx's default when none says default_server)"
        )
        return [
            Finding(
                HOP,
                "fail",
                f"another server block {why} and answers this Host ({host}): "
                f"{_server_label(server)}; the block with location {location} never sees "
                f"{path}",
                evidence,
                f"Name the host in the media block: server_name {host};\n"
                f"  (mediaserve config nginx --server-name {host})\n"
                "or make the media block the port's default_server and remove the other one "
                "(Debian/Ubuntu's stock site: rm /etc/nginx/sites-enabled/default), then "
                "nginx -t && nginx -s reload.",
            )
        ]
    return None


@dataclass
class Choice:
    location: Directive | None
    modifier: str = ""
    pattern: str = ""
    #: The longest matching prefix location, when a regex beat it.
    beaten_prefix: Directive | None = None
    considered: list[str] = field(default_factory=list)


def _location_parts(location: Directive) -> tuple[str, str]:
    if len(location.args) >= 2:
        return location.args[0], location.args[1]
    return "", location.args[0] if location.args else ""


def choose_location(server: Directive, path: str) -> Choice:
    """nginx's location choice for ``path`` among the server's top-level locations."""
    locations = server.find("location")
    prefixes: list[tuple[str, str, Directive]] = []
    regexes: list[tuple[str, str, Directive]] = []
    for location in locations:
        modifier, pattern = _location_parts(location)
        if pattern.startswith("@"):
            continue
        if modifier == "=" and path == pattern:
            return Choice(location, modifier, pattern)
        if modifier in ("~", "~*"):
            regexes.append((modifier, pattern, location))
        elif modifier in ("", "^~") and path.startswith(pattern):
            prefixes.append((modifier, pattern, location))
    longest = max(prefixes, key=lambda item: len(item[1]), default=None)
    if longest is not None and longest[0] == "^~":
        return Choice(longest[2], longest[0], longest[1])
    for modifier, pattern, location in regexes:
        try:
            flags = re.IGNORECASE if modifier == "~*" else 0
            hit = re.search(pattern, path, flags) is not None
        except re.error:
            continue
        if hit:
            return Choice(
                location, modifier, pattern, beaten_prefix=longest[2] if longest else None
            )
    if longest is not None:
        return Choice(longest[2], longest[0], longest[1])
    return Choice(None)


def _inherited(name: str, *scopes: Directive | None) -> Directive | None:
    for scope in scopes:
        if scope is not None:
            found = scope.first(name)
            if found is not None:
                return found
    return None


def _readable_by_others(path: Path) -> tuple[bool, str]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return False, "cannot stat"
    if not mode & stat.S_IROTH:
        return False, f"mode {mode:04o}"
    for folder in path.parents:
        try:
            folder_mode = stat.S_IMODE(folder.stat().st_mode)
        except OSError:
            continue
        if not folder_mode & stat.S_IXOTH:
            return False, f"folder {folder} mode {folder_mode:04o}"
    return True, f"mode {mode:04o}"


def _proxy_headers(*scopes: Directive | None) -> dict[str, str]:
    """The request headers nginx sets for proxy_pass: the innermost level that has any
    proxy_set_header replaces the outer ones (nginx's inheritance rule)."""
    for scope in scopes:
        if scope is None:
            continue
        found = scope.find("proxy_set_header")
        if found:
            return {d.args[0].lower(): " ".join(d.args[1:]) for d in found if d.args}
    return {}


@dataclass
class _Request:
    """The media request as the proxy sees it, and where its ``location`` choice landed."""

    config: Path
    scheme: str
    path: str
    http: Directive | None
    server: Directive
    choice: Choice
    location_text: str
    evidence: list[str]
    regex_fix: str = ""

    @property
    def scope(self) -> Directive:
        return self.choice.location or self.server


def check_nginx_file(
    config: Path, url: str, media_prefix: str | None, *, forwarded_proto: bool = False
) -> list[Finding]:
    """Findings about how the nginx configured at ``config`` (a config file or ``nginx -T``
    output) handles ``url``. ``forwarded_proto``: Django trusts X-Forwarded-Proto
    (SECURE_PROXY_SSL_HEADER), so the proxy must send it."""
    try:
        directives = parse_nginx(config)
    except (OSError, NginxParseError) as exc:
        return [Finding(HOP, "warn", f"cannot read the proxy config {config}: {exc}", [], "")]
    return check_nginx(directives, str(config), url, media_prefix, forwarded_proto=forwarded_proto)


def check_nginx(
    directives: list[Directive],
    config: str,
    url: str,
    media_prefix: str | None,
    *,
    forwarded_proto: bool = False,
    regex_fix: str = "",
) -> list[Finding]:
    """Findings about how nginx, running ``directives``, handles ``url``.

    Each question below is one function; the first that has the answer for the chosen
    location (it is hijacked, internal, unknown, a ``return``, a ``proxy_pass``) ends the
    hop, else the file nginx would read is checked. ``regex_fix`` replaces the advice for
    a regex location that wins (Nginx Proxy Manager has its own switches).
    """
    found = _locate(directives, Path(config), url)
    if isinstance(found, list):
        return found
    request = found
    request.regex_fix = regex_fix
    for question in (_hijacked_by_regex, _internal, _unreadable_include, _returned):
        answer = question(request)
        if answer is not None:
            return answer
    if request.scope.first("proxy_pass") is not None:
        return _proxied(request, forwarded_proto=forwarded_proto)
    return _read_from_disk(request, media_prefix or "/media/")


def _locate(directives: list[Directive], config: Path, url: str) -> _Request | list[Finding]:
    """The server and location nginx picks for ``url``, or why that cannot be told."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = unquote(parts.path or "/")
    http = next((d for d in directives if d.name == "http"), None)
    server = choose_server(directives, host, port)
    if server is None:
        return [Finding(HOP, "warn", f"no server block in {config}", [], "")]
    shadowed = _shadowed(directives, server, host, port, path)
    if shadowed is not None:
        return shadowed
    names = " ".join(a for d in server.find("server_name") for a in d.args) or "(no server_name)"
    choice = choose_location(server, path)
    evidence = [f"config {config}: server {names}"]
    if choice.location is None:
        if _inherited("root", server, http) is None:
            return [Finding(HOP, "warn", f"no location matches {path}", evidence, "")]
        location_text = "(no location: server root)"
    else:
        location_text = f"location {' '.join(choice.location.args)}"
    evidence.append(f"{path} -> {location_text}")
    return _Request(config, parts.scheme, path, http, server, choice, location_text, evidence)


def _hijacked_by_regex(request: _Request) -> list[Finding] | None:
    """A regex location (NPM's "Cache Assets") beats the media prefix location."""
    choice = request.choice
    if choice.beaten_prefix is None or choice.modifier not in ("~", "~*"):
        return None
    beaten = " ".join(choice.beaten_prefix.args)
    location = choice.location
    return [
        Finding(
            HOP,
            "fail",
            f"the regex location {' '.join(location.args) if location else ''} takes "
            f"{request.path} away from location {beaten} (regexes beat plain prefixes)",
            [*request.evidence, f"beaten: location {beaten}"],
            request.regex_fix
            or f"Make the media location win with ^~ (no regex is tried after it):\n"
            f"  location ^~ {_location_parts(choice.beaten_prefix)[1]} {{ ... }}\n"
            "(Nginx Proxy Manager: 'Cache Assets' adds such a regex for images; turn it "
            "off or put the media location in the Advanced tab with ^~.)",
        )
    ]


def _internal(request: _Request) -> list[Finding] | None:
    """An ``internal`` location: 404 for every outside request."""
    if _inherited("internal", request.choice.location) is None:
        return None
    return [
        Finding(
            HOP,
            "fail",
            f"{request.location_text} is internal: outside requests get 404",
            request.evidence,
            "Serve media from a public location; internal ones are for X-Accel-Redirect.",
        )
    ]


def _unreadable_include(request: _Request) -> list[Finding] | None:
    """The location's work is in an include this config does not hold: unknown."""
    scope = request.scope
    missing = [d.args[0] for d in scope.find("include") if d.args]
    handled = any(scope.first(name) for name in ("return", "proxy_pass", "alias", "root"))
    if not missing or handled:
        return None
    return [
        Finding(
            HOP,
            "warn",
            f"{request.location_text} includes {', '.join(missing)}, not readable here: what "
            "it does is unknown",
            request.evidence,
            "Save the full configuration with `nginx -T > all.conf` (inside the proxy's "
            "container) and pass --proxy-config all.conf.",
        )
    ]


def _returned(request: _Request) -> list[Finding] | None:
    """A ``return`` answers without the file (an empty 200 is the classic)."""
    ret = request.scope.first("return")
    if ret is None:
        return None
    location_text = request.location_text
    code = ret.args[0] if ret.args else "?"
    summary = f"{location_text} answers `return {' '.join(ret.args)};` without the file"
    fix = f"Remove the return from {location_text} and serve the file (alias/root or proxy_pass)."
    if code == "200" and len(ret.args) == 1:
        summary = f"{location_text} answers an empty 200 (`return 200;`)"
    return [Finding(HOP, "fail", summary, request.evidence, fix)]


def _proxied(request: _Request, *, forwarded_proto: bool) -> list[Finding]:
    """``proxy_pass`` to the app: are Host (and X-Forwarded-Proto, when Django trusts it)
    passed on?"""
    proxy_pass = request.scope.first("proxy_pass")
    assert proxy_pass is not None
    location_text = request.location_text
    target = expand_set(proxy_pass.args[0], request.server) if proxy_pass.args else "?"
    headers = _proxy_headers(request.choice.location, request.server, request.http)
    evidence = [*request.evidence, f"proxy_pass {target}"]
    findings: list[Finding] = []
    if forwarded_proto and "x-forwarded-proto" not in headers and request.scheme == "https":
        findings.append(
            Finding(
                HOP,
                "warn",
                f"{location_text} does not send X-Forwarded-Proto, which "
                "SECURE_PROXY_SSL_HEADER relies on: Django sees every request as http",
                evidence,
                f"In {location_text}: proxy_set_header X-Forwarded-Proto $scheme;",
            )
        )
    if "host" not in headers:
        findings.append(
            Finding(
                HOP,
                "warn",
                f"{location_text} passes to {target} without `proxy_set_header Host $host;`",
                evidence,
                "Add proxy_set_header Host $host; so Django sees the public host "
                "(ALLOWED_HOSTS, absolute URLs).",
            )
        )
    if not findings:
        findings.append(
            Finding(
                HOP, "pass", f"{location_text} passes {request.path} to the app: {target}", evidence
            )
        )
    return findings


def _mapped_path(request: _Request) -> tuple[str, Directive | None] | list[Finding]:
    """The file nginx opens (``alias``/``root``) and the alias used, or the finding that
    ends the hop (an alias without its slash; an alias in a regex location)."""
    choice, path, evidence = request.choice, request.path, request.evidence
    alias = _inherited("alias", choice.location)
    root = _inherited("root", choice.location, request.server, request.http)
    if alias is not None and alias.args:
        prefix = choice.pattern
        target = alias.args[0]
        if choice.modifier in ("", "^~") and prefix.endswith("/") and not target.endswith("/"):
            mapped = target + path[len(prefix) :]
            return [
                Finding(
                    HOP,
                    "fail",
                    f"alias {target} lacks the trailing slash of location {prefix}: nginx opens "
                    f"{mapped}",
                    [*evidence, f"alias {target}"],
                    f"  location {prefix} {{ alias {target}/; }}",
                )
            ]
        if choice.modifier in ("~", "~*"):
            evidence.append(f"alias {target} in a regex location (captures not expanded)")
            return [Finding(HOP, "pass", f"{request.location_text} aliases to {target}", evidence)]
        return target + path[len(prefix) :], alias
    if root is not None and root.args:
        return root.args[0].rstrip("/") + path, None
    evidence.append("no root or alias: nginx's default root html/")
    return "/usr/share/nginx/html" + path, None  # nginx's compiled-in default "html" root


def _html_fallback(request: _Request, mapped: str, media: str) -> list[Finding]:
    """``try_files`` ending in an HTML page: a missing file answers 200 with a page."""
    try_files = request.scope.first("try_files")
    if try_files is None:
        return []
    location_text, evidence = request.location_text, request.evidence
    evidence.append(try_files.text())
    fallback = try_files.args[-1] if try_files.args else ""
    if not (fallback.endswith(".html") or fallback in ("/index.php", "/")):
        return []
    if not Path(mapped).exists():
        return [
            Finding(
                HOP,
                "fail",
                f"{location_text} has no {mapped}, so try_files answers {fallback} "
                "(an HTML page with 200) instead of the file",
                evidence,
                f"Give media its own location, before the SPA fallback:\n"
                f"  location ^~ {media} {{ alias /path/to/media/; try_files $uri =404; }}\n"
                f"or pass it to the app: location ^~ {media} {{ proxy_pass http://web:8000; }}",
            )
        ]
    return [
        Finding(
            HOP,
            "warn",
            f"try_files falls back to {fallback}: a missing "
            "file is answered with an HTML page and 200",
            evidence,
            "For media, end try_files with =404: try_files $uri =404;",
        )
    ]


def _read_from_disk(request: _Request, media: str) -> list[Finding]:
    """``alias``/``root``: the file nginx opens exists here and its worker may read it."""
    mapped_or_end = _mapped_path(request)
    if isinstance(mapped_or_end, list):
        return mapped_or_end
    mapped, alias = mapped_or_end
    location_text, evidence = request.location_text, request.evidence
    evidence.append(f"nginx reads {mapped}")
    findings = _html_fallback(request, mapped, media)
    if any(f.verdict == "fail" for f in findings):
        return findings
    target_path = Path(mapped)
    if not target_path.exists():
        mount_at = alias.args[0] if alias is not None else os.path.dirname(mapped.rstrip("/"))
        findings.append(
            Finding(
                HOP,
                "fail",
                f"{location_text} reads {mapped}, which does not exist where the doctor runs: "
                "the media volume is not mounted in the proxy (or root/alias is wrong)",
                evidence,
                "Mount the app's media volume into the proxy at the path the config names, "
                f"e.g. docker compose:\n  proxy:\n    volumes:\n      - media:{mount_at}:ro\n"
                f"or let the app serve it: location ^~ {media} {{ proxy_pass http://web:8000; }}",
            )
        )
        return findings
    readable, why = _readable_by_others(target_path)
    if not readable:
        findings.append(
            Finding(
                HOP,
                "fail",
                f"nginx's worker user cannot read {mapped} ({why}): 403",
                evidence,
                f"chmod 644 {mapped} (and o+x on its folders);\n"
                "settings.py: FILE_UPLOAD_PERMISSIONS = 0o644",
            )
        )
        return findings
    if not findings:
        findings.append(Finding(HOP, "pass", f"{location_text} serves {mapped} ({why})", evidence))
    return findings


_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def expand_set(text: str, server: Directive) -> str:
    """``text`` with the variables the server block ``set``s replaced (Nginx Proxy Manager
    writes ``proxy_pass $forward_scheme://$server:$port``); others stay as written."""
    values = {d.args[0].lstrip("$"): d.args[1] for d in server.find("set") if len(d.args) >= 2}

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(value, text)


def _rule(location: Directive) -> RuleMatch:
    modifier, pattern = _location_parts(location)
    text = f"location {' '.join(location.args)}"
    if modifier in ("~", "~*"):
        return RuleMatch(text, "regex")
    if modifier == "=":
        return RuleMatch(text, "exact", pattern)
    return RuleMatch(text, "prefix", pattern)


def _matching_locations(server: Directive, path: str) -> list[Directive]:
    found: list[Directive] = []
    for location in server.find("location"):
        modifier, pattern = _location_parts(location)
        if modifier in ("~", "~*"):
            try:
                flags = re.IGNORECASE if modifier == "~*" else 0
                if re.search(pattern, path, flags) is not None:
                    found.append(location)
            except re.error:
                continue
        elif (modifier == "=" and path == pattern) or (
            modifier in ("", "^~") and path.startswith(pattern) and not pattern.startswith("@")
        ):
            found.append(location)
    return found


def route_nginx(
    directives: list[Directive], url: str, *, source: str, proxy: str = "nginx"
) -> Route:
    """The common answer (:class:`.readers.model.Route`) for nginx running ``directives``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = unquote(parts.path or "/")
    server = choose_server(directives, host, port)
    if server is None:
        raise ReaderError(f"{source}: no server block")
    http = next((d for d in directives if d.name == "http"), None)
    choice = choose_location(server, path)
    block = _server_label(server)
    rule = _rule(choice.location) if choice.location is not None else None
    losers = [
        _rule(location)
        for location in _matching_locations(server, path)
        if location is not choice.location
    ]
    evidence = [f"config {source}: {block}"]
    if rule is not None:
        evidence.append(f"{path} -> {rule.text}")
    route = Route(proxy, block, rule, "unknown", losers=losers, evidence=evidence)
    scope = choice.location or server
    returned = scope.first("return")
    proxy_pass = scope.first("proxy_pass")
    if _inherited("internal", choice.location) is not None:
        route.action, route.status = "respond", 404
    elif returned is not None and returned.args:
        code = returned.args[0]
        status = int(code) if code.isdigit() else 302
        if 300 <= status < 400 or not code.isdigit():
            route.action, route.status = "redirect", status
            route.location = returned.args[-1]
        else:
            route.action, route.status = "respond", status
    elif proxy_pass is not None and proxy_pass.args:
        route.action, route.upstream = "proxy", expand_set(proxy_pass.args[0], server)
    elif choice.location is None and _inherited("root", server, http) is None:
        route.action, route.status = "none", 404
    else:
        alias = _inherited("alias", choice.location)
        root = _inherited("root", choice.location, server, http)
        if alias is not None and alias.args:
            route.action, route.root = "files", alias.args[0]
            if choice.modifier in ("", "^~"):
                route.path = alias.args[0] + path[len(choice.pattern) :]
        elif root is not None and root.args:
            route.action, route.root = "files", root.args[0]
            route.path = root.args[0].rstrip("/") + path
        elif scope.find("include"):
            route.caveats.append("the location's work is in an include not readable here")
        else:
            route.action, route.root = "files", "/usr/share/nginx/html"
            route.path = "/usr/share/nginx/html" + path
    return route
