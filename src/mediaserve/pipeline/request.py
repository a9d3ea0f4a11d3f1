"""The pipeline's input and output: a plain request description and the outcome to execute.

Adapters (WSGI, ASGI, Django) build a :class:`Request` from what their server gives them and
execute the :class:`Outcome` the pipeline returns; neither type knows any server.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Final, Literal, NamedTuple
from urllib.parse import unquote_to_bytes

from ..access.rules import NO_REQUEST
from ..http.plan import RequestHeaders, ResponsePlan, not_found
from ..metrics import events_logged
from ..sources.base import Refused, Resource

__all__ = [
    "DEFERRED",
    "Outcome",
    "OutcomeKind",
    "Request",
    "decode_path",
    "log_refusal",
    "logger",
    "match_prefix",
    "normalise_prefix",
]

logger = logging.getLogger("mediaserve")

# Encoded "/", "\" and NUL: decoding them would let one URL segment become several (or
# end early), which is how "%2e%2e%2f" style traversals slip past segment checks.
_FORBIDDEN_ESCAPES = (b"%2f", b"%5c", b"%00")


class Request(NamedTuple):
    """One media request as the pipeline needs it, whatever server it came through.

    A NamedTuple: one is built per request, and tuple construction is the cheapest.
    """

    method: str
    #: The path inside the application (WSGI ``PATH_INFO``, ASGI ``path`` without
    #: ``root_path``) as bytes, percent-decoded once by the server.
    path: bytes
    #: The path as it arrived on the wire, when the server exposes it (``RAW_URI``,
    #: ``raw_path``): used to refuse encoded slashes that the server decoded away.
    raw: bytes | None
    query: str
    headers: RequestHeaders
    #: The peer address (``REMOTE_ADDR``).
    client: str | None = None
    forwarded_for: str | None = None
    user_agent: str | None = None
    #: ``X-Mediaserve-Offload``: the offload method the proxy in front acts on.
    via: str | None = None
    #: What a private name's permission callable is asked with (a Django request, an
    #: environ, a scope); ``NO_REQUEST``: this entry point cannot judge private names and
    #: hands them to the application behind it (``DEFERRED``).
    judge: Any = NO_REQUEST
    #: Where "already rate-limited" is recorded (the environ or scope), so a request that
    #: passes through two entry points (wrapper, then view) is counted once.
    mark: MutableMapping[str, Any] | None = None
    #: ``Accept``: which image format a negotiated rendition is answered in (renditions).
    accept: str | None = None


OutcomeKind = Literal[
    "served",  # a file response: 200, 206, 304, 412, 416 (or a HEAD of one)
    "missing",  # 404: nothing there
    "refused",  # 404: traversal, dotfile, symlink, undecodable... (logged at WARNING)
    "denied",  # 404/403: private or signed, and not admitted (logged at WARNING)
    "deferred",  # private, and this entry point has no request to judge: the app decides
    "throttled",  # 429
    "not_allowed",  # 405
    "redirected",  # 302/303/307 to the store
    "offloaded",  # the proxy sends the bytes (X-Accel-Redirect, X-Sendfile...)
    "unavailable",  # 503: the store did not answer
    "misrouted",  # 502: an offload URI came back to the app
]


class Outcome(NamedTuple):
    """What the adapter executes: the plan, and where its file slices are read from.

    ``body`` is None when the plan's body is literal bytes only (refusals, redirects,
    offload, 304...); otherwise the adapter owns it and must close it. ``kind`` and
    ``reason`` say why, for logs and metrics; adapters never branch on them except
    ``deferred``.
    """

    plan: ResponsePlan
    body: Resource | None = None
    kind: OutcomeKind = "served"
    reason: str = ""
    #: Read size for adapters that copy the body through Python.
    chunk_size: int = 64 * 1024
    #: The client the pipeline judged, when it differs from the peer (a rate limit behind a
    #: trusted proxy counts the forwarded address): the event line names it.
    client: str | None = None


#: Hand the request to the application behind (a private name, no request to judge it by).
#: An entry point with nothing behind it sends the plan: the shared 404.
DEFERRED: Final = Outcome(not_found(), kind="deferred", reason="private name, judged by the app")


def normalise_prefix(prefix: str) -> str:
    """``"media"`` / ``"/media"`` / ``"/media/"`` -> ``"/media/"``; ``""`` -> ``"/"``."""
    text = "/" + prefix.strip("/")
    return text if text == "/" else text + "/"


def match_prefix(prefix: bytes, path: bytes) -> bytes | None:
    """The name for ``path`` under ``prefix`` (which ends in "/"), or ``None`` outside it.

    "/media-x/a.jpg" is not under "/media/" (no bare ``startswith`` on the prefix without
    its slash); the bare prefix "/media" is inside: it names the directory.
    """
    if path.startswith(prefix):
        return path[len(prefix) :]
    if path == prefix[:-1]:
        return b""
    return None


def decode_path(path: bytes, raw: bytes | None) -> str:
    """The name as text, percent-decoded exactly once (by the server), or raise ``Refused``.

    ``path`` is what the server already decoded; ``raw`` is the path as it arrived, when
    the server exposes it, and is used to refuse encoded slashes that the server decoded
    away.
    """
    # Without "%" and non-ASCII bytes the raw form hides nothing: the common request
    # skips the scan (it is most of this function's cost).
    if raw is not None and (b"%" in raw or not raw.isascii()):
        raw_path = raw.split(b"?", 1)[0]
        lowered = raw_path.lower()
        if any(escape in lowered for escape in _FORBIDDEN_ESCAPES):
            raise Refused("encoded slash, backslash or NUL in the URL")
        # Decode the raw form ourselves: some servers replace invalid UTF-8 with U+FFFD,
        # which would hide overlong encodings such as %c0%ae.
        try:
            unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("URL is not valid UTF-8 (overlong or truncated sequence)") from None
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("path is not valid UTF-8") from None


def log_refusal(label: str, client: str | None, reason: str) -> None:
    """One WARNING per refused name (a probe or a misconfiguration), with client and reason;
    DEBUG when the observer's event line says it (one line per refusal)."""
    logger.log(
        logging.DEBUG if events_logged() else logging.WARNING,
        "mediaserve refused %r from %s: %s",
        label,
        client or "unknown client",
        reason,
        extra={"mediaserve_reason": reason, "mediaserve_client": client},
    )
