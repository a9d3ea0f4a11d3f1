"""The pipeline: one media request, from its description to the outcome, in one order.

Every entry point (``WSGIMedia``, ``ASGIMedia``, the Django view, the middleware, the Django
WSGI/ASGI wrappers, ``mediaserve serve``) builds a :class:`~.request.Request` and executes
what :meth:`Pipeline.decide` returns; none of them decides anything. The steps::

    1 prefix    outside the mount: not ours (None), or under the offload prefix (Mount.misrouted):
                the 502 of an offload loop, a client's 404
    2 decode    percent-decoded once; a refusal is kept and answered at step 4
    3 limit     the client's rate limit (429), counted once per request
    4 method    GET and HEAD only (405); then an undecodable name is refused (404)
    5 access    public / private / signed (404 or 403; deferred to the app behind); a
                permission callable that raises is a refusal, logged at ERROR
    6 lookup    the source finds the file or object (404, 503); a symlink followed to
                another name is admitted again for that name (step 5)
    7 plan      RFC 9110 (200, 206, 304, 412, 416), or offload to the proxy, or redirect

Sans-IO apart from what the steps are: the rate limit's counter store, the permission
callable and the source's lookup. Sync and async adapters call the same ``decide`` (the
ASGI adapters on their I/O pool, in one trip).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..access.rules import PUBLIC, Access, forbidden
from ..http.plan import ALLOWED_METHODS, method_not_allowed, not_found
from ..metrics import events_logged
from ..ratelimit.limiter import RateLimiter
from ..sources.base import Refused
from .mount import Mount
from .request import DEFERRED, Outcome, Request, decode_path, log_refusal, logger

__all__ = ["COUNTED", "Pipeline"]

#: Set in the environ/scope (``Request.mark``) once the request was rate-limited.
COUNTED = "mediaserve.rate_counted"


@dataclass(frozen=True)
class Pipeline:
    """The steps for one mount, with its access rules and rate limit (both optional)."""

    mount: Mount
    access: Access | None = None
    limiter: RateLimiter | None = None
    #: Whether :meth:`plain_hot` can answer anything: the mount has a hot cache and no rate
    #: limit must count the request.
    hot_lane: bool = field(init=False, repr=False, compare=False)
    # Path (as the server gave it) -> its name when public, "" when not (plain_hot). Bounded.
    _plain_names: dict[str, str] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    plain_names_size = 4096

    def __post_init__(self) -> None:
        lane = self.mount.hot_source is not None and self.limiter is None
        object.__setattr__(self, "hot_lane", lane)

    def claims(self, request: Request) -> bool:
        """Whether ``decide`` may answer this request (its path is under the prefix, or it
        may be an offload URI that came back): async adapters check this on the event loop
        and hand every other request to the application without a trip to the I/O pool."""
        mount = self.mount
        return mount.match(request.path) is not None or (
            mount.offload is not None and request.via is not None
        )

    def decide(self, request: Request) -> Outcome | None:
        """The outcome for ``request``; None when its path is outside the mount (the
        application behind answers it). Total: never raises for anything a client sends."""
        mount = self.mount
        # Step 1: the prefix.
        raw_name = mount.match(request.path)
        if raw_name is None:
            return mount.misrouted(request)
        # Step 2: decode once. A refusal waits for steps 3 and 4: a probe is still counted
        # by the rate limit, and a POST is a 405 whatever its path.
        refusal = None
        try:
            name = decode_path(raw_name, request.raw)
        except Refused as exc:
            name, refusal = "", exc.reason
        method = request.method
        # Step 3: the rate limit.
        limited = self._limit(request)
        if limited is not None:
            return limited
        # Step 4: the method, then the refusal of step 2.
        if method not in ALLOWED_METHODS:
            return Outcome(method_not_allowed(), kind="not_allowed")
        if refusal is not None:
            log_refusal("<undecodable>", request.client, refusal)
            return Outcome(not_found(method), kind="refused", reason=refusal)
        # Step 5: access, before any lookup: a refusal costs no file system call and
        # answers the same whether the file exists or not.
        private = False
        access = self.access
        if access is not None and access.restricts:
            admitted = self._admit(request, name, access)
            if isinstance(admitted, Outcome):
                return admitted
            private = admitted
            # Steps 6 and 7: look up, then plan, offload or redirect. A symlink followed
            # (FOLLOW_SYMLINKS) is admitted again for the name it resolved to.
            return mount.respond(request, name, private, self._readmit)
        return mount.respond(request, name, private)

    def plain_hot(self, method: str, path: str, via: str | None = None) -> Outcome | None:
        """The hot cache's outcome for a plain request, or None: then ``decide`` answers.

        The caller guarantees what makes a request plain: no Range and no precondition header,
        and a raw request target (if the server gives one) without ``%`` or non-ASCII bytes,
        so that step 2 has nothing to refuse. ``path`` is the decoded path as the server gave
        it (WSGI ``PATH_INFO``), ``via`` the proxy's offload announcement. For such a request
        ``decide`` would take these steps, and so does this, in a shorter way:

        1-2. prefix and decoding: once per path, remembered (a path outside the mount or
             not UTF-8 is remembered as "not here");
        3.   no rate limit (``hot_lane`` is False with a limiter);
        4.   GET or HEAD;
        5.   access: a public name only (the verdict for a public name depends on nothing but
             the name); private and signed names always go through ``decide``;
        6-7. the lookup and the plan: the hot entry, validated by its stat, and the outcome
             ``Mount.respond`` made for it for this method, in-process or offloaded (none
             yet: ``decide`` makes it).
        """
        if method not in ALLOWED_METHODS:
            return None
        name = self._plain_names.get(path)
        if name is None:
            name = self._public_name(path)
            names = self._plain_names
            if len(names) >= self.plain_names_size:
                names.clear()
            names[path] = name
        if not name:
            return None
        return self.mount.hot_plain(name, method, via)

    def _public_name(self, path: str) -> str:
        """Steps 1, 2 and 5 of ``plain_hot``: the public name for ``path``, else ""."""
        raw_name = self.mount.match(path.encode("latin-1", "replace"))
        if not raw_name:
            return ""
        try:
            name = decode_path(raw_name, None)
        except Refused:
            return ""
        access = self.access
        if access is not None and access.restricts and access.policy_for(name) != PUBLIC:
            return ""
        return name

    def _admit(self, request: Request, name: str, access: Access, why: str = "") -> Outcome | bool:
        """Step 5 for ``name``: the refusal or deferral to answer, else whether it is
        admitted as private (True) or public (False).

        A permission callable is the project's code: if it raises, the read is refused
        like any other denial (never a 500 that a client can trigger at will), and the
        traceback is logged at ERROR, since a crashing permission check is a bug to fix.
        """
        try:
            verdict = access.decide(request.method, name, request.query, request.judge)
        except Exception:
            logger.exception(
                "mediaserve: the permission callable raised for %r; the read is refused", name
            )
            return self._deny(request, name, why + "permission callable raised", access)
        if verdict.outcome == "defer":
            return DEFERRED
        if verdict.outcome == "deny":
            return self._deny(request, name, why + verdict.reason, access)
        return verdict.outcome == "private"

    def _readmit(self, request: Request, resolved: str) -> Outcome | bool:
        """Step 5 again, for the name a followed symlink resolved to (``Mount.respond``).

        The first decision judged the link's own name; a public link to a file under a
        private or signed prefix must not hand that file out. The target is admitted only
        as if the client had asked for it by its real name: a signature must be for that
        name, a permission callable is asked about that name.
        """
        access = self.access
        assert access is not None
        return self._admit(request, resolved, access, "symlink target: ")

    def _limit(self, request: Request) -> Outcome | None:
        limiter = self.limiter
        if limiter is None:
            return None
        mark = request.mark
        if mark is not None:
            if mark.get(COUNTED):
                return None
            mark[COUNTED] = True
        throttled = limiter.throttle(
            request.client,
            request.forwarded_for,
            request.user_agent,
            request.path.decode("utf-8", "replace"),
            request.method,
        )
        if throttled is None:
            return None
        plan_, client, reason = throttled
        return Outcome(plan_, kind="throttled", reason=reason, client=client)

    @staticmethod
    def _deny(request: Request, name: str, reason: str, access: Access) -> Outcome:
        # DEBUG when the observer's event line says it: one line per denial.
        logger.log(
            logging.DEBUG if events_logged() else logging.WARNING,
            "mediaserve denied %r from %s: %s",
            name,
            request.client or "unknown client",
            reason,
            extra={"mediaserve_reason": reason, "mediaserve_client": request.client},
        )
        if access.denied_status == 403:
            return Outcome(forbidden(request.method), kind="denied", reason=reason)
        return Outcome(not_found(request.method), kind="denied", reason=reason)
