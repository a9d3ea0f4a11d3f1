"""A mount whose files live in a remote store: the same planner, two ways to deliver.

``redirect``: answer with a 302/307 to a URL the browser fetches from the store itself
(presigned, or the public/CDN URL). No request reaches the store from here, so it costs
about as much as a 404.

``proxy``: HEAD the object, plan exactly as for a local file (``http.plan.plan`` with a
``FileMeta`` built from the HEAD: size, Last-Modified, ETag/VersionId as identity), then
fetch only the planned slices with ranged GETs. Range, If-None-Match, If-Modified-Since,
If-Range and If-Match are therefore answered identically to local serving: 206, 304, 412,
416 and multipart come from the same code.

A store that is down or slow gives a 503 with ``Retry-After`` (not a 404 that browsers
and proxies would cache) and one log line naming the endpoint; the next request tries
again, so the site recovers when the store does, without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from ..http.plan import (
    ALLOWED_METHODS,
    FilePart,
    RequestHeaders,
    ResponsePlan,
    ServeOptions,
    method_not_allowed,
    not_found,
    plan,
)
from ..sources.base import NotFound, Refused
from ..sources.remote import Changed, RemoteObject, RemoteSource, Unavailable
from .mount import announced, log_refusal, match_prefix

__all__ = [
    "RemoteBody",
    "StorageMount",
    "nginx_offload_location",
    "offload_plan",
    "redirect_cache_control",
    "redirect_plan",
    "unavailable_plan",
]

logger = logging.getLogger("mediaserve")

#: Reads from the store are at least this big. Each chunk costs a trip through urllib3
#: and the server's write path in Python: a 64 MiB object through gunicorn moved at
#: 387 MiB/s with 64 KiB chunks (the local default, sized for granian's queueing),
#: 685 MiB/s with 256 KiB, 618 MiB/s with 1 MiB (bench/storage.py, one run each).
REMOTE_CHUNK = 256 * 1024

Mode = Literal["redirect", "proxy", "offload"]
MODES: tuple[Mode, ...] = ("redirect", "proxy", "offload")


def redirect_cache_control(expiry: int, signed: bool, public_cache_control: str) -> str:
    """How long a redirect may be reused: never past the life of the URL it points to.

    A signed URL stops working ``expiry`` seconds after it was made; a browser that
    reuses the cached redirect at the last moment must still have time to fetch it, so
    the redirect lives half as long (and at most ``expiry - 60`` s, a margin for clock
    skew and slow starts). ``private``: a shared cache handing one user's signed URL to
    another would defeat the signature. Below a minute: ``no-store``. An unsigned
    (public, CDN) URL does not expire and is cached like the file itself.
    """
    if not signed:
        return public_cache_control
    seconds = min(expiry // 2, expiry - 60)
    return f"private, max-age={seconds}" if seconds > 0 else "private, no-store"


def redirect_plan(method: str, location: str, status: int, cache_control: str) -> ResponsePlan:
    """A bodiless 302/307 to ``location`` (RFC 9110 §15.4.3, §15.4.8)."""
    del method  # the same for GET and HEAD: there is no body either way
    return ResponsePlan(
        status,
        (
            ("Location", location),
            ("Cache-Control", cache_control),
            ("Content-Length", "0"),
            # The signed URL is a bearer credential: do not leak it to the next page.
            ("Referrer-Policy", "no-referrer"),
        ),
    )


def nginx_offload_location(
    endpoint_url: str,
    internal_location: str = "/_mediaserve_store/",
    *,
    retry_after: int = 5,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
) -> str:
    """The nginx blocks that offload mode's X-Accel-Redirect lands in (for ``server {}``).

    ``proxy_pass`` with a URI part (the trailing ``/``) replaces the location prefix and
    re-escapes the rest once: nginx unescapes an X-Accel-Redirect URI, so the store
    receives the key exactly as it was signed. The query (the signature) passes as is.
    ``Host`` must be the signed host. The client's cookies and credentials stay here; the
    store's request ids do not reach the client. A store that does not answer becomes a
    503 with Retry-After, as in proxy mode, instead of nginx's 502/504.
    """
    base = endpoint_url.rstrip("/")
    host = base.split("://", 1)[-1].split("/", 1)[0]
    name = "@mediaserve_store_unavailable"
    tls = "    proxy_ssl_server_name on;\n" if base.startswith("https://") else ""
    return (
        f"location {internal_location} {{\n"
        "    internal;\n"
        f"    proxy_pass {base}/;\n"
        f"    proxy_set_header Host {host};\n"
        '    proxy_set_header Cookie "";\n'
        '    proxy_set_header Authorization "";\n'
        f"{tls}"
        f"    proxy_connect_timeout {connect_timeout:g}s;\n"
        f"    proxy_read_timeout {read_timeout:g}s;\n"
        "    proxy_hide_header x-amz-request-id;\n"
        "    proxy_hide_header x-amz-id-2;\n"
        "    proxy_hide_header Set-Cookie;\n"
        "    add_header X-Content-Type-Options nosniff always;\n"
        f"    error_page 502 504 = {name};\n"
        "}\n"
        f"location {name} {{\n"
        f"    add_header Retry-After {retry_after} always;\n"
        "    add_header Cache-Control no-store always;\n"
        '    return 503 "Service Unavailable: the media store did not answer; '
        'try again shortly.\\n";\n'
        "}\n"
    )


def offload_plan(url: str, internal_location: str, cache_control: str) -> ResponsePlan:
    """Hand the fetch to nginx: ``X-Accel-Redirect`` to ``internal_location`` followed by
    the (presigned) URL's path and query, still percent-encoded as signed.

    nginx does not decode an X-Accel-Redirect URI, so a location that captures the rest
    and passes it on with ``proxy_pass http://store/$1$is_args$args`` sends the store the
    exact bytes that were signed (see docs/deploy/object-storage.md). The client's Range
    and validators go along, so the store answers 206/304 itself, and the bytes never pass
    through Python.
    """
    rest = url.split("://", 1)[-1]
    path_and_query = rest[rest.find("/") + 1 :] if "/" in rest else ""
    target = internal_location.rstrip("/") + "/" + path_and_query
    # nginx keeps Cache-Control from this response for the final one (the store sets none).
    headers = (
        ("X-Accel-Redirect", target),
        ("Cache-Control", cache_control),
        ("Content-Length", "0"),
    )
    return ResponsePlan(200, headers)


def unavailable_plan(method: str, retry_after: int) -> ResponsePlan:
    """503 with ``Retry-After`` (§10.2.3): the store, not the file, is the problem."""
    body = b"Service Unavailable: the media store did not answer; try again shortly.\n"
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(retry_after)),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    )
    return ResponsePlan(503, headers, () if method == "HEAD" else (body,))


@dataclass(frozen=True)
class StorageMount:
    """Objects of ``source`` served under ``prefix`` in ``mode``."""

    prefix: str
    source: RemoteSource
    options: ServeOptions
    mode: Mode = "proxy"
    # Seconds a presigned URL stays valid (redirect mode).
    expiry: int = 300
    redirect_status: int = 302
    # Seconds a client is told to wait after a 503.
    retry_after: int = 5
    # Offload mode: the nginx ``internal`` location that proxies to the store.
    offload_location: str = "/_mediaserve_store/"
    # Offload mismatches already logged (once per process, not per request).
    _warned: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.redirect_status not in (302, 303, 307):
            raise ValueError("redirect_status must be 302, 303 or 307")
        if self.expiry < 1:
            raise ValueError("expiry must be at least 1 second")

    def match(self, path: str) -> str | None:
        """The mount-relative name for ``path`` (see ``match_prefix``)."""
        return match_prefix(self.prefix, path)

    def respond(
        self,
        method: str,
        name: str | Callable[[], str],
        headers: RequestHeaders,
        client: str | None = None,
        via: str | None = None,
    ) -> tuple[ResponsePlan, RemoteObject | None]:
        """The plan, and the object to read when the plan has file slices to send.

        ``via`` is the request's ``X-Mediaserve-Offload`` header: offload mode hands the
        fetch to nginx only when nginx announced it can (the generated config sets it);
        any other request is streamed as in proxy mode, so an app reached without the
        proxy never answers an empty 200 with an X-Accel-Redirect nobody acts on.
        """
        if method not in ALLOWED_METHODS:
            return method_not_allowed(), None
        label = name if isinstance(name, str) else "<undecodable>"
        try:
            label = name if isinstance(name, str) else name()
            if self.mode == "redirect":
                location, signed = self.source.url(label, self.expiry, method)
                cache = redirect_cache_control(self.expiry, signed, self.options.cache_control)
                return redirect_plan(method, location, self.redirect_status, cache), None
            if self.mode == "offload" and self._offloads(via):
                location, _signed = self.source.url(label, self.expiry, method)
                plan_ = offload_plan(location, self.offload_location, self.options.cache_control)
                return plan_, None
            if method == "GET" and headers == _PLAIN:
                # The common request (an <img>): nothing to decide from the headers first,
                # so one GET both describes the object and starts its body.
                obj = self.source.fetch(label, self.chunk_size)
            else:
                obj = self.source.stat(label)
        except Refused as exc:
            log_refusal(label, client, exc.reason)
            return not_found(method), None
        except NotFound as exc:
            logger.debug("mediaserve 404 %r: %s", label, exc.reason)
            return not_found(method), None
        except Unavailable as exc:
            logger.warning(
                "mediaserve 503 for %r: object store %s", label, exc.reason,
                extra={"mediaserve_endpoint": self.source.endpoint},
            )  # fmt: skip
            return unavailable_plan(method, self.retry_after), None
        result = plan(method, headers, obj.meta, self.options)
        if any(isinstance(segment, FilePart) for segment in result.body):
            return result, obj
        obj.discard()  # an empty object: nothing of the prefetched body to send
        return result, None

    def _offloads(self, via: str | None) -> bool:
        return announced(via, "x-accel-redirect", self._warned, "STORAGE offload mode")

    def body(self, obj: RemoteObject, result: ResponsePlan) -> RemoteBody:
        return RemoteBody(self.source, obj, result, self.chunk_size)

    @property
    def chunk_size(self) -> int:
        """Read size from the store: at least ``REMOTE_CHUNK`` (see there)."""
        return max(self.options.chunk_size, REMOTE_CHUNK)


_PLAIN = RequestHeaders()


class RemoteBody:
    """The plan's body: literal parts as they are, file slices fetched one ranged GET each.

    A store failure or a replaced object after the headers went out cannot become an
    error status any more: the body stops short and ``short`` is set, so the adapter
    closes the connection and the client sees an incomplete response, never wrong bytes.
    """

    __slots__ = ("chunk_size", "obj", "plan", "short", "source")

    def __init__(
        self, source: RemoteSource, obj: RemoteObject, plan: ResponsePlan, chunk_size: int
    ) -> None:
        self.source = source
        self.obj = obj
        self.plan = plan
        self.chunk_size = chunk_size
        self.short = False

    def __iter__(self) -> Iterator[bytes]:
        for segment in self.plan.body:
            if isinstance(segment, bytes):
                yield segment
                continue
            try:
                prefetched = self.obj.prefetched
                if prefetched is not None and (segment.offset, segment.length) == (
                    0,
                    self.obj.meta.size,
                ):
                    self.obj.prefetched = None
                    yield from prefetched
                else:
                    yield from self.source.read(
                        self.obj, segment.offset, segment.length, self.chunk_size
                    )
            except (Changed, Unavailable, NotFound) as exc:
                self.short = True
                reason = exc.reason if isinstance(exc, Unavailable | NotFound) else str(exc)
                logger.warning(
                    "mediaserve cut %r short: object store %s", self.obj.key, reason,
                    extra={"mediaserve_endpoint": self.source.endpoint},
                )  # fmt: skip
                return
