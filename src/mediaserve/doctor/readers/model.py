"""The one answer every proxy reader gives: which block answers a URL and what it does.

nginx, Nginx Proxy Manager, Caddy, Apache and Traefik each have their own way of picking
the rule for a request (longest prefix then first regex; ordered routes with handle
groups; translate-name hooks then <Location> merging; the longest rule text). Each reader
replays its own proxy's choice and reports it as a :class:`Route`, so the doctor asks one
question of any of them and judges the answers alike (:func:`..readers.check_route`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Action", "ReaderError", "Route", "RuleMatch"]

#: What the winning rule does with the request.
#: ``proxy``: passed to ``upstream``; ``files``: read from ``path`` on disk (under ``root``);
#: ``respond``: answered by the proxy itself with ``status`` (``return``, ``respond``,
#: ``Require all denied``...); ``redirect``: a 3xx to ``location``; ``none``: no rule
#: answers (the proxy's own 404 or empty 200); ``unknown``: the replay cannot tell.
Action = Literal["proxy", "files", "respond", "redirect", "none", "unknown"]


class ReaderError(ValueError):
    """The configuration cannot be read: the message names the file and the fix."""


@dataclass
class RuleMatch:
    """One rule that matches the request path, whether it won or lost."""

    #: The rule as written in the config (``location ~* \\.(jpg|png)$``, ``handle /media/*``,
    #: ``<LocationMatch "\\.(jpe?g)$">``, ``router images: PathRegexp(...)``).
    text: str
    #: ``regex`` for a rule matched by a regular expression, ``prefix``, ``exact`` or ``any``.
    kind: str = "prefix"
    #: The plain path prefix the rule is about, when it has one (``/media/``).
    prefix: str | None = None


@dataclass
class Route:
    """What one proxy does with one URL."""

    proxy: str
    #: The block that answers the request (server block, site, VirtualHost, router).
    block: str
    #: The rule inside it that answers, or None when no rule does.
    rule: RuleMatch | None
    action: Action
    upstream: str | None = None
    #: The folder the files come from, and the file the request maps to.
    root: str | None = None
    path: str | None = None
    status: int | None = None
    location: str | None = None
    #: Rules that also match the request path but lost to ``rule``.
    losers: list[RuleMatch] = field(default_factory=list)
    #: What the replay saw, one line each (the files, the choice, the handler).
    evidence: list[str] = field(default_factory=list)
    #: What the replay could not evaluate (a RewriteCond, a CEL expression...).
    caveats: list[str] = field(default_factory=list)
    #: The reader's own fix when a loser is the media rule (else a generic one per proxy).
    fix: str = ""

    def describe(self) -> str:
        """One line: ``path /media/* in server srv0 (listen :8080) -> served from /srv``."""
        rule = self.rule.text if self.rule else "(no rule)"
        return f"{rule} in {self.block} -> {self.outcome()}"

    def outcome(self) -> str:
        """What happens to the request: ``proxied to 127.0.0.1:8000``, ``served from ...``."""
        return {
            "proxy": f"proxied to {self.upstream}",
            "files": f"served from {self.root or self.path}",
            "respond": f"answered by the proxy with {self.status}",
            "redirect": f"redirected ({self.status}) to {self.location}",
            "none": "no rule answers",
            "unknown": "unknown",
        }[self.action]
