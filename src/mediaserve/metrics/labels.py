"""Bounded label values: the consumer family from a User-Agent, and a short reason class
from the pipeline's free-text reasons.

Prometheus keeps one time series per label combination, so every label here takes a value
from a small fixed set: a User-Agent or a reason text ("signature expired at 1700000000")
is never a label itself.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CONSUMERS",
    "DELIVERIES",
    "WATCHED_CONSUMERS",
    "consumer_family",
    "outcome_label",
    "reason_label",
]

#: The consumer families, in the order they are tested.
CONSUMERS: Final = ("meta_crawler", "meta_preview", "whatsapp", "browser", "other")
#: The families whose failed fetches the health record keeps (the seed's silent failure).
WATCHED_CONSUMERS: Final = frozenset({"meta_crawler", "meta_preview", "whatsapp"})
#: How the body reached the client: copied through Python, sent by the server from the
#: descriptor (sendfile, zerocopysend, pathsend), by the proxy (X-Accel-Redirect...), or by
#: the object store after a redirect.
DELIVERIES: Final = ("in_process", "sendfile", "offload", "redirect")

# Meta documents its crawlers at developers.facebook.com/docs/sharing/webmasters/web-crawlers:
# facebookexternalhit fetches shared links and catalog/ads images, meta-externalagent and
# facebookcatalog crawl for products, facebookbot for Meta's own indexing. They are one
# family here: it is the family whose repeated failures drop products from a catalog.
_META_CRAWLER = ("facebookexternalhit", "meta-externalagent", "facebookcatalog", "facebookbot")
# User-initiated fetches: Meta AI / Messenger link previews (meta-externalfetcher), and the
# older "Facebot" preview agent.
_META_PREVIEW = ("meta-externalfetcher", "facebot")
_BOT_WORDS = ("bot", "crawl", "spider", "slurp", "curl/", "wget/", "python-", "go-http")

_CACHE_LIMIT = 2048
_families: dict[str, str] = {}


def _classify(user_agent: str) -> str:
    text = user_agent.lower()
    # WhatsApp first: its link-preview agent is "WhatsApp/2.23.20.0 A", and WhatsApp's
    # in-app fetches must not fall into the browser family.
    if "whatsapp" in text:
        return "whatsapp"
    if any(word in text for word in _META_CRAWLER):
        return "meta_crawler"
    if any(word in text for word in _META_PREVIEW):
        return "meta_preview"
    if text.startswith("mozilla/") and not any(word in text for word in _BOT_WORDS):
        return "browser"
    return "other"


def consumer_family(user_agent: str | None) -> str:
    """One of :data:`CONSUMERS` for a User-Agent header (None or empty: ``other``).

    Clients send a handful of distinct agents, so the answer is memoised; the memo is
    cleared when it fills, so a client inventing agents costs memory once, not forever.
    """
    if not user_agent:
        return "other"
    family = _families.get(user_agent)
    if family is None:
        family = _classify(user_agent)
        if len(_families) >= _CACHE_LIMIT:
            _families.clear()
        _families[user_agent] = family
    return family


# (substring of the pipeline's reason, label): the first match wins. The texts are the
# pipeline's own (sources/local.py, access/rules.py, ratelimit/): a new reason text falls
# into "other" for its kind until it is listed here.
_REASON_RULES: Final = (
    ("'..' segment", "traversal"),
    ("'.' segment", "traversal"),
    ("encoded slash", "traversal"),
    ("absolute path", "traversal"),
    ("drive letter", "traversal"),
    ("backslash", "traversal"),
    ("empty path segment", "traversal"),
    ("leaves the media root", "traversal"),
    ("dotfile", "dotfile"),
    ("symlink", "symlink"),
    ("not valid utf-8", "bad_encoding"),
    ("nul", "bad_encoding"),
    ("control character", "bad_encoding"),
    ("not a regular file", "not_regular"),
    ("permission denied (check", "file_permissions"),
    ("offload prefix", "offload_prefix"),
    ("signature expired", "expired_signature"),
    ("no signature", "no_signature"),
    ("signature is for", "bad_signature"),
    ("signature does not match", "bad_signature"),
    ("malformed expiry", "bad_signature"),
    ("parameter", "bad_signature"),
    ("unparsable query", "bad_signature"),
    ("permission callable raised", "permission_error"),
    ("no permission callable", "private"),
    ("permission denied", "private"),
    ("private name", "private"),
    ("rate limit", "rate_limited"),
    ("offload loop", "offload_loop"),
)
_reasons: dict[str, str] = {}


def reason_label(kind: str, reason: str) -> str:
    """A short, bounded class for ``reason`` ("" for answers that need none)."""
    if kind in ("served", "redirected", "offloaded", "not_allowed"):
        return ""
    if kind == "missing":
        return "not_found"
    if kind == "unavailable":
        return "store_unavailable"
    label = _reasons.get(reason)
    if label is None:
        text = reason.lower()
        label = next((lab for needle, lab in _REASON_RULES if needle in text), "other")
        if len(_reasons) >= _CACHE_LIMIT:
            _reasons.clear()
        _reasons[reason] = label
    return label


def outcome_label(kind: str, status: int, short: bool) -> str:
    """The outcome label: the pipeline's kind, ``short_body`` for a body that ended early,
    and ``missing`` for the bare 404 of an entry point with nothing behind it."""
    if short:
        return "short_body"
    if kind == "served" and status == 404:
        return "missing"
    return kind
