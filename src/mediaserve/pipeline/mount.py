"""A mount: a URL prefix, a source and how its files are answered.

One class for local files and object storage alike. ``Mount.respond`` is the pipeline's
last step (look up, then plan, offload or redirect); it is called by ``Pipeline.decide``
only, after the prefix, the decoding, the rate limit and the access decision.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..access.rules import PRIVATE_CACHE_CONTROL
from ..http.plan import (
    ALLOWED_METHODS,
    FileMeta,
    FilePart,
    RequestHeaders,
    ResponsePlan,
    ServeOptions,
    not_found,
    plan,
)
from ..sources.base import LookupError_, NotFound, OpenFile, Refused, Source
from ..sources.local import DEFAULT_HOT, HotFile, HotLimits, LocalSource, safe_parts
from ..sources.remote import StoreSource, Unavailable
from .offload import (
    Offload,
    announced,
    file_offload_plan,
    loop_detected,
    proxy_would_misanswer,
    store_offload_plan,
)
from .request import (
    Outcome,
    Request,
    decode_path,
    log_refusal,
    logger,
    match_prefix,
    normalise_prefix,
)
from .store import StoreOptions, redirect_cache_control, redirect_plan, unavailable_plan

__all__ = ["Mount"]

_PLAIN = RequestHeaders()
#: ``Pipeline``'s access decision for a resolved name: the refusal (or deferral) to answer,
#: else whether the name is admitted as private.
Readmit = Callable[[Request, str], "Outcome | bool"]
# (private, method, name, size, mtime_ns, identity)
_PlanKey = tuple[bool, str, str, int, int, str]


@dataclass(frozen=True)
class Mount:
    """Files of ``source`` served under the URL path ``prefix`` (``"/media/"``).

    ``offload``: a proxy reads local files itself (X-Accel-Redirect / X-Sendfile).
    ``store``: the source is an object store (``StoreSource``), with its mode.
    """

    prefix: str
    source: Source
    options: ServeOptions
    offload: Offload | None = None
    store: StoreOptions | None = None
    # The options for a private or signed name: ``Cache-Control: private, no-store``.
    private_options: ServeOptions = field(init=False, repr=False, compare=False)
    _prefix_bytes: bytes = field(init=False, repr=False, compare=False)
    chunk_size: int = field(init=False, repr=False, compare=False)
    # Plans for plain GET/HEAD (no conditional or Range header) keyed by file version and
    # privacy: the common request then skips planning. Bounded; cleared wholesale when full.
    _plans: dict[_PlanKey, ResponsePlan] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    # The source's hot cache (small public files in memory), when it has one and this mount
    # may use it: a local source, not an object store.
    hot_source: LocalSource | None = field(init=False, default=None, repr=False, compare=False)
    # Offload mismatches already logged (each is logged once per process, not per request).
    _warned: set[str] = field(init=False, default_factory=set, repr=False, compare=False)
    # When an offload loop was last logged at ERROR (monotonic seconds).
    _loop_logged: list[float] = field(
        init=False, default_factory=lambda: [-math.inf], repr=False, compare=False
    )
    #: Seconds between two ERROR lines for offload loops (the others are logged at INFO).
    loop_log_interval = 60.0
    plan_cache_size = 4096

    def __post_init__(self) -> None:
        if self.store is not None and not isinstance(self.source, StoreSource):
            raise TypeError("a mount with store options needs a StoreSource")
        private = dataclasses.replace(self.options, cache_control=PRIVATE_CACHE_CONTROL)
        object.__setattr__(self, "private_options", private)
        object.__setattr__(self, "_prefix_bytes", self.prefix.encode("utf-8"))
        # Read size for adapters that copy the body (a store reads in larger pieces): fixed
        # per mount, so not worked out per request.
        chunk = self.options.chunk_size
        if isinstance(self.source, StoreSource):
            chunk = max(chunk, self.source.chunk_size)
        object.__setattr__(self, "chunk_size", chunk)
        source = self.source
        if isinstance(source, LocalSource) and source.hot is not None and self.store is None:
            object.__setattr__(self, "hot_source", source)

    @classmethod
    def create(
        cls,
        root_or_source: str | os.PathLike[str] | Source,
        prefix: str = "/",
        options: ServeOptions | None = None,
        offload: Offload | None = None,
        store: StoreOptions | None = None,
        hot: HotLimits | None = DEFAULT_HOT,
    ) -> Mount:
        """A mount for a directory (a ``LocalSource`` with the options' dotfile and symlink
        rules and ``hot`` as its hot cache's limits, None for none) or for any source."""
        opts = options or ServeOptions()
        if isinstance(root_or_source, (str, os.PathLike)):
            source: Source = LocalSource(
                root_or_source,
                allow_dotfiles=opts.allow_dotfiles,
                follow_symlinks=opts.follow_symlinks,
                hot=hot,
            )
        else:
            source = root_or_source
        return cls(normalise_prefix(prefix), source, opts, offload, store)

    def match(self, path: bytes) -> bytes | None:
        """The mount-relative name for ``path`` (see ``match_prefix``)."""
        return match_prefix(self._prefix_bytes, path)

    def misrouted(self, request: Request) -> Outcome | None:
        """The answer for a path under the offload prefix that reached the app through the
        proxy (``X-Mediaserve-Offload`` set), else None.

        nginx follows an X-Accel-Redirect to whatever location matches it; without an
        ``internal`` location for the prefix that is ``location /`` and the request comes
        back: a 502 naming the fix, logged at ERROR. Only a URI this app could have written
        counts as that loop: a GET or HEAD of a name that decodes and passes the lookup's
        own name checks (what ``quote_uri`` makes of a served name). Anything else under the
        prefix (``/_mediaserve/../x``, ``%2f``, a POST) is a client's request: a 404 logged
        at INFO, so nobody can fill the error log by asking. Even a real loop is logged at
        ERROR at most once a minute (the rest at INFO): every media request of a broken
        set-up loops, and one line says it. A client asking for ``/_mediaserve/x`` without
        the proxy's header gets the ordinary answer for that path.
        """
        offload = self.offload
        if offload is None or request.via is None or offload.method == "x-sendfile":
            return None
        rest = match_prefix(offload.internal_prefix.encode(), request.path)
        if rest is None:
            return None
        shown = request.path[:200].decode("utf-8", "replace")
        if not self._could_be_ours(request, rest):
            logger.info(
                "mediaserve 404 %r: under the offload prefix %s but not an offload URI this app"
                " writes (a client's request)",
                shown,
                offload.internal_prefix,
            )
            reason = "a client's request under the offload prefix"
            return Outcome(not_found(request.method), kind="refused", reason=reason)
        now = time.monotonic()
        level = logging.INFO
        if now - self._loop_logged[0] >= self.loop_log_interval:
            self._loop_logged[0] = now
            level = logging.ERROR
        logger.log(
            level,
            "mediaserve: %s came back to the app through the proxy: the proxy has no internal"
            " location for %s (regenerate it with `mediaserve config`)",
            shown,
            offload.internal_prefix,
        )
        return Outcome(loop_detected(request.method), kind="misrouted", reason="offload loop")

    def _could_be_ours(self, request: Request, rest: bytes) -> bool:
        """Whether ``internal prefix + rest`` is a URI ``file_offload_plan`` could have made."""
        if request.method not in ALLOWED_METHODS:
            return False
        try:
            safe_parts(decode_path(rest, request.raw), allow_dotfiles=self.options.allow_dotfiles)
        except LookupError_:
            return False
        return True

    def respond(
        self,
        request: Request,
        name: str,
        private: bool = False,
        readmit: Readmit | None = None,
    ) -> Outcome:
        """Look ``name`` up and decide: a file response, an offload, a redirect or a 404/503.

        Called with an allowed method (GET/HEAD) and an admitted name only. ``readmit``
        is the access decision again, asked when the source resolved the name to another
        one (a symlink followed with ``follow_symlinks``): its refusal is the answer, and a
        target admitted as private is sent as private.
        """
        method = request.method
        options = self.private_options if private else self.options
        store = self.store
        # The hot cache: public names only (a private or signed answer has other headers and
        # must never be kept), and not for a request the proxy will be told to send.
        hot = None if private else self.hot_source
        try:
            if hot is not None:
                entry = hot.hot_get(name)
                if entry is not None:
                    offloaded_ = self._offload_hot(request, entry)
                    if offloaded_ is not None:
                        return offloaded_
                    return self._from_memory(entry, method, request.headers)
            if store is not None and store.mode != "proxy":
                handed = self._hand_to_store(request, name, store, options)
                if handed is not None:
                    return handed
            resource = self.source.lookup(name, whole=method == "GET" and request.headers == _PLAIN)
        except Refused as exc:
            log_refusal(name, request.client, exc.reason)
            return Outcome(not_found(method), kind="refused", reason=exc.reason)
        except NotFound as exc:
            logger.debug("mediaserve 404 %r: %s", name, exc.reason)
            return Outcome(not_found(method), kind="missing", reason=exc.reason)
        except Unavailable as exc:
            endpoint = getattr(self.source, "endpoint", "")
            logger.warning(
                "mediaserve 503 for %r: object store %s", name, exc.reason,
                extra={"mediaserve_endpoint": endpoint},
            )  # fmt: skip
            assert store is not None  # only store sources raise Unavailable
            plan_ = unavailable_plan(method, store.retry_after)
            return Outcome(plan_, kind="unavailable", reason=exc.reason)
        except LookupError_ as exc:  # any other source-specific failure: still a 404
            logger.warning("mediaserve lookup failed for %r: %s", name, exc.reason)
            return Outcome(not_found(method), kind="missing", reason=exc.reason)
        if hot is not None and isinstance(resource, OpenFile):
            try:
                entry = hot.hot_admit(name, resource)
            except BaseException:
                resource.close()
                raise
            if entry is not None:
                resource.close()
                offloaded_ = self._offload_hot(request, entry)
                if offloaded_ is not None:
                    return offloaded_
                return self._from_memory(entry, method, request.headers)
        resolved = resource.meta.name
        if readmit is not None and resolved != name:
            try:
                verdict = readmit(request, resolved)
            except BaseException:
                resource.close()
                raise
            if isinstance(verdict, Outcome):
                resource.close()
                return verdict
            private = private or verdict
        try:
            offload = self.offload
            if (
                offload is not None
                and announced(request.via, offload.method, self._warned, "OFFLOAD")
                and proxy_would_misanswer(request.headers) is None
            ):
                whole = self._plan(method, _PLAIN, resource.meta, private)
                offloaded = file_offload_plan(whole, resource.meta.name, offload)
                if offloaded is not None:
                    resource.close()
                    return Outcome(offloaded, kind="offloaded")
                logger.warning(
                    "mediaserve: %r cannot be offloaded (control character); served here", name
                )
            result = self._plan(method, request.headers, resource.meta, private)
        except BaseException:
            resource.close()
            raise
        if not result.body:
            # A 304, 412, 416, HEAD or empty file: nothing to read. (plan() gives a file
            # response a body only when it holds file slices.)
            resource.close()
            return Outcome(result, chunk_size=self.chunk_size)
        return Outcome(result, resource, chunk_size=self.chunk_size)

    def hot_plain(self, name: str, method: str, via: str | None = None) -> Outcome | None:
        """The outcome ``respond`` made for a plain ``method`` of the public ``name`` from the
        hot cache (offloaded when ``via`` announces this mount's offload), if its file is
        unchanged (one stat), else None (``Pipeline.plain_hot``)."""
        source = self.hot_source
        if source is None:
            return None
        try:
            entry = source.hot_get(name)
        except LookupError_:  # the root is gone: the full lookup says how
            return None
        if entry is None:
            return None
        options, outcomes = entry.memo
        if options is not self.options:
            return None
        offload = self.offload
        if via is not None and offload is not None:
            if via.strip().lower() != offload.method:
                return None  # a mismatch: respond() serves it here and logs it once
            outcome: Outcome | None = outcomes.get(method + " offload")
        else:
            outcome = outcomes.get(method)
        return outcome

    def _offload_hot(self, request: Request, entry: HotFile) -> Outcome | None:
        """The offload answer for a hot public file, when the proxy announced offload: its
        validated metadata plans the headers, no descriptor is opened. None: answer here.

        For a plain request the outcome is kept with the entry (``hot_plain`` reuses it)."""
        offload = self.offload
        if (
            offload is None
            or not announced(request.via, offload.method, self._warned, "OFFLOAD")
            or proxy_would_misanswer(request.headers) is not None
        ):
            return None
        method = request.method
        whole = self._plan(method, _PLAIN, entry.meta, False)
        offloaded = file_offload_plan(whole, entry.meta.name, offload)
        if offloaded is None:
            return None
        outcome = Outcome(offloaded, kind="offloaded")
        if request.headers == _PLAIN:
            self._memo(entry)[method + " offload"] = outcome
        return outcome

    def _memo(self, entry: HotFile) -> dict[str, Outcome]:
        """The outcomes kept with ``entry`` for this mount's options (a new dict for others:
        swapped in whole, so two mounts sharing a source never mix their outcomes)."""
        options, outcomes = entry.memo
        if options is not self.options:
            outcomes = {}
            entry.memo = (self.options, outcomes)
        return outcomes

    def _from_memory(self, entry: HotFile, method: str, headers: RequestHeaders) -> Outcome:
        """The outcome for a hot file: the same plan as from the file (status, headers), its
        slices replaced by the cached bytes, so every adapter sends a literal body.

        A plain GET or HEAD reuses the outcome made for this entry and these options.
        """
        if headers != _PLAIN:
            planned = plan(method, headers, entry.meta, self.options)
            return Outcome(_literal(planned, entry.data), chunk_size=self.chunk_size)
        outcomes = self._memo(entry)
        outcome = outcomes.get(method)
        if outcome is None:
            planned = self._plan(method, _PLAIN, entry.meta, False)
            outcome = Outcome(_literal(planned, entry.data), chunk_size=self.chunk_size)
            outcomes[method] = outcome
        return outcome

    def _hand_to_store(
        self, request: Request, name: str, store: StoreOptions, options: ServeOptions
    ) -> Outcome | None:
        """Redirect to the store, or let nginx fetch from it; None: stream it from here."""
        source = self.source
        assert isinstance(source, StoreSource)
        if store.mode == "redirect":
            location, signed = source.url(name, store.expiry, request.method)
            cache = redirect_cache_control(store.expiry, signed, options.cache_control)
            return Outcome(redirect_plan(location, store.redirect_status, cache), kind="redirected")
        # Offload mode hands the fetch to nginx only when nginx announced it can (the
        # generated config sets the header); any other request is streamed as in proxy
        # mode, so an app reached without the proxy never answers an empty 200.
        if announced(request.via, "x-accel-redirect", self._warned, "STORAGE offload mode"):
            location, _signed = source.url(name, store.expiry, request.method)
            offloaded = store_offload_plan(location, store.offload_location, options.cache_control)
            return Outcome(offloaded, kind="offloaded")
        return None

    def _plan(
        self,
        method: str,
        headers: RequestHeaders,
        meta: FileMeta,
        private: bool,
    ) -> ResponsePlan:
        options = self.private_options if private else self.options
        if headers != _PLAIN:
            return plan(method, headers, meta, options)
        key = (private, method, meta.name, meta.size, meta.mtime_ns, meta.identity)
        cached = self._plans.get(key)
        if cached is None:
            cached = plan(method, headers, meta, options)
            if len(self._plans) >= self.plan_cache_size:
                self._plans.clear()
            self._plans[key] = cached
        return cached


def _literal(planned: ResponsePlan, data: bytes) -> ResponsePlan:
    """``planned`` with its file slices cut from ``data`` (the whole file, in memory)."""
    if not planned.body:
        return planned
    size = len(data)
    body = tuple(
        segment
        if not isinstance(segment, FilePart)
        else data
        if segment.offset == 0 and segment.length == size
        else data[segment.offset : segment.offset + segment.length]
        for segment in planned.body
    )
    return ResponsePlan(planned.status, planned.headers, body)
