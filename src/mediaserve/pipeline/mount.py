"""A mount: a URL prefix, a source and options -- and the one function every adapter calls.

``Mount.respond`` does lookup and planning for all adapters (WSGI, ASGI, Django), so the
adapters only move bytes. It never raises for anything a client can send.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from ..http.plan import (
    ALLOWED_METHODS,
    RequestHeaders,
    ResponsePlan,
    ServeOptions,
    method_not_allowed,
    not_found,
    plan,
)
from ..sources.base import LookupError_, NotFound, OpenFile, Refused, Source
from ..sources.local import LocalSource
from .offload import Offload, loop_detected, offload_plan, proxy_would_misanswer

__all__ = [
    "Mount",
    "announced",
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


def normalise_prefix(prefix: str) -> str:
    """``"media"`` / ``"/media"`` / ``"/media/"`` -> ``"/media/"``; ``""`` -> ``"/"``."""
    text = "/" + prefix.strip("/")
    return text if text == "/" else text + "/"


def decode_path(path_bytes: bytes, raw: bytes | None) -> str:
    """The request path as text, percent-decoded exactly once, or raise ``Refused``.

    ``path_bytes`` is what the server already decoded (WSGI ``PATH_INFO`` as bytes,
    or ASGI ``path`` re-encoded); ``raw`` is the path as it arrived, when the server
    exposes it, and is used to refuse encoded slashes that the server decoded away.
    """
    # Without "%" and non-ASCII bytes the raw form hides nothing: the common request
    # skips the scan (it is most of this function's cost).
    if raw is not None and (b"%" in raw or not raw.isascii()):
        raw_path = raw.split(b"?", 1)[0].lower()
        if any(escape in raw_path for escape in _FORBIDDEN_ESCAPES):
            raise Refused("encoded slash, backslash or NUL in the URL")
        # Decode the raw form ourselves: some servers replace invalid UTF-8 with U+FFFD,
        # which would hide overlong encodings such as %c0%ae.
        try:
            unquote_to_bytes(raw.split(b"?", 1)[0]).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("URL is not valid UTF-8 (overlong or truncated sequence)") from None
    try:
        return path_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("path is not valid UTF-8") from None


def match_prefix(prefix: str, path: str) -> str | None:
    """The name for ``path`` under ``prefix`` (which ends in "/"), or ``None`` outside it.

    "/media-x/a.jpg" is not under "/media/" (no bare ``startswith`` on the prefix without
    its slash); the bare prefix "/media" is inside: it names the directory.
    """
    if path.startswith(prefix):
        return path[len(prefix) :]
    if path == prefix[:-1]:
        return ""
    return None


def log_refusal(label: str, client: str | None, reason: str) -> None:
    """One WARNING per refused name (a probe or a misconfiguration), with client and reason."""
    logger.warning(
        "mediaserve refused %r from %s: %s",
        label,
        client or "unknown client",
        reason,
        extra={"mediaserve_reason": reason, "mediaserve_client": client},
    )


def announced(via: str | None, method: str, warned: set[str], setting: str) -> bool:
    """Whether the proxy in front announced offload ``method`` (``X-Mediaserve-Offload``).

    A mismatch is served by the app (correct, only slower) and logged once per process:
    an offload header the proxy does not act on would reach the client as an empty 200.
    """
    if via is not None and via.strip().lower() == method:
        return True
    problem = "absent" if via is None else f"different ({via[:40]!r})"
    if problem not in warned:
        warned.add(problem)
        logger.warning(
            "mediaserve: %s is %r but this request's X-Mediaserve-Offload header is %s,"
            " so the app sends the bytes instead. Reach the app through the proxy"
            " configured by `mediaserve config`, which sets that header.",
            setting,
            method,
            problem,
        )
    return False


@dataclass(frozen=True)
class Mount:
    """Files of ``source`` served under the URL path ``prefix`` (``"/media/"``)."""

    prefix: str
    source: Source
    options: ServeOptions
    # Set when a proxy moves the bytes (X-Accel-Redirect / X-Sendfile): see delivery/offload.py.
    offload: Offload | None = None
    # Plans for plain GET/HEAD (no conditional or Range header) keyed by file version:
    # the common request then skips planning. Bounded; cleared wholesale when full.
    _plans: dict[tuple[str, str, int, int, str], ResponsePlan] = field(
        default_factory=dict, repr=False, compare=False
    )
    # Offload mismatches already logged (each is logged once per process, not per request).
    _warned: set[str] = field(default_factory=set, repr=False, compare=False)
    plan_cache_size = 4096

    @classmethod
    def create(
        cls,
        root_or_source: str | os.PathLike[str] | Source,
        prefix: str = "/",
        options: ServeOptions | None = None,
        offload: Offload | None = None,
    ) -> Mount:
        opts = options or ServeOptions()
        if isinstance(root_or_source, (str, os.PathLike)):
            source: Source = LocalSource(
                root_or_source,
                allow_dotfiles=opts.allow_dotfiles,
                follow_symlinks=opts.follow_symlinks,
            )
        else:
            source = root_or_source
        return cls(normalise_prefix(prefix), source, opts, offload)

    def match(self, path: str) -> str | None:
        """The mount-relative name for ``path``, or ``None`` outside (see ``match_prefix``)."""
        return match_prefix(self.prefix, path)

    def respond(
        self,
        method: str,
        name: str | Callable[[], str],
        headers: RequestHeaders,
        client: str | None = None,
        via: str | None = None,
    ) -> tuple[ResponsePlan, OpenFile | None]:
        """Look up ``name`` and plan the response; the open file is returned when the
        plan has a body to read, and the caller must close it.

        ``name`` may be a callable that decodes the name (raising ``Refused``), so that
        decoding failures are logged like any other refusal. ``via`` is the value of the
        ``X-Mediaserve-Offload`` request header: the offload method the proxy in front
        handles (only then is the file offloaded).
        """
        if method not in ALLOWED_METHODS:
            return method_not_allowed(), None
        label = name if isinstance(name, str) else "<undecodable>"
        try:
            label = name if isinstance(name, str) else name()
            opened = self.source.open(label)
        except Refused as exc:
            log_refusal(label, client, exc.reason)
            return not_found(method), None
        except NotFound as exc:
            logger.debug("mediaserve 404 %r: %s", label, exc.reason)
            return not_found(method), None
        except LookupError_ as exc:  # any other source-specific failure: still a 404
            logger.warning("mediaserve lookup failed for %r: %s", label, exc.reason)
            return not_found(method), None
        if (
            self.offload is not None
            and self._offloads(via)
            and proxy_would_misanswer(headers) is None
        ):
            whole = self._plan(method, _PLAIN, opened)
            offloaded = offload_plan(whole, opened.meta.name, self.offload)
            if offloaded is not None:
                opened.close()
                return offloaded, None
            logger.warning(
                "mediaserve: %r cannot be offloaded (control character); served here", label
            )
        try:
            result = self._plan(method, headers, opened)
        except BaseException:
            opened.close()
            raise
        if not result.body or all(isinstance(s, bytes) for s in result.body):
            opened.close()
            return result, None
        return result, opened

    def _offloads(self, via: str | None) -> bool:
        assert self.offload is not None
        return announced(via, self.offload.method, self._warned, "OFFLOAD")

    def internal(self, path: str, via: str | None, method: str) -> ResponsePlan | None:
        """The 502 for an offload URI the proxy sent back to the app (see ``loop_detected``).

        Only requests that carry the proxy's header count: a client asking the app for
        ``/_mediaserve/x`` directly gets the ordinary answer for that path.
        """
        if self.offload is None or via is None or self.offload.method == "x-sendfile":
            return None
        if not path.startswith(self.offload.internal_prefix):
            return None
        logger.error(
            "mediaserve: %s came back to the app through the proxy: the proxy has no internal"
            " location for %s (regenerate it with `mediaserve config`)",
            path[:200],
            self.offload.internal_prefix,
        )
        return loop_detected(method)

    def _plan(self, method: str, headers: RequestHeaders, opened: OpenFile) -> ResponsePlan:
        if headers != _PLAIN:
            return plan(method, headers, opened.meta, self.options)
        meta = opened.meta
        key = (method, meta.name, meta.size, meta.mtime_ns, meta.identity)
        cached = self._plans.get(key)
        if cached is None:
            cached = plan(method, headers, meta, self.options)
            if len(self._plans) >= self.plan_cache_size:
                self._plans.clear()
            self._plans[key] = cached
        return cached


_PLAIN = RequestHeaders()
