"""The Prometheus side: the metric families, label children cached per label tuple, and
the text exposition (one process, or every gunicorn worker in multiprocess mode).

``prometheus_client`` chooses its value storage when it is imported: with
``PROMETHEUS_MULTIPROC_DIR`` set, every worker writes its counts to memory-mapped files in
that directory and any worker's exposition reads them all. It is therefore imported here
only once metrics are switched on, after the server (or the gunicorn config helper) set
the variable.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections import deque
from typing import Any, Final

__all__ = [
    "CONTENT_TYPE",
    "SECONDS_BUCKETS",
    "PrometheusMetrics",
    "multiprocess_dir",
    "render_exposition",
]

#: Latency buckets: media answers from the page cache take well under a millisecond, a
#: cold store fetch or a large file to a slow client takes seconds to minutes.
SECONDS_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0,
)  # fmt: skip
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Preset names beyond this many are folded into "other": a label stays bounded even if a
#: caller passes user input.
MAX_PRESETS: Final = 64
#: Seconds between two flushes of the responses recorded in memory into prometheus_client's
#: values. One update of a multiprocess value is a lock, a getpid() system call and an mmap
#: write (~5 us); six per response cost ~15 % of a 10 KiB request's CPU under gunicorn
#: (bench/metrics_overhead.py). Appending a tuple and adding them up once a second costs a
#: few per cent. An exposition flushes first, so this process's counts are never stale; other
#: workers' (multiprocess mode) are at most this old.
FLUSH_SECONDS: Final = 1.0

_Item = tuple[str, str, str, str, str, int, float, float]


def multiprocess_dir() -> str | None:
    """The multiprocess directory, when the environment names one that exists."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


