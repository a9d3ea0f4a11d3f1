"""Renditions in a Django project: the presets of ``MEDIASERVE["RENDITIONS"]``, their URLs
(``rendition_url``), building them (eagerly on upload, by ``mediaserve renditions build``,
lazily on a first request) and serving them through the media pipeline.

Serving: ``get_pipeline`` hands back a :class:`RenditionPipeline`, which answers names under
``MEDIA_URL + "renditions/"`` with the same ``Pipeline.decide`` as every media file (Range,
ETag, offload, redirect to the store, zero-copy) but from a mount whose Cache-Control is
``public, max-age=31536000, immutable``. A rendition that is not there yet is built once,
then served; everything else goes to the ordinary media pipeline unchanged.

Single flight: a build holds a lock per rendition (``fcntl`` on a lock file beside local
media; ``cache.add`` in ``RENDITION_CACHE`` when media are in object storage, so hosts that
share only the bucket and Redis build once), looks again whether the rendition appeared
while it waited, and only then decodes. ``RENDITION_CONCURRENCY`` bounds the decodes of one
process; a request that waits longer than ``RENDITION_WAIT`` gets a 503 with Retry-After.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings

from ..access.rules import PUBLIC, Access
from ..http.plan import ResponsePlan, not_found, text_plan
from ..pipeline.decide import Pipeline
from ..pipeline.mount import Mount
from ..pipeline.request import Outcome, Request, decode_path
from ..ratelimit.limiter import RateLimiter
from ..renditions.engine import MAX_SOURCE_BYTES, RenditionError, render
from ..renditions.keys import (
    RenditionName,
    digest_of,
    parse_name,
    rendition_key,
    rendition_name,
)
from ..renditions.negotiate import choose_format
from ..renditions.presets import BUILTIN_PRESETS, EXTENSIONS, Preset, PresetError, preset_from_dict
from ..renditions.store import (
    IMMUTABLE,
    BucketStore,
    FileLocks,
    LocalStore,
    Locks,
    Store,
    StoreError,
)
from ..sources.base import LookupError_, NotFound, Refused
from ..sources.remote import StoreSource, Unavailable
from .conf import SettingsError

__all__ = [
    "BuildResult",
    "RenditionPipeline",
    "RenditionUnavailable",
    "Renditions",
    "read_presets",
    "renditions_for",
]

logger = logging.getLogger("mediaserve.renditions")

#: Digests remembered per process (name, size, mtime, identity -> SHA-256): rendition_url
#: in a template of 100 products costs 100 lookups, not 100 reads of the photos.
_DIGEST_CACHE_SIZE: Final = 4096
#: A source that failed to build is not decoded again for this long (per process): an
#: undecodable upload requested by every visitor costs one decode a minute.
_FAILURE_TTL: Final = 60.0
_BUSY_RETRY_AFTER: Final = "5"


class RenditionUnavailable(Exception):
    """``rendition_url`` cannot name a rendition: unknown preset, missing or private
    source, renditions not configured. The message says which and what to do."""


class _Busy(Exception):
    """No build slot, or another process's build did not finish, within RENDITION_WAIT."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """One rendition of one source: ``built`` (written now), ``present`` (already there),
    or ``failed`` with the reason."""

    name: str
    preset: str
    fmt: str
    status: str
    detail: str = ""


def read_presets(values: dict[str, Any]) -> dict[str, Preset]:
    """The built-in presets with ``RENDITIONS`` over them; SettingsError names the preset,
    the field and the fix."""
    presets = dict(BUILTIN_PRESETS)
    for name, fields in values["RENDITIONS"].items():
        where = f"MEDIASERVE['RENDITIONS'][{name!r}]"
        if not isinstance(name, str):
            raise SettingsError(f"{where}: preset names are strings, e.g. 'thumb-300'")
        if fields is None:
            presets.pop(name, None)  # a built-in withdrawn
            continue
        try:
            presets[name] = preset_from_dict(name, fields, BUILTIN_PRESETS.get(name))
        except (PresetError, TypeError) as exc:
            raise SettingsError(f"{where}: {exc}") from None
    return presets


class CacheLocks:
    """Locks in a Django cache (``cache.add`` is atomic in Redis and Memcached): the one
    thing hosts that share a bucket also share. A lock expires after ``ttl`` seconds, so a
    host that died mid-build blocks the others for that long at most."""

    def __init__(self, alias: str, ttl: float) -> None:
        self.alias = alias
        self.ttl = ttl

    @contextlib.contextmanager
    def hold(self, key: str, timeout: float) -> Iterator[bool]:
        from django.core.cache import caches

        cache = caches[self.alias]
        name = f"mediaserve:rendition-lock:{key}"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        held = False
        while True:
            if cache.add(name, token, timeout=int(self.ttl) + 1):
                held = True
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        try:
            yield held
        finally:
            if held and cache.get(name) == token:
                cache.delete(name)


class Renditions:
    """The renditions of one media mount (MEDIA_ROOT or the bucket): presets, store,
    locks, the immutable mount they are served from, and the builds."""

    def __init__(
        self,
        media: Mount,
        access: Access | None,
        limiter: RateLimiter | None,
        values: dict[str, Any],
        presets: dict[str, Preset],
        store: Store,
        locks: Locks,
    ) -> None:
        self.media = media
        self.access = access
        self.presets = presets
        self.store = store
        self.locks = locks
        self.directory: str = values["RENDITION_DIRECTORY"]
        self.lazy: bool = values["RENDITION_LAZY"]
        self.wait = float(values["RENDITION_WAIT"])
        self.max_pixels: int = values["RENDITION_MAX_PIXELS"]
        self.engine: str | None = values["RENDITION_ENGINE"]
        self.cache_alias: str = values["RENDITION_CACHE"]
        self.base_url: str | None = values["RENDITION_BASE_URL"]
        #: The media mount with the immutable Cache-Control: renditions never change.
        self.mount = dataclasses.replace(
            media, options=dataclasses.replace(media.options, cache_control=IMMUTABLE)
        )
        # The rendition steps: the media pipeline's rate limit, no access rules (only
        # public media have renditions), the immutable mount.
        self.pipeline = Pipeline(self.mount, None, limiter)
        self._slots = threading.BoundedSemaphore(values["RENDITION_CONCURRENCY"])
        self._prefix = f"{self.directory}/".encode()
        self._digests: OrderedDict[tuple[str, int, int, str], str] = OrderedDict()
        self._failures: dict[str, tuple[float, RenditionError]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Renditions({self.store!r}, presets={sorted(self.presets)})"

    # -- names and sources ------------------------------------------------------------
    def is_public(self, source_name: str) -> bool:
        """Renditions are public, immutable URLs: only public media get them."""
        return self.access is None or self.access.policy_for(source_name) == PUBLIC

    def preset(self, name: str) -> Preset:
        try:
            return self.presets[name]
        except KeyError:
            raise RenditionUnavailable(
                f"no rendition preset {name!r}; declared: {', '.join(sorted(self.presets))}"
                " (add it to MEDIASERVE['RENDITIONS'])"
            ) from None

    def read_source(self, name: str) -> tuple[bytes, str]:
        """The source's bytes and SHA-256, through the media mount's own lookup (so the
        names it refuses, dotfiles or traversal, are refused here too)."""
        resource = self.media.source.lookup(name, whole=True)
        try:
            meta = resource.meta
            if meta.size > MAX_SOURCE_BYTES:
                raise RenditionUnavailable(
                    f"{name!r} is {meta.size:,} bytes, over the {MAX_SOURCE_BYTES:,} a"
                    " rendition source may have"
                )
            data = b"".join(resource.read(0, meta.size, self.media.chunk_size))
        finally:
            resource.close()
        if len(data) != meta.size:
            raise Unavailable(f"{name!r} changed while it was read")
        digest = digest_of(data)
        self._remember(meta.name, meta.size, meta.mtime_ns, meta.identity, digest)
        return data, digest

    def digest(self, name: str) -> str:
        """The source's SHA-256: from memory or the Django cache when the file's size,
        time and identity are unchanged, else read and hashed once."""
        resource = self.media.source.lookup(name, whole=False)
        try:
            meta = resource.meta
        finally:
            resource.close()
        version = (meta.name, meta.size, meta.mtime_ns, meta.identity)
        with self._lock:
            found = self._digests.get(version)
            if found is not None:
                self._digests.move_to_end(version)
                return found
        shared_key = (
            "mediaserve:rendition-digest:" + hashlib.sha256(repr(version).encode()).hexdigest()
        )
        shared = self._cache_get(shared_key)
        if isinstance(shared, str):
            self._remember(*version, shared)
            return shared
        _data, digest = self.read_source(name)
        self._cache_set(shared_key, digest)
        return digest

    def _remember(self, name: str, size: int, mtime_ns: int, identity: str, digest: str) -> None:
        with self._lock:
            self._digests[(name, size, mtime_ns, identity)] = digest
            while len(self._digests) > _DIGEST_CACHE_SIZE:
                self._digests.popitem(last=False)

    def _cache_get(self, key: str) -> Any:
        from django.core.cache import caches

        try:
            return caches[self.cache_alias].get(key)
        except Exception:  # a cache that is down costs a re-read, not the page
            logger.warning(
                "mediaserve: cache %r unreachable for rendition digests", self.cache_alias
            )
            return None

    def _cache_set(self, key: str, value: str) -> None:
        from django.core.cache import caches

        with contextlib.suppress(Exception):
            caches[self.cache_alias].set(key, value, timeout=None)

    def name_for(self, source_name: str, preset: Preset, fmt: str | None = None) -> str:
        """The rendition's name relative to the media root (see ``keys``)."""
        if fmt is not None and fmt not in preset.formats:
            raise RenditionUnavailable(
                f"preset {preset.name!r} has no format {fmt!r}; it has {', '.join(preset.formats)}"
            )
        return rendition_name(source_name, preset, self.digest(source_name), fmt, self.directory)

    # -- building ---------------------------------------------------------------------
    def build_one(
        self, source_name: str, data: bytes, digest: str, preset: Preset, fmt: str, force: bool
    ) -> BuildResult:
        """One rendition, once: under its lock, and only if it is still missing."""
        target = rendition_name(source_name, preset, digest, fmt, self.directory)
        if not force and self.store.exists(target):
            return BuildResult(target, preset.name, fmt, "present")
        lock_key = f"{rendition_key(digest, preset, source_name)}.{EXTENSIONS[fmt]}"
        with self.locks.hold(lock_key, self.wait) as held:
            if not held:
                raise _Busy(f"another build of {target} did not finish in {self.wait:g} s")
            if not force and self.store.exists(target):
                return BuildResult(target, preset.name, fmt, "present")
            failed = self._failures.get(lock_key)
            if failed is not None and time.monotonic() - failed[0] < _FAILURE_TTL and not force:
                raise failed[1]
            if not self._slots.acquire(timeout=self.wait):
                raise _Busy(f"no build slot free in {self.wait:g} s (RENDITION_CONCURRENCY)")
            started = time.perf_counter()
            try:
                rendered = render(data, preset, fmt, max_pixels=self.max_pixels, engine=self.engine)
            except RenditionError as exc:
                self._failures[lock_key] = (time.monotonic(), exc)
                raise
            finally:
                self._slots.release()
            self.store.write(target, rendered.data, rendered.content_type)
        logger.info(
            "mediaserve built rendition %s (%dx%d, %d bytes, quality %s) in %.0f ms",
            target,
            rendered.width,
            rendered.height,
            len(rendered.data),
            rendered.quality,
            (time.perf_counter() - started) * 1000,
            extra={"mediaserve_rendition": target},
        )
        return BuildResult(target, preset.name, fmt, "built")

    def build(
        self,
        source_name: str,
        presets: Iterable[str] | None = None,
        *,
        force: bool = False,
    ) -> list[BuildResult]:
        """Every format of every preset (or of ``presets``) for one source. Failures are
        results, not exceptions: one bad photo must not stop a batch."""
        chosen = (
            [self.preset(p) for p in presets]
            if presets is not None
            else list(self.presets.values())
        )
        if not self.is_public(source_name):
            return [
                BuildResult(
                    source_name, p.name, f, "failed", "not public: renditions are public URLs"
                )
                for p in chosen
                for f in p.formats
            ]
        try:
            data, digest = self.read_source(source_name)
        except (LookupError_, Unavailable, RenditionUnavailable) as exc:
            reason = getattr(exc, "reason", str(exc))
            return [
                BuildResult(source_name, p.name, f, "failed", reason)
                for p in chosen
                for f in p.formats
            ]
        results = []
        for preset in chosen:
            for fmt in preset.formats:
                try:
                    results.append(self.build_one(source_name, data, digest, preset, fmt, force))
                except (RenditionError, StoreError, _Busy) as exc:
                    results.append(BuildResult(source_name, preset.name, fmt, "failed", str(exc)))
        return results

    # -- serving ----------------------------------------------------------------------
    def claims(self, media: Mount, request: Request) -> str | None:
        """The decoded name when ``request`` is for a rendition, else None."""
        raw = media.match(request.path)
        if raw is None or not raw.startswith(self._prefix):
            return None
        try:
            return decode_path(raw, request.raw)
        except Refused:
            return None  # the media pipeline refuses it, with its log line

    def decide(self, request: Request, name: str) -> Outcome | None:
        """The outcome for a rendition request: served from the immutable mount, built
        first when missing (and lazy building is on)."""
        inner = self.pipeline
        readings = parse_name(name, self.presets, self.directory)
        fixed = next((r for r in readings if r.fmt is not None), None)
        negotiated = next((r for r in readings if r.fmt is None), None)
        if fixed is not None or not readings:
            outcome = inner.decide(request)
            if outcome is None or outcome.kind != "missing" or fixed is None:
                return outcome
            failure = self._ensure(fixed, fixed.fmt or fixed.preset.fallback, request.method)
            if failure is None:
                return inner.decide(request)
            if negotiated is None or failure.plan.status != 404:
                return failure
        assert negotiated is not None
        fmt = choose_format(negotiated.preset, request.accept)
        target = (
            f"{self.directory}/{negotiated.preset.name}/{negotiated.key}/"
            f"{negotiated.source_name}.{EXTENSIONS[fmt]}"
        )
        variant = request._replace(path=self.mount.prefix.encode() + target.encode(), raw=None)
        outcome = inner.decide(variant)
        if outcome is not None and outcome.kind == "missing":
            failure = self._ensure(negotiated, fmt, request.method)
            outcome = inner.decide(variant) if failure is None else failure
        return None if outcome is None else _with_vary(outcome)

    def _ensure(self, reading: RenditionName, fmt: str, method: str) -> Outcome | None:
        """Build the rendition a request found missing; None once it exists, else the
        answer: 404 (not lazy, private, absent or changed source), 413/415/422 (the
        source cannot become this rendition), 503 (busy, store down)."""
        if not self.lazy or not self.is_public(reading.source_name):
            return Outcome(not_found(method), kind="missing", reason="rendition not built")
        try:
            data, digest = self.read_source(reading.source_name)
        except (NotFound, Refused):
            return Outcome(not_found(method), kind="missing", reason="no such source")
        except (Unavailable, LookupError_, RenditionUnavailable) as exc:
            return _error(503, method, f"the source cannot be read now: {exc}", "unavailable")
        if not reading.matches(digest):
            # An old URL of a replaced photo (never built, or cleaned), or a forged key:
            # nothing to build, and nothing a client can make us decode.
            return Outcome(not_found(method), kind="missing", reason="stale rendition key")
        try:
            self.build_one(reading.source_name, data, digest, reading.preset, fmt, False)
        except RenditionError as exc:
            logger.warning("mediaserve: rendition of %r refused: %s", reading.source_name, exc)
            return _error(exc.status, method, str(exc), "refused")
        except _Busy as exc:
            return _error(503, method, str(exc), "unavailable", busy=True)
        except StoreError as exc:
            logger.error("mediaserve: rendition not stored: %s", exc)
            return _error(503, method, "the rendition could not be stored", "unavailable")
        return None


