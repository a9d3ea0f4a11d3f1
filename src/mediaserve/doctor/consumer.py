"""Hop ``consumer``: the URL fetched the way Meta fetches it, judged by Meta's rules.

Meta's catalog crawler identifies as ``facebookexternalhit/1.1`` and ``facebookcatalog/1.0``
and asks for ``Range: bytes=0-524288``. Bot protection (a WAF rule, Cloudflare's bot fight
mode, an nginx ``if ($http_user_agent ...)``) often answers those agents 403/429 or a
challenge page while a browser gets the file: the catalog then says "image not fetched"
with no reason. The fetch as the crawler is compared with a plain one.

Limits: Meta's catalog image and WhatsApp Cloud API media rules, from the table in
:mod:`mediaserve.policy.platforms` that upload validation reads too.
"""

from __future__ import annotations

from ..policy.platforms import KB, MB, META_CATALOG_IMAGE, MediaKind, whatsapp_kind
from ..renditions.presets import passing_preset
from ..uploads.validate import is_animated_webp
from .fetch import Fetch, FetchOptions, Response, fetch
from .file import FileFacts
from .magic import base_type, image_size, sniffed_type
from .report import Finding
from .served import _is_login, origin_of

__all__ = ["CRAWLER_AGENTS", "PROFILES", "check_consumer"]

HOP = "consumer"
CRAWLER_AGENTS = (
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "facebookcatalog/1.0",
)
META_RANGE = "bytes=0-524288"
PROFILES = ("meta-catalog", "whatsapp")


def _total_size(response: Response, facts: FileFacts | None) -> int | None:
    content_range = response.header("content-range") or ""
    if "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    if response.status == 200 and not response.truncated:
        return response.length
    return facts.size if facts else None


def _crawler_fetches(url: str, options: FetchOptions) -> list[tuple[str, Fetch]]:
    return [
        (agent, fetch(url, headers={"User-Agent": agent, "Range": META_RANGE}, options=options))
        for agent in CRAWLER_AGENTS
    ]


def check_consumer(
    url: str, profile: str, options: FetchOptions, plain: Fetch | None, facts: FileFacts | None
) -> list[Finding]:
    findings: list[Finding] = []
    plain_final = plain.final if plain else None
    crawled = _crawler_fetches(url, options)
    answer: Response | None = None
    for agent, result in crawled:
        short = agent.split(" ", 1)[0]
        final = result.final
        if final is None:
            findings.append(
                Finding(
                    HOP,
                    "fail",
                    f"as {short}: {result.error}",
                    [url],
                    "See the 'public' and 'tls' hops.",
                )
            )
            continue
        evidence = [f"as {short} with Range: {META_RANGE}:"] + [r.describe() for r in result.chain]
        if plain_final is not None:
            evidence.append(f"plain fetch: {plain_final.status}, {plain_final.length} bytes")
        if result.redirected and _is_login(final.url):
            findings.append(
                Finding(
                    HOP,
                    "fail",
                    f"as {short}: redirected to a login page",
                    evidence,
                    "Exempt MEDIA_URL from authentication for crawlers.",
                )
            )
            continue
        body_type = sniffed_type(final.head) if final.head else None
        challenge = (
            final.status in (200, 206)
            and body_type == "text/html"
            and (plain_final is None or sniffed_type(plain_final.head) != "text/html")
        )
        plain_ok = plain_final is not None and plain_final.status == 200
        if (final.status not in (200, 206) or challenge) and plain_ok:
            what = "a challenge page" if challenge else f"{final.status} from {origin_of(final)}"
            findings.append(
                Finding(
                    HOP,
                    "fail",
                    f"blocked for Meta's crawler: {what} for {short}, 200 for a plain fetch",
                    evidence,
                    "Let Meta's agents through the bot protection for media:\n"
                    "  user agents facebookexternalhit and facebookcatalog (Cloudflare: a WAF "
                    "skip rule or 'Verified bots'; nginx: remove the $http_user_agent block or "
                    "exempt /media/)",
                )
            )
            continue
        if final.status not in (200, 206):
            findings.append(
                Finding(
                    HOP,
                    "fail",
                    f"as {short}: {final.status} {final.reason}",
                    evidence,
                    "See the 'public' hop: the plain fetch fails too.",
                )
            )
            continue
        if (
            final.status == 206
            and plain_final is not None
            and plain_final.head
            and not plain_final.head.startswith(final.head[:4096])
        ):
            findings.append(
                Finding(
                    HOP,
                    "fail",
                    f"as {short}: the partial body differs from the file's start",
                    evidence,
                    "A proxy alters ranged answers: don't filter media.",
                )
            )
            continue
        answer = answer or final
    findings = _merge_agents(findings)
    if answer is None:
        return findings or [Finding(HOP, "fail", "no usable answer for the crawler", [url], "")]
    findings.extend(_rules(profile, answer, plain_final, facts))
    if not any(f.verdict in ("warn", "fail") for f in findings):
        detail = sniffed_type(answer.head) or answer.content_type
        size = image_size(answer.head)
        px = f", {size[0]}x{size[1]} px" if size else ""
        findings.append(
            Finding(
                HOP,
                "pass",
                f"{profile}: crawler agents get {answer.status}, {detail}{px}, "
                "within the limits, validators present",
                [answer.describe()],
            )
        )
    return findings


def _key(summary: str, shorts: list[str]) -> str:
    for short in shorts:
        summary = summary.replace(short, "{agent}")
    return summary