class PrometheusMetrics:
    """Every metric mediaserve exports, created unregistered (``registry=None``): the
    exposition builds its own registry, so two instances (tests, a reload) never clash on
    the process-wide default registry."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.responses = Counter(
            "mediaserve_responses",
            "Media responses by status, outcome, reason class, consumer family and delivery.",
            ["status", "outcome", "reason", "consumer", "delivery"],
            registry=None,
        )
        self.sent_bytes = Counter(
            "mediaserve_sent_bytes",
            "Body bytes handed to the server (sendfile: as far as the file held them), by"
            " delivery path and consumer family.",
            ["delivery", "consumer"],
            registry=None,
        )
        self.duration = Histogram(
            "mediaserve_response_duration_seconds",
            "From the request reaching mediaserve to the end of its body.",
            ["delivery"],
            buckets=SECONDS_BUCKETS,
            registry=None,
        )
        self.first_byte = Histogram(
            "mediaserve_time_to_first_byte_seconds",
            "From the request reaching mediaserve to its status and headers handed to the server.",
            ["delivery"],
            buckets=SECONDS_BUCKETS,
            registry=None,
        )
        self.store_requests = Counter(
            "mediaserve_store_requests",
            "Object-store requests by operation and result (ok or an error class).",
            ["operation", "result"],
            registry=None,
        )
        self.store_seconds = Histogram(
            "mediaserve_store_request_seconds",
            "Object-store request latency by operation.",
            ["operation"],
            buckets=SECONDS_BUCKETS,
            registry=None,
        )
        self.rendition_builds = Counter(
            "mediaserve_rendition_builds",
            "Rendition builds by preset and result (ok, error).",
            ["preset", "result"],
            registry=None,
        )
        self.rendition_seconds = Histogram(
            "mediaserve_rendition_build_seconds",
            "Rendition build time by preset.",
            ["preset"],
            buckets=SECONDS_BUCKETS,
            registry=None,
        )
        self.rendition_cache = Counter(
            "mediaserve_rendition_cache",
            "Rendition lookups by preset and result (hit: already built, miss: needs a build).",
            ["preset", "result"],
            registry=None,
        )
        self.families = (
            self.responses, self.sent_bytes, self.duration, self.first_byte,
            self.store_requests, self.store_seconds,
            self.rendition_builds, self.rendition_seconds, self.rendition_cache,
        )  # fmt: skip
        # labels() validates and locks on every call; a dict lookup per response is what
        # keeps the per-request cost small (bench/metrics_overhead.py).
        self._children: dict[tuple[Any, ...], Any] = {}
        self._presets: set[str] = set()
        # Responses not yet added to the values (appends and pops are thread-safe).
        self._pending: deque[_Item] = deque()
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        """A forked child starts with no pending responses (its parent's are its parent's)
        and no flusher thread (threads do not survive fork)."""
        self._pending = deque()
        self._flush_lock = threading.Lock()
        self._flusher = None
        self._wake = threading.Event()

    def _start_flusher(self) -> None:
        with self._flush_lock:
            if self._flusher is not None and self._flusher.is_alive():
                return
            self._flusher = threading.Thread(
                target=self._flush_forever, name="mediaserve-metrics", daemon=True
            )
            self._flusher.start()

    def _flush_forever(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Add the pending responses to the metric values (summed per label set)."""
        pending = self._pending
        if not pending:
            return
        with self._flush_lock:
            counts: dict[tuple[str, str, str, str, str], int] = {}
            sent_bytes: dict[tuple[str, str], int] = {}
            durations: dict[str, list[float]] = {}
            first_bytes: dict[str, list[float]] = {}
            while True:
                try:
                    status, outcome, reason, consumer, delivery, sent, took, first = (
                        pending.popleft()
                    )
                except IndexError:
                    break
                key = (status, outcome, reason, consumer, delivery)
                counts[key] = counts.get(key, 0) + 1
                if sent:
                    where = (delivery, consumer)
                    sent_bytes[where] = sent_bytes.get(where, 0) + sent
                durations.setdefault(delivery, []).append(took)
                first_bytes.setdefault(delivery, []).append(first)
            child = self.child
            for key, n in counts.items():
                child(self.responses, *key).inc(n)
            for where, n in sent_bytes.items():
                child(self.sent_bytes, *where).inc(n)
            for delivery, values in durations.items():
                _observe_many(child(self.duration, delivery), values)
            for delivery, values in first_bytes.items():
                _observe_many(child(self.first_byte, delivery), values)

    def child(self, family: Any, *values: str) -> Any:
        key = (id(family), *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = family.labels(*values)
        return found

    def response(
        self,
        status: int,
        outcome: str,
        reason: str,
        consumer: str,
        delivery: str,
        sent: int,
        duration: float,
        first_byte: float,
    ) -> None:
        self._pending.append(
            (str(status), outcome, reason, consumer, delivery, sent, duration, first_byte)
        )
        flusher = self._flusher
        if flusher is None or not flusher.is_alive():
            self._start_flusher()

    def preset(self, name: str) -> str:
        if name in self._presets:
            return name
        if len(self._presets) >= MAX_PRESETS:
            return "other"
        self._presets.add(name)
        return name

    def collect_into(self, registry: Any) -> None:
        for family in self.families:
            registry.register(family)


def _observe_many(histogram: Any, values: list[float]) -> None:
    """``histogram.observe`` for each value, as one update per bucket touched.

    Reaches into prometheus_client's ``Histogram`` child (``_upper_bounds``, ``_buckets``,
    ``_sum``, unchanged since 0.4); if they are missing, falls back to ``observe``.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values:
            histogram.observe(value)
        return
    hits: dict[int, int] = {}
    for value in values:
        index = bisect_left(bounds, value)  # the first bucket whose "le" bound holds it
        hits[index] = hits.get(index, 0) + 1
    for index, n in hits.items():
        buckets[min(index, len(buckets) - 1)].inc(n)
    total.inc(sum(values))


def render_exposition(metrics: PrometheusMetrics | None) -> bytes:
    """The text exposition: every worker's counts in multiprocess mode, else this
    process's (empty when metrics are off in this process)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    folder = multiprocess_dir()
    if folder is not None:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    elif metrics is not None:
        metrics.collect_into(registry)
    if metrics is not None:
        metrics.flush()  # this process's pending responses (also its files in multiprocess mode)
    return bytes(generate_latest(registry))