def _with_vary(outcome: Outcome) -> Outcome:
    plan = outcome.plan
    return outcome._replace(
        plan=dataclasses.replace(plan, headers=(*plan.headers, ("Vary", "Accept")))
    )


def _error(status: int, method: str, text: str, kind: Any, *, busy: bool = False) -> Outcome:
    headers: tuple[tuple[str, str], ...] = (
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    )
    if busy:
        headers = (*headers, ("Retry-After", _BUSY_RETRY_AFTER))
    body = f"{text}\n".encode("utf-8", "replace")
    plan: ResponsePlan = text_plan(status, body, method, headers)
    return Outcome(plan, kind=kind, reason=text)


@dataclass(frozen=True)
class RenditionPipeline(Pipeline):
    """The media pipeline with renditions: names under the rendition directory are
    answered by :class:`Renditions`, everything else by ``Pipeline.decide`` unchanged."""

    renditions: Renditions | None = None

    def decide(self, request: Request) -> Outcome | None:
        renditions = self.renditions
        if renditions is not None:
            name = renditions.claims(self.mount, request)
            if name is not None:
                return renditions.decide(request, name)
        return super().decide(request)


def renditions_for(
    media: Mount, access: Access | None, limiter: RateLimiter | None, values: dict[str, Any]
) -> Renditions:
    """The renditions of a media mount for validated settings ``values``."""
    presets = read_presets(values)
    source = media.source
    store: Store
    locks: Locks
    if isinstance(source, StoreSource):
        driver = source.driver
        if not (hasattr(driver, "client") and hasattr(driver, "settings")):
            raise SettingsError(
                "renditions in object storage need an S3 bucket (MEDIASERVE['STORAGE'] with"
                " BACKEND 's3', or a django-storages S3 alias); set"
                " MEDIASERVE['RENDITION_LAZY'] = False and build them elsewhere otherwise"
            )
        store = BucketStore(driver)
        locks = CacheLocks(
            values["RENDITION_CACHE"], ttl=max(60.0, 3 * float(values["RENDITION_WAIT"]))
        )
    else:
        root = str(getattr(source, "root", "") or getattr(settings, "MEDIA_ROOT", ""))
        store = LocalStore(root)
        locks = FileLocks(f"{store.root}/{values['RENDITION_DIRECTORY']}/.locks")
    return Renditions(media, access, limiter, values, presets, store, locks)
