"""Hop ``robots``: does the site's robots.txt let Meta's crawlers fetch the media path?

A ``Disallow: /`` left over from staging, or a ``Disallow: /media/`` meant for search
engines under ``User-agent: *``, keeps facebookexternalhit (link previews, catalog images)
and WhatsApp's preview fetcher away, with no error anywhere but "image not fetched".

Matching follows RFC 9309: the group whose user-agent token matches the crawler's product
token (case-insensitive), else the ``*`` group (§2.2.1); within it the rule with the longest
matching path wins, ``Allow`` on a tie (§2.2.2); ``*`` and ``$`` in paths (§2.2.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from .fetch import FetchOptions, fetch
from .report import Finding

__all__ = ["META_AGENTS", "Robots", "check_robots", "parse_robots"]

HOP = "robots"
#: Meta's fetchers by product token: link previews and catalog images, WhatsApp's link
#: preview, and Meta's indexing/AI crawler (a warning only: blocking it can be deliberate).
META_AGENTS = (
    ("facebookexternalhit", "fail"),
    ("WhatsApp", "fail"),
    ("meta-externalagent", "warn"),
)
#: RFC 9309 §2.5: crawlers must parse at least 500 KiB.
MAX_ROBOTS = 512 * 1024


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[tuple[bool, str]] = field(default_factory=list)  # (allow, path pattern)


@dataclass
class Robots:
    groups: list[_Group]

    def group_for(self, agent: str) -> _Group | None:
        token = agent.lower()
        named = [g for g in self.groups if token in g.agents]
        if named:  # §2.2.1: every group naming the agent is combined
            return _Group([token], [r for g in named for r in g.rules])
        star = [g for g in self.groups if "*" in g.agents]
        return _Group(["*"], [r for g in star for r in g.rules]) if star else None

    def rule_for(self, agent: str, path: str) -> tuple[bool, str] | None:
        """The winning ``(allow, pattern)`` for ``path``, or None (allowed by default)."""
        group = self.group_for(agent)
        if group is None:
            return None
        best: tuple[bool, str] | None = None
        for allow, pattern in group.rules:
            if not pattern or not _matches(pattern, path):
                continue
            if (
                best is None
                or len(pattern) > len(best[1])
                or (len(pattern) == len(best[1]) and allow and not best[0])
            ):
                best = (allow, pattern)
        return best

    def allowed(self, agent: str, path: str) -> bool:
        rule = self.rule_for(agent, path)
        return rule is None or rule[0]


def _matches(pattern: str, path: str) -> bool:
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern.rstrip("$"))
    regex += "$" if pattern.endswith("$") else ""
    return re.match(regex, unquote(path)) is not None


def parse_robots(text: str) -> Robots:
    groups: list[_Group] = []
    current: _Group | None = None
    in_agents = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            if current is None or not in_agents:
                current = _Group()
                groups.append(current)
            current.agents.append(value.lower())
            in_agents = True
        elif key in ("allow", "disallow") and current is not None:
            current.rules.append((key == "allow", value))
            in_agents = False
    return Robots(groups)


def check_robots(url: str, options: FetchOptions) -> list[Finding]:
    parts = urlsplit(url)
    robots_url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
    got = fetch(robots_url, options=FetchOptions(
        timeout=options.timeout, cafile=options.cafile, connect_to=options.connect_to,
        max_body=MAX_ROBOTS,
    ))  # fmt: skip
    final = got.final
    if final is None:
        return [Finding(HOP, "skip", f"robots.txt not fetched: {got.error}", [robots_url])]
    if final.status != 200:
        # RFC 9309 §2.3.1.3: a 4xx means no restrictions (a 5xx means "disallow all" for
        # a while, which the public hop's failure shows anyway).
        if final.status < 500:
            return [Finding(HOP, "pass", f"robots.txt answers {final.status}: no rules", [])]
        return [
            Finding(HOP, "warn", f"robots.txt answers {final.status}", [robots_url],
                    "Crawlers read a 5xx as 'disallow all' for a while: serve it, or a 404.")
        ]  # fmt: skip
    robots = parse_robots(final.head.decode("utf-8", "replace"))
    path = parts.path or "/"
    findings: list[Finding] = []
    evidence = [f"GET {robots_url} -> 200, {final.length} bytes"]
    for agent, verdict in META_AGENTS:
        rule = robots.rule_for(agent, path)
        group = robots.group_for(agent)
        if rule is not None and not rule[0]:
            who = f"User-agent: {group.agents[0]}" if group else ""
            findings.append(
                Finding(
                    HOP,
                    "fail" if verdict == "fail" else "warn",
                    f"robots.txt disallows {path} for {agent} ({who}, Disallow: {rule[1]})",
                    evidence,
                    f"Let Meta's fetchers in, above the other groups of robots.txt:\n"
                    f"  User-agent: facebookexternalhit\n  User-agent: WhatsApp\n"
                    f"  Allow: {_folder(path)}\n"
                    "(or narrow the Disallow so it does not cover media).",
                )
            )
        else:
            evidence.append(f"{agent}: allowed" + (f" (Allow: {rule[1]})" if rule else ""))
    if not findings:
        findings.append(
            Finding(HOP, "pass", f"robots.txt lets Meta's fetchers get {path}", evidence)
        )
    return _merge(findings)


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0] + "/" if "/" in path.strip("/") else path


def _merge(findings: list[Finding]) -> list[Finding]:
    """One failure naming every agent it stops, rather than one per agent."""
    failing = [f for f in findings if f.verdict == "fail"]
    if len(failing) < 2:
        return findings
    agents = " and ".join(f.summary.split(" for ", 1)[1].split(" (", 1)[0] for f in failing)
    first = failing[0]
    summary = (
        first.summary.split(" for ", 1)[0] + f" for {agents} (" + first.summary.split(" (", 1)[1]
    )
    rest = [f for f in findings if f.verdict != "fail"]
    return [Finding(HOP, "fail", summary, first.evidence, first.fix), *rest]
