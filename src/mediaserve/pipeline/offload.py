"""Proxy offload: the app decides, the proxy moves the bytes.

The app still does everything that needs judgement -- the traversal-safe lookup, access
control, Content-Type, Content-Disposition, Cache-Control and the nosniff / sandbox headers
-- and then answers with an empty body and one header naming the file for the proxy:

* ``X-Accel-Redirect: /_mediaserve/products/a%20b.jpg`` (nginx, Nginx Proxy Manager, Caddy's
  ``handle_response``): an internal URI the proxy maps to the media directory;
* ``X-Sendfile: /srv/media/products/a b.jpg`` (Apache mod_xsendfile): a file system path as
  the proxy sees it, sent as its raw bytes (mod_xsendfile 0.12 does not percent-decode:
  ``a%20b.jpg`` would be looked up literally);
* ``X-LiteSpeed-Location: /_mediaserve/...`` (LiteSpeed / OpenLiteSpeed): like nginx.

The proxy then answers Range, If-Range and the conditional headers itself, from the file, so
the app's response carries no validators and no Content-Length of the file: the proxy's own
ETag and Last-Modified describe what it sends.

Offload happens only for requests that say they came through a proxy able to do it: the
proxy sets the request header ``X-Mediaserve-Offload: <method>`` (``mediaserve config``
writes that line). Without it the app serves the file itself and logs one WARNING -- an
app reached directly, or through a proxy without the offload set-up, would otherwise answer
every file with an empty 200, which is the failure this package exists to prevent.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote

from ..http.dates import parse_http_date
from ..http.plan import RequestHeaders, ResponsePlan, text_plan

__all__ = [
    "DEFAULT_INTERNAL_PREFIX",
    "HEADER_FOR",
    "METHODS",
    "PROXY_HEADER",
    "PROXY_HEADER_WSGI",
    "Offload",
    "OffloadError",
    "announced",
    "file_offload_plan",
    "loop_detected",
    "proxy_would_misanswer",
    "quote_uri",
    "store_offload_plan",
]

logger = logging.getLogger("mediaserve")

#: The request header a proxy sets to announce that it handles the offload header.
PROXY_HEADER = "X-Mediaserve-Offload"
PROXY_HEADER_WSGI = "HTTP_X_MEDIASERVE_OFFLOAD"

#: Offload method -> the response header the proxy acts on.
HEADER_FOR = {
    "x-accel-redirect": "X-Accel-Redirect",
    "x-sendfile": "X-Sendfile",
    "x-litespeed-location": "X-LiteSpeed-Location",
}
METHODS = tuple(HEADER_FOR)
#: Where the proxy's internal location lives unless OFFLOAD_PREFIX says otherwise.
DEFAULT_INTERNAL_PREFIX = "/_mediaserve/"

# The proxy computes these from the file it sends; the app's values would describe the
# app's view of the file (its inode-based ETag) and contradict the proxy's.
_PROXY_OWNED = frozenset(
    {"content-length", "etag", "last-modified", "accept-ranges", "content-range"}
)


class OffloadError(ValueError):
    """An offload set-up that cannot work; the message names the setting and the fix."""


def quote_uri(name: str) -> str:
    """Percent-encode ``name`` for a URI path: everything but unreserved characters and ``/``.

    nginx splits an X-Accel-Redirect value at the first ``?`` (the rest becomes the query)
    and decodes ``%XX`` once before mapping it, so ``?``, ``#``, ``%``, spaces and non-ASCII
    must all be escaped for a file name to arrive intact (RFC 3986 §2.3: only ALPHA, DIGIT,
    ``-._~`` are left as they are).
    """
    return quote(name, safe="/", encoding="utf-8", errors="surrogateescape")


@dataclass(frozen=True)
class Offload:
    """How this mount hands files to the proxy.

    ``internal_prefix`` is the URI prefix of the proxy's internal location (X-Accel-Redirect,
    X-LiteSpeed-Location); ``root`` is the media directory as the *proxy* sees it, for
    X-Sendfile (the app may see it elsewhere, e.g. in another container).
    """

    method: str
    internal_prefix: str = DEFAULT_INTERNAL_PREFIX
    root: str | None = None

    def __post_init__(self) -> None:
        if self.method not in HEADER_FOR:
            raise OffloadError(
                f"unknown offload method {self.method!r}; use one of {', '.join(METHODS)}"
            )
        prefix = self.internal_prefix
        if not (prefix.startswith("/") and prefix.endswith("/") and len(prefix) > 1):
            # Without the trailing slash "/_mediaserve" + "a.jpg" would be "/_mediaservea.jpg":
            # the proxy's "location /_mediaserve/" would never match.
            raise OffloadError(
                f"offload prefix {prefix!r} must start and end with '/', e.g. '/_mediaserve/'"
            )
        if any(ch in prefix for ch in "\r\n\0?#%\\ ") or "/../" in prefix or "/./" in prefix:
            raise OffloadError(
                f"offload prefix {prefix!r} must be a plain path (no spaces, '?', '#', '%', "
                "'\\', '..', line breaks)"
            )
        if self.method == "x-sendfile":
            root = self.root
            if not root or not os.path.isabs(root):
                raise OffloadError(
                    f"X-Sendfile needs the media directory as the proxy sees it (an absolute "
                    f"path), not {root!r}"
                )
            if any(ch in root for ch in "\r\n\0"):
                raise OffloadError("the offload root contains a line break or NUL")

    @property
    def header(self) -> str:
        return HEADER_FOR[self.method]

    def target(self, name: str) -> str | None:
        """The header value that makes the proxy send mount-relative ``name``.

        None when the name cannot travel in a header (a control character in an X-Sendfile
        path): the app then serves that file itself.
        """
        if self.method == "x-sendfile":
            path = posixpath.join(posixpath.normpath(self.root or "/"), name)
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
                return None
            # Header values are latin-1 text in WSGI: this spelling puts the path's UTF-8
            # bytes on the wire unchanged, which is what the proxy opens.
            return path.encode("utf-8", "surrogateescape").decode("latin-1")
        return self.internal_prefix + quote_uri(name)


# A decimal number longer than this cannot be a file offset nginx accepts (off_t overflow).
_MAX_OFFSET_DIGITS = 18
_DIGITS = re.compile(r"\d+")


def proxy_would_misanswer(request: RequestHeaders) -> str | None:
    """Why the proxy would answer this request differently from RFC 9110, or None.

    Such requests are served by the app itself (found with the security suite against real
    nginx): nginx answers an If-Unmodified-Since that is not an HTTP-date with 412, where
    §13.1.4 says to ignore it, and a range position too long for ``off_t`` with 416, where
    §14.1.2 makes ``bytes=0-<huge>`` the whole file. Both are rare; correctness wins.
    """
    if (
        request.if_unmodified_since is not None
        and request.if_match is None
        and parse_http_date(request.if_unmodified_since) is None
    ):
        return "If-Unmodified-Since is not an HTTP-date"
    if request.range is not None and any(
        len(number) > _MAX_OFFSET_DIGITS for number in _DIGITS.findall(request.range)
    ):
        return "a Range position longer than an off_t"
    return None


def announced(via: str | None, method: str, warned: set[str], setting: str) -> bool:
    """Whether the proxy in front announced offload ``method`` (``X-Mediaserve-Offload``).

    A mismatch is served by the app (correct, only slower) and logged once per process
    (``warned`` remembers): an offload header the proxy does not act on would reach the
    client as an empty 200.
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


