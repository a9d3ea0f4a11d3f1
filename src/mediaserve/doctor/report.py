"""The one report model every hop writes to, and its two renderings (text and JSON).

A hop never raises and never prints: it returns :class:`Finding` objects, each with a
verdict, the evidence it saw and the fix. The report decides the exit code and names the
first failing hop, because "which hop broke first" is the question the user is asking.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["EXIT_CODES", "Finding", "HopVerdict", "Report", "render_json", "render_text"]

HopVerdict = Literal["pass", "warn", "fail", "skip"]

#: Exit status of a run: 0 all passed, 1 warnings only, 2 at least one failure.
#: ``skip`` (a hop that could not run: no Django settings, no --upstream) counts as a pass.
EXIT_CODES: dict[HopVerdict, int] = {"pass": 0, "skip": 0, "warn": 1, "fail": 2}

#: Hops in the order a byte travels them; findings are sorted into this order.
HOP_ORDER = (
    "input",
    "url",
    "file",
    "settings",
    "routing",
    "in-process",
    "upstream",
    "proxy",
    "dns",
    "tls",
    "robots",
    "public",
    "consumer",
)

#: Which hops' failures a failure at a hop explains: a request that breaks at ``file`` fails
#: again at every hop that serves that file, and those later failures are symptoms. The
#: summary names a *cause* (a failing hop that no other failing hop explains), so a local run
#: whose ``url`` is not public still names the routing or the proxy that broke the answer.
#: ``url`` explains nothing: a private host name does not change what the server answers.
_SERVED = ("in-process", "upstream", "public", "consumer")
EXPLAINS: dict[str, tuple[str, ...]] = {
    "input": HOP_ORDER[1:],
    "file": _SERVED,
    "settings": ("routing", *_SERVED),
    "routing": _SERVED,
    "in-process": ("upstream", "public", "consumer"),
    "upstream": ("public", "consumer"),
    "proxy": ("public", "consumer"),
    "dns": ("tls", "robots", "public", "consumer"),
    "tls": ("robots", "public", "consumer"),
    "robots": ("consumer",),
    "public": ("consumer",),
}

_SEVERITY: dict[HopVerdict, int] = {"skip": 0, "pass": 0, "warn": 1, "fail": 2}


@dataclass
class Finding:
    """One observation about one hop: ``fix`` is what to change (settings line, config
    snippet or shell command), empty when nothing needs changing."""

    hop: str
    verdict: HopVerdict
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""


def worst(verdicts: Iterable[HopVerdict]) -> HopVerdict:
    result: HopVerdict = "pass"
    for verdict in verdicts:
        if _SEVERITY[verdict] > _SEVERITY[result]:
            result = verdict
    return result


@dataclass
class Report:
    """Everything found about one target (a URL or a media name)."""

    target: str
    findings: list[Finding] = field(default_factory=list)
    url: str | None = None
    name: str | None = None
    #: ``--local``: a set-up checked before it is public (a loopback or private URL).
    local: bool = False

    def add(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def ordered(self) -> list[Finding]:
        rank = {hop: i for i, hop in enumerate(HOP_ORDER)}
        return sorted(self.findings, key=lambda f: rank.get(f.hop, len(rank)))

    @property
    def verdict(self) -> HopVerdict:
        return worst(f.verdict for f in self.findings)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def first(self, verdict: HopVerdict) -> Finding | None:
        """The first finding (in hop order) with this verdict: the hop to fix first."""
        return next((f for f in self.ordered() if f.verdict == verdict), None)

    def causes(self, verdict: HopVerdict = "fail") -> list[Finding]:
        """The findings with ``verdict`` that no other such finding explains (:data:`EXPLAINS`),
        the one explaining the most first, then in hop order."""
        found = [f for f in self.ordered() if f.verdict == verdict]
        hops = {f.hop for f in found}
        roots = [
            f
            for f in found
            if not any(f.hop in EXPLAINS.get(other, ()) for other in hops if other != f.hop)
        ]

        def reach(finding: Finding) -> int:
            return sum(1 for hop in hops if hop in EXPLAINS.get(finding.hop, ()))

        rank = {id(f): i for i, f in enumerate(roots)}
        return sorted(roots, key=lambda f: (-reach(f), rank[id(f)]))

    def cause(self) -> Finding | None:
        """The failure to fix first: the causal one (see :meth:`causes`), else the first
        warning. Not always the earliest in hop order: a loopback URL fails at ``url``, but
        the 404 that routing explains is the cause worth naming."""
        causes = self.causes("fail") or self.causes("warn")
        return causes[0] if causes else None

    def explained_by(self, cause: Finding) -> list[str]:
        """The other failing hops ``cause`` explains (its symptoms), in hop order."""
        hops = EXPLAINS.get(cause.hop, ())
        seen: list[str] = []
        for finding in self.ordered():
            if finding.verdict == cause.verdict and finding.hop in hops and finding.hop not in seen:
                seen.append(finding.hop)
        return seen

    def hop_verdict(self, hop: str) -> HopVerdict | None:
        found = [f.verdict for f in self.findings if f.hop == hop]
        return worst(found) if found else None

    def to_dict(self) -> dict[str, Any]:
        first = self.first("fail") or self.first("warn")
        cause = self.cause()
        others = self.causes(cause.verdict) if cause else []
        return {
            "target": self.target,
            "url": self.url,
            "name": self.name,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "local": self.local,
            "first_problem": asdict(first) if first else None,
            "cause": asdict(cause) if cause else None,
            "explains": self.explained_by(cause) if cause else [],
            "other_causes": [asdict(f) for f in others if f is not cause],
            "findings": [asdict(f) for f in self.ordered()],
        }


# -- rendering -------------------------------------------------------------------------------

_COLOURS = {"pass": "32", "warn": "33", "fail": "31", "skip": "90"}
_LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def _paint(text: str, verdict: HopVerdict, colour: bool) -> str:
    return f"\033[{_COLOURS[verdict]}m{text}\033[0m" if colour else text


def _indented(text: str, prefix: str) -> list[str]:
    return [prefix + line if line else line for line in text.splitlines()]


def render_text(report: Report, *, colour: bool = False, verbose: bool = True) -> str:
    """The terminal report: one line per finding, evidence and fix indented below it."""
    lines = [f"mediaserve doctor: {report.target}"]
    if report.url and report.url != report.target:
        lines.append(f"  url:  {report.url}")
    if report.name and report.name != report.target:
        lines.append(f"  file: {report.name}")
    lines.append("")
    for finding in report.ordered():
        label = _paint(f"{_LABELS[finding.verdict]:<4}", finding.verdict, colour)
        lines.append(f"{label} {finding.hop:<10} {finding.summary}")
        if verbose or finding.verdict in ("warn", "fail"):
            lines.extend("       " + ev for ev in finding.evidence)
        if finding.fix and finding.verdict in ("warn", "fail"):
            lines.append("       fix:")
            lines.extend(_indented(finding.fix, "         "))
    lines.append("")
    cause = report.cause()
    if cause is not None and cause.verdict == "fail":
        lines.append(
            _paint("RESULT: FAIL", "fail", colour)
            + f" (exit 2): broken hop is '{cause.hop}': {cause.summary}"
        )
        lines.extend(_after_cause(report, cause))
    elif report.verdict == "warn":
        where = f": first warning at '{cause.hop}'" if cause else ""
        lines.append(_paint("RESULT: WARN", "warn", colour) + f" (exit 1){where}")
    else:
        lines.append(_paint("RESULT: PASS", "pass", colour) + " (exit 0): every hop passed")
    return "\n".join(lines) + "\n"


def _after_cause(report: Report, cause: Finding) -> list[str]:
    lines: list[str] = []
    symptoms = report.explained_by(cause)
    if symptoms:
        lines.append(f"  it explains the failures at: {', '.join(symptoms)}")
    for other in report.causes("fail"):
        if other is not cause:
            lines.append(f"  also broken, on its own: '{other.hop}': {other.summary}")
    return lines


def render_json(reports: Sequence[Report], *, scan: bool = False) -> str:
    if not scan and len(reports) == 1:
        return json.dumps(reports[0].to_dict(), indent=2) + "\n"
    overall = worst(r.verdict for r in reports)
    data = {
        "verdict": overall,
        "exit_code": EXIT_CODES[overall],
        "counts": {v: sum(1 for r in reports if r.verdict == v) for v in ("pass", "warn", "fail")},
        "reports": [r.to_dict() for r in reports],
    }
    return json.dumps(data, indent=2) + "\n"
