"""Metrics, structured event logs and the failure record: what consumers actually got.

The adapters (``delivery/wsgi.py``, ``delivery/asgi.py``, the Django view) make one call per
response, :meth:`Observer.response`, after the body is done, so bytes and durations are
what happened. With nothing configured :data:`OBSERVER` is None and an adapter pays one
global read per response.

Other modules count through the small functions below (renditions, the object store);
each costs one global read while metrics are off and never raises. See
docs/observability.md for the metric names.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from .labels import WATCHED_CONSUMERS, consumer_family, outcome_label, reason_label
from .prom import PrometheusMetrics, render_exposition

__all__ = [
    "OBSERVER",
    "FailureSink",
    "Observer",
    "configure",
    "consumer_family",
    "disable",
    "event_logger",
    "events_logged",
    "exposition_text",
    "rendition_built",
    "rendition_cache",
    "store_request",
]

#: One line per refusal and per failure: reason, consumer family and path.
event_logger: Final = logging.getLogger("mediaserve.events")
_own_logger = logging.getLogger("mediaserve")

#: Receives one dict per failed fetch by a watched consumer (the Django health record).
FailureSink = Callable[[Mapping[str, Any]], None]

# Levels of the event lines: a client's miss is news, a refusal is a probe or a broken
# link, the store or a short body is ours to fix.
_LEVELS: Final = {
    "missing": logging.INFO,
    "not_allowed": logging.INFO,
    "throttled": logging.WARNING,
    "served": logging.INFO,  # a 412 or 416
    "refused": logging.WARNING,
    "denied": logging.WARNING,
    "unavailable": logging.ERROR,
    "misrouted": logging.ERROR,
    "short_body": logging.ERROR,
}
_OK_KINDS: Final = frozenset({"served", "redirected", "offloaded", "deferred"})


class Observer:
    """What happens once per response: Prometheus counts, an event line for a refusal or a
    failure, and a failed fetch by Meta or WhatsApp handed to the failure sink."""

    def __init__(
        self,
        *,
        metrics: bool = True,
        log_events: bool = True,
        log_format: str = "text",
        failure_sink: FailureSink | None = None,
    ) -> None:
        if log_format not in ("text", "json"):
            raise ValueError(f"log_format must be 'text' or 'json', not {log_format!r}")
        self.prometheus = PrometheusMetrics() if metrics else None
        self.log_events = log_events
        self.json = log_format == "json"
        self.failure_sink = failure_sink
        self._failed_once = False

    def response(
        self,
        status: int,
        kind: str,
        reason: str,
        delivery: str,
        sent: int,
        started: float,
        headers_at: float,
        user_agent: str | None,
        path: str,
        short: bool = False,
        client: str | None = None,
    ) -> None:
        """Record one finished response (``started``/``headers_at``: ``time.perf_counter``;
        ``client``: the peer address, for the event line)."""
        try:
            consumer = consumer_family(user_agent)
            outcome = outcome_label(kind, status, short)
            prometheus = self.prometheus
            if prometheus is not None:
                now = time.perf_counter()
                prometheus.response(
                    status,
                    outcome,
                    reason_label(kind, reason),
                    consumer,
                    delivery,
                    sent,
                    now - started,
                    max(0.0, headers_at - started),
                )
            if short or status >= 400 or kind not in _OK_KINDS:
                self._failure(status, outcome, kind, reason, consumer, path, client)
        except Exception:
            # Counting must never break a response; say so once per process.
            if not self._failed_once:
                self._failed_once = True
                _own_logger.exception("mediaserve: recording a response failed (reported once)")

    def _failure(
        self,
        status: int,
        outcome: str,
        kind: str,
        reason: str,
        consumer: str,
        path: str,
        client: str | None,
    ) -> None:
        if kind == "deferred":
            return
        label = reason_label(kind, reason) or ("short_body" if outcome == "short_body" else "")
        if not label and status >= 400:
            label = {412: "precondition_failed", 416: "range_not_satisfiable"}.get(status, "")
        detail = reason[:200]
        event = {
            "event": "media_failure" if outcome in ("unavailable", "misrouted", "short_body")
            else "media_refusal",
            "status": status,
            "outcome": outcome,
            "reason": label,
            "detail": detail,
            "consumer": consumer,
            "path": path[:500],
            "client": client,
            "time": time.time(),
        }  # fmt: skip
        if self.log_events:
            level = _LEVELS.get(outcome, logging.WARNING)
            if event_logger.isEnabledFor(level):
                if self.json:
                    event_logger.log(level, "%s", json.dumps(event), extra={"mediaserve": event})
                else:
                    event_logger.log(
                        level,
                        "mediaserve %s %d %s from %s (%s%s) consumer=%s",
                        outcome,
                        status,
                        event["path"],
                        client or "unknown client",
                        label or "-",
                        f": {detail}" if detail else "",
                        consumer,
                        extra={"mediaserve": event},
                    )
        sink = self.failure_sink
        if sink is not None and consumer in WATCHED_CONSUMERS:
            sink(event)


#: The process's observer; None: nothing is recorded (the adapters' only check).
OBSERVER: Observer | None = None


def configure(
    *,
    metrics: bool = True,
    log_events: bool = True,
    log_format: str = "text",
    failure_sink: FailureSink | None = None,
) -> Observer:
    """Install the process's observer (replacing any); returns it.

    For a plain WSGI/ASGI app: ``mediaserve.metrics.configure()`` at startup, then expose
    :func:`mediaserve.metrics.exposition.wsgi_app` (or ``asgi_app``) on a private port. Under
    several worker processes set ``PROMETHEUS_MULTIPROC_DIR`` before the workers start
    (docs/observability.md).
    """
    global OBSERVER
    OBSERVER = Observer(
        metrics=metrics, log_events=log_events, log_format=log_format, failure_sink=failure_sink
    )
    return OBSERVER


def events_logged() -> bool:
    """Whether the observer writes the event line for every refusal and failure: the
    pipeline's own WARNING for the same request would then be a second line (one line per
    refusal), so it says it at DEBUG instead."""
    observer = OBSERVER
    return observer is not None and observer.log_events


def disable() -> None:
    """Remove the observer: adapters record nothing."""
    global OBSERVER
    OBSERVER = None


def exposition_text() -> bytes:
    """The Prometheus text exposition of this process (every worker's in multiprocess mode)."""
    observer = OBSERVER
    return render_exposition(observer.prometheus if observer is not None else None)


def _prometheus() -> PrometheusMetrics | None:
    observer = OBSERVER
    return None if observer is None else observer.prometheus


def rendition_built(preset: str, seconds: float, *, ok: bool = True) -> None:
    """Count one finished rendition build (``ok=False``: it failed) and its wall time."""
    prometheus = _prometheus()
    if prometheus is None:
        return
    try:
        name = prometheus.preset(preset)
        prometheus.child(prometheus.rendition_builds, name, "ok" if ok else "error").inc()
        prometheus.child(prometheus.rendition_seconds, name).observe(max(0.0, seconds))
    except Exception:  # noqa: S110 - counting never breaks the caller
        pass


def rendition_cache(preset: str, hit: bool) -> None:
    """Count one rendition lookup: ``hit`` when it was already built."""
    prometheus = _prometheus()
    if prometheus is None:
        return
    try:
        name = prometheus.preset(preset)
        prometheus.child(prometheus.rendition_cache, name, "hit" if hit else "miss").inc()
    except Exception:  # noqa: S110 - counting never breaks the caller
        pass


_OPERATIONS: Final = frozenset({"head", "get", "range", "put", "list", "delete", "url"})
_ERRORS: Final = frozenset({"unavailable", "not_found", "refused", "changed", "timeout"})


def store_request(operation: str, seconds: float | None, error: str | None = None) -> None:
    """Count one object-store request; ``error``: a short class ("unavailable",
    "not_found", "changed"...) or None when the store answered; ``seconds`` None: count
    only (a read that failed mid-body has no meaningful latency)."""
    prometheus = _prometheus()
    if prometheus is None:
        return
    try:
        op = operation if operation in _OPERATIONS else "other"
        result = "ok" if error is None else (error if error in _ERRORS else "error")
        prometheus.child(prometheus.store_requests, op, result).inc()
        if seconds is not None:
            prometheus.child(prometheus.store_seconds, op).observe(max(0.0, seconds))
    except Exception:  # noqa: S110 - counting never breaks the caller
        pass
