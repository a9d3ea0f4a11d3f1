"""Observability settings, the observer installed from them, and the record of recent failed
fetches by Meta and WhatsApp, kept in Django's cache so Redis shares it across workers and
hosts. The pages that show it are in ``health.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.core.cache import InvalidCacheBackendError, caches
from django.core.signals import setting_changed

from .. import metrics
from .conf import SettingsError, read_values

__all__ = [
    "HealthRecord",
    "ObservabilitySettings",
    "health_record",
    "install",
    "observability_settings",
]

logger = logging.getLogger("mediaserve")

#: Cache keys: a counter, and one slot per entry (``seq % size``).
KEY_PREFIX: Final = "mediaserve:health:"
#: How long an entry is kept when nothing overwrites it (seconds): a week of quiet still
#: shows last week's failures.
ENTRY_TIMEOUT: Final = 7 * 24 * 3600
#: Failures queued for the cache writer at most; past it (the cache is down) new ones drop.
QUEUE_LIMIT: Final = 1000


@dataclass(frozen=True)
class ObservabilitySettings:
    metrics: bool
    token: str | None
    log_events: bool
    log_format: str
    record: int
    cache: str


def observability_settings() -> ObservabilitySettings:
    """The METRICS*, LOG* and HEALTH* keys of MEDIASERVE, checked."""
    values = read_values()
    log_format = values["LOG_FORMAT"].strip().lower()
    if log_format not in ("text", "json"):
        raise SettingsError(
            f"MEDIASERVE['LOG_FORMAT'] must be 'text' or 'json', not {values['LOG_FORMAT']!r}"
        )
    record = values["HEALTH_RECORD"]
    if not 0 <= record <= 10_000:
        raise SettingsError(
            f"MEDIASERVE['HEALTH_RECORD'] must be between 0 (off) and 10000 entries, not {record}"
        )
    return ObservabilitySettings(
        metrics=values["METRICS"],
        token=values["METRICS_TOKEN"] or None,
        log_events=values["LOG_EVENTS"],
        log_format=log_format,
        record=record,
        cache=values["HEALTH_CACHE"],
    )


class HealthRecord:
    """The last ``size`` failed fetches by watched consumers, as a ring in a Django cache.

    Each entry takes the next number from one atomic counter (``cache.incr``: INCR in Redis)
    and is written to slot ``number % size``: workers and hosts never overwrite each other's
    fresh entries, and the record never grows. Writes happen on one background thread per
    process, so a slow or absent cache never delays a response (or the event loop).
    """

    def __init__(self, alias: str, size: int) -> None:
        self.alias = alias
        self.size = size
        self._queue: queue.Queue[Mapping[str, Any]] = queue.Queue(QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._warned = False

    def add(self, event: Mapping[str, Any]) -> None:
        """Queue one failure (the observer's failure sink)."""
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._start()
        # Full: the cache is not keeping up (or is down); the writer says so once.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(dict(event))

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._queue = queue.Queue(QUEUE_LIMIT)  # a forked child starts afresh
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._write_forever, name="mediaserve-health", daemon=True
            )
            self._thread.start()

    def _write_forever(self) -> None:
        while True:
            event = self._queue.get()
            try:
                self.write(event)
            except Exception:
                if not self._warned:
                    self._warned = True
                    logger.exception(
                        "mediaserve: cannot write the health record to cache %r (reported once)",
                        self.alias,
                    )

    def write(self, event: Mapping[str, Any]) -> None:
        """Store one entry now (the writer thread; tests and tools may call it directly)."""
        cache = caches[self.alias]
        counter = KEY_PREFIX + "seq"
        cache.add(counter, 0, timeout=None)
        try:
            number = int(cache.incr(counter))
        except ValueError:  # evicted between add and incr
            cache.set(counter, 1, timeout=None)
            number = 1
        cache.set(
            f"{KEY_PREFIX}{number % self.size}", {**event, "seq": number}, timeout=ENTRY_TIMEOUT
        )

    def recent(self, consumer: str | None = None) -> list[dict[str, Any]]:
        """The entries, newest first (``consumer``: one family only)."""
        cache = caches[self.alias]
        keys = [f"{KEY_PREFIX}{slot}" for slot in range(self.size)]
        found = cache.get_many(keys)
        entries = [e for e in found.values() if isinstance(e, dict)]
        if consumer is not None:
            entries = [e for e in entries if e.get("consumer") == consumer]
        entries.sort(key=lambda e: int(e.get("seq", 0)), reverse=True)
        return entries

    def clear(self) -> None:
        cache = caches[self.alias]
        cache.delete_many([KEY_PREFIX + "seq", *(f"{KEY_PREFIX}{s}" for s in range(self.size))])


_record: HealthRecord | None = None


def health_record() -> HealthRecord | None:
    """The process's record (None when HEALTH_RECORD is 0)."""
    global _record
    wanted = observability_settings()
    if wanted.record == 0:
        return None
    if _record is None or (_record.alias, _record.size) != (wanted.cache, wanted.record):
        _record = HealthRecord(wanted.cache, wanted.record)
    return _record


_WATCHED_SETTINGS: Final = frozenset({"MEDIASERVE", "CACHES"})


def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in _WATCHED_SETTINGS:
        install()


def install() -> None:
    """Install the observer the settings ask for (``MediaserveConfig.ready``, and again when
    ``override_settings`` or a deployment tool changes MEDIASERVE or CACHES).

    Bad values are left for the system checks (mediaserve.E001/E080) to report; a missing
    prometheus_client with METRICS on is mediaserve.E081.
    """
    setting_changed.connect(_settings_changed, dispatch_uid="mediaserve-observability")
    try:
        wanted = observability_settings()
        if wanted.record:
            caches[wanted.cache]
    except (SettingsError, InvalidCacheBackendError):
        return
    record = health_record() if wanted.record else None
    if not (wanted.metrics or wanted.log_events or record is not None):
        metrics.disable()
        return
    try:
        metrics.configure(
            metrics=wanted.metrics,
            log_events=wanted.log_events,
            log_format=wanted.log_format,
            failure_sink=record.add if record is not None else None,
        )
    except ImportError:
        metrics.configure(
            metrics=False,
            log_events=wanted.log_events,
            log_format=wanted.log_format,
            failure_sink=record.add if record is not None else None,
        )