def _merge_agents(findings: list[Finding]) -> list[Finding]:
    """One finding when every crawler agent met the same problem, naming them all."""
    shorts = [agent.split(" ", 1)[0] for agent in CRAWLER_AGENTS]
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_key(finding.summary, shorts), []).append(finding)
    result: list[Finding] = []
    for key, group in groups.items():
        first = group[0]
        if len(group) > 1 and key != first.summary:
            summary = key.replace("{agent}", " and ".join(shorts))
            evidence = [line for finding in group for line in finding.evidence]
            result.append(Finding(first.hop, first.verdict, summary, evidence, first.fix))
        else:
            result.extend(group)
    return result


def _rules(
    profile: str, answer: Response, plain: Response | None, facts: FileFacts | None
) -> list[Finding]:
    findings: list[Finding] = []
    sniffed = sniffed_type(answer.head) or (facts.sniffed if facts else None)
    declared = base_type(answer.header("content-type") or "")
    total = _total_size(answer, facts)
    evidence = [
        answer.describe(),
        f"bytes: {sniffed or 'unknown'}, Content-Type: {declared or 'none'}, "
        f"size: {total if total is not None else 'unknown'}",
    ]
    kind: MediaKind
    if profile == "meta-catalog":
        kind = META_CATALOG_IMAGE
    else:
        found = whatsapp_kind(declared, sniffed)
        if found is None:
            return [
                Finding(
                    HOP,
                    "fail",
                    f"WhatsApp does not accept {declared or sniffed or 'this type'}",
                    evidence,
                    "Convert it: images to JPEG/PNG, video to MP4 (H.264+AAC), "
                    "voice notes to OGG/Opus, documents to PDF.",
                )
            ]
        kind = found
    if sniffed not in kind.types:
        findings.append(
            Finding(
                HOP,
                "fail",
                f"{kind.name}: the bytes are {sniffed or 'unknown'}, "
                f"accepted: {', '.join(sorted(kind.types))}",
                evidence,
                "Convert the image to JPEG or PNG (e.g. Pillow: "
                "Image.open(f).convert('RGB').save(out, 'JPEG', quality=90)).",
            )
        )
    if declared and declared not in kind.types:
        findings.append(
            Finding(
                HOP,
                "fail",
                f"Content-Type {declared} is not one WhatsApp/Meta accepts for a {kind.name}",
                evidence,
                "Serve the file's real type (nginx: include mime.types;).",
            )
        )
    head = answer.head or (facts.head if facts else b"")
    findings.extend(_size_findings(kind, total, head, evidence))
    findings.extend(_dimension_findings(kind, answer, facts, evidence))
    # Name the rendition built to pass (renditions, issue 12) where the original fails.
    preset = passing_preset(kind.name)
    for finding in findings if preset is not None else []:
        if finding.verdict == "fail" and finding.fix:
            finding.fix += f" Or link its '{preset}' rendition (docs/renditions.md)."
    if not (answer.header("etag") or answer.header("last-modified")):
        findings.append(
            Finding(
                HOP,
                "warn",
                "no ETag/Last-Modified: Meta re-downloads the image on every crawl",
                evidence,
                "Serve with validators (mediaserve sends both).",
            )
        )
    return findings


def _size_text(size: float) -> str:
    # MB with one decimal as before ("5.3 MB"); KB for the sticker limits.
    return f"{size / MB:.1f} MB" if size >= MB else f"{size / KB:.0f} KB"


def _limit_text(size: int) -> str:
    return f"{size / MB:g} MB" if size >= MB else f"{size / KB:g} KB"


def _size_findings(
    kind: MediaKind, total: int | None, head: bytes, evidence: list[str]
) -> list[Finding]:
    """Over the kind's limit (an animated sticker has its own, larger one)?"""
    animated = kind.animated_max_bytes is not None and is_animated_webp(head)
    limit = kind.max_bytes_for(animated=animated)
    if total is None or total <= limit:
        return []
    label = (
        f"{'animated' if animated else 'static'} {kind.name}"
        if kind.animated_max_bytes
        else kind.name
    )
    return [
        Finding(
            HOP,
            "fail",
            f"{_size_text(total)} is over the {label} limit of {_limit_text(limit)}",
            evidence,
            "Re-encode it smaller (images: resize to <= 2048 px, JPEG quality "
            "85; video: lower bitrate) before sending.",
        )
    ]


def _dimension_findings(
    kind: MediaKind, answer: Response, facts: FileFacts | None, evidence: list[str]
) -> list[Finding]:
    """Meta's pixel rules: a catalog image's smallest side, a sticker's exact size."""
    if kind.min_side_px is None and kind.exact_px is None:
        return []
    size = image_size(answer.head) or (facts.image_size if facts else None)
    if size is None:
        if kind.min_side_px is None:
            return []  # a sticker's size is checked when it can be read, not guessed
        return [Finding(HOP, "warn", "image size not found in the first 512 KiB", evidence, "")]
    if kind.min_side_px is not None and min(size) < kind.min_side_px:
        side = kind.min_side_px
        return [
            Finding(
                HOP,
                "fail",
                f"{size[0]}x{size[1]} px is under Meta's minimum of {side}x{side}",
                evidence,
                f"Upload a larger image (at least {side}x{side}, 1024x1024 "
                "recommended); don't upscale thumbnails.",
            )
        ]
    if kind.exact_px is not None and size != kind.exact_px:
        width, height = kind.exact_px
        return [
            Finding(
                HOP,
                "fail",
                f"{kind.name}: {size[0]}x{size[1]} px, WhatsApp needs exactly {width}x{height}",
                evidence,
                f"Resize it to {width}x{height} (transparent padding keeps the aspect ratio).",
            )
        ]
    return []
