"""How a mount whose files live in an object store answers, besides sending the bytes.

``proxy`` (the default): the pipeline plans from the object's HEAD (or the GET of a plain
request) exactly as for a local file, and the adapter sends the planned slices, fetched
with ranged GETs: Range, If-None-Match, If-Range... are answered by the same code.

``redirect``: a 302/307 to a URL the browser fetches from the store itself (presigned, or
the public/CDN URL). No request reaches the store from here.

``offload``: nginx fetches from the store (``X-Accel-Redirect`` into an internal location),
for requests whose proxy announced it; any other request is streamed as in ``proxy``.

A store that is down or slow gives a 503 with ``Retry-After`` (not a 404 that browsers and
proxies would cache) and one log line naming the endpoint; the next request tries again,
so the site recovers when the store does, without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..http.plan import ResponsePlan, text_plan

__all__ = [
    "MODES",
    "Mode",
    "StoreOptions",
    "redirect_cache_control",
    "redirect_plan",
    "unavailable_plan",
]

Mode = Literal["redirect", "proxy", "offload"]
MODES: tuple[Mode, ...] = ("redirect", "proxy", "offload")


@dataclass(frozen=True)
class StoreOptions:
    """The store-specific part of a mount (``MEDIASERVE["STORAGE"]``)."""

    mode: Mode = "proxy"
    # Seconds a presigned URL stays valid (redirect and offload modes).
    expiry: int = 300
    redirect_status: int = 302
    # Seconds a client is told to wait after a 503.
    retry_after: int = 5
    # Offload mode: the nginx ``internal`` location that proxies to the store.
    offload_location: str = "/_mediaserve_store/"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.redirect_status not in (302, 303, 307):
            raise ValueError("redirect_status must be 302, 303 or 307")
        if self.expiry < 1:
            raise ValueError("expiry must be at least 1 second")


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


def redirect_plan(location: str, status: int, cache_control: str) -> ResponsePlan:
    """A bodiless 302/307 to ``location`` (RFC 9110 §15.4.3, §15.4.8), the same for HEAD."""
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


def unavailable_plan(method: str, retry_after: int) -> ResponsePlan:
    """503 with ``Retry-After`` (§10.2.3): the store, not the file, is the problem."""
    headers = (
        ("Retry-After", str(retry_after)),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    )
    body = b"Service Unavailable: the media store did not answer; try again shortly.\n"
    return text_plan(503, body, method, headers)