def file_offload_plan(whole: ResponsePlan, name: str, offload: Offload) -> ResponsePlan | None:
    """The app's half of an offloaded response: decided headers, no body, the offload header.

    ``whole`` is the plan of a plain GET (or HEAD) of the file, so Content-Type,
    Content-Disposition, Cache-Control and the security headers are the very ones
    in-process serving sends (and the mount's plan cache spares planning them again).
    None when ``name`` cannot be offloaded (see ``Offload.target``).
    """
    target = offload.target(name)
    if target is None:
        return None
    headers = tuple((k, v) for k, v in whole.headers if k.lower() not in _PROXY_OWNED)
    return ResponsePlan(
        200,
        (*headers, ("Content-Length", "0"), (offload.header, target)),
    )


_LOOP_BODY = (
    b"mediaserve: the proxy sent an offload URI back to the app.\n"
    b"Its internal location for this prefix is missing or does not match OFFLOAD_PREFIX;\n"
    b"regenerate it with `mediaserve config nginx` (or npm/caddy) and reload the proxy.\n"
)


def loop_detected(method: str) -> ResponsePlan:
    """502 for an offload URI that came back to the app instead of being served by the proxy.

    nginx follows an X-Accel-Redirect to whatever location matches it; without an
    ``internal`` location for the prefix that is ``location /`` and the request returns to
    the app. A 502 names the proxy as the broken hop; an empty 200 would hide it.
    """
    headers = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
    return text_plan(502, _LOOP_BODY, method, headers)


def store_offload_plan(url: str, internal_location: str, cache_control: str) -> ResponsePlan:
    """Hand a store fetch to nginx: ``X-Accel-Redirect`` to ``internal_location`` followed by
    the (presigned) URL's path and query, still percent-encoded as signed.

    nginx does not decode an X-Accel-Redirect URI, so a location that captures the rest
    and passes it on (``proxyconf/store.py``) sends the store the exact bytes that were
    signed. The client's Range and validators go along, so the store answers 206/304
    itself, and the bytes never pass through Python.
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
