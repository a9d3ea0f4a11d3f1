"""The decision: from (method, request headers, file metadata, options) to a ResponsePlan.

Pure and total: no I/O, no framework, and any header value yields a plan rather than
an exception (ARCHITECTURE.md). Every delivery adapter executes the same plan, so WSGI,
ASGI, Django and offload answer identically.

Precondition evaluation follows RFC 9110 §13.2.2 step by step; the step numbers in the
comments are the RFC's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

from .content_types import guess_type, is_active
from .dates import format_http_date, parse_http_date
from .disposition import content_disposition
from .etags import ETag, ETagList, make_etag, parse_etag, parse_etag_list
from .ranges import ByteRange, MalformedRange, RangeNotSatisfiable, parse_range

__all__ = [
    "FileMeta",
    "FilePart",
    "RequestHeaders",
    "ResponsePlan",
    "Segment",
    "ServeOptions",
    "method_not_allowed",
    "not_found",
    "plan",
    "text_plan",
]

ALLOWED_METHODS = ("GET", "HEAD")
SANDBOX_CSP = "sandbox; default-src 'none'"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Tunables shared by every adapter; the defaults suit user-uploaded media."""

    # User media changes rarely but is not fingerprinted: an hour of freshness, then a
    # cheap revalidation with the ETag.
    cache_control: str = "public, max-age=3600"
    # Enough for any player or download manager; a request needing more after merging
    # gets the whole file (see ranges.parse_range).
    max_ranges: int = 16
    allow_dotfiles: bool = False
    follow_symlinks: bool = False
    # Serve HTML/SVG/XML/JS/unknown types as sandboxed attachments (see content_types).
    neutralise_active: bool = True
    # Read size for adapters that copy through Python (no sendfile available). Servers queue
    # a few chunks ahead of a slow client (granian's WSGI mode about ten): 64 KiB keeps 16
    # slow 1 GB downloads under ~20 MB per worker, 256 KiB took ~40 MB (bench/, memory).
    chunk_size: int = 64 * 1024
    # Extension -> Content-Type overrides, e.g. {"glb": "model/gltf-binary"}.
    content_types: dict[str, str] = field(default_factory=dict)
    # Added to every file response (e.g. ("Cross-Origin-Resource-Policy", "cross-origin")).
    extra_headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.max_ranges < 1:
            raise ValueError("max_ranges must be at least 1")
        if self.chunk_size < 4096:
            raise ValueError("chunk_size must be at least 4096 bytes")
        for name, value in (("Cache-Control", self.cache_control), *self.extra_headers):
            if any(ch in name + value for ch in "\r\n\0"):
                raise ValueError(f"header {name!r} contains a line break or NUL")


class FileMeta(NamedTuple):
    """What the plan needs to know about the file: taken from one ``fstat``.

    NamedTuple rather than a frozen dataclass: it is built on every request, and
    tuple construction is several times cheaper.
    """

    name: str  # the path relative to the mount, used for the type and download name
    size: int
    mtime_ns: int
    identity: str  # device and inode, or a storage's version id


class RequestHeaders(NamedTuple):
    """The request fields that influence a file response (``None`` when absent)."""

    range: str | None = None
    if_range: str | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None


@dataclass(frozen=True, slots=True)
class FilePart:
    """``length`` bytes of the file starting at ``offset``."""

    offset: int
    length: int


Segment: TypeAlias = "bytes | FilePart"


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """Status, headers and the body as a sequence of literal bytes and file slices."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: tuple[Segment, ...] = ()
    # Set when the body is the file from offset 0 to its end: adapters may then use a
    # whole-file path (pathsend, file_wrapper on any server).
    whole_file: bool = False

    @property
    def content_length(self) -> int:
        return sum(len(s) if isinstance(s, bytes) else s.length for s in self.body)

    @property
    def single_part(self) -> FilePart | None:
        """The file slice when the body is exactly one slice (200 or single-range 206)."""
        if len(self.body) == 1 and isinstance(self.body[0], FilePart):
            return self.body[0]
        return None

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None


def text_plan(
    status: int, text: bytes, method: str, headers: tuple[tuple[str, str], ...]
) -> ResponsePlan:
    """A short ``text/plain`` answer (a refusal, an error): Content-Type and Content-Length,
    then ``headers``; a HEAD gets the same headers and no body (§9.3.2)."""
    return ResponsePlan(
        status,
        (
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(text))),
            *headers,
        ),
        () if method == "HEAD" else (text,),
    )


def _error(status: int, text: str, extra: tuple[tuple[str, str], ...] = ()) -> ResponsePlan:
    # A missing file may be uploaded a second later: never let a proxy cache the 404
    # (Nginx Proxy Manager's asset caching keeps them for a minute otherwise).
    no_cache = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-cache"))
    return text_plan(status, text.encode(), "GET", (*no_cache, *extra))


_NOT_FOUND = _error(404, "Not Found\n")
_METHOD_NOT_ALLOWED = _error(405, "Method Not Allowed\n", (("Allow", ", ".join(ALLOWED_METHODS)),))


def not_found(method: str = "GET") -> ResponsePlan:
    """The one 404 every refusal shares, so a refusal cannot be told from absence."""
    if method == "HEAD":
        return ResponsePlan(_NOT_FOUND.status, _NOT_FOUND.headers)
    return _NOT_FOUND


def method_not_allowed() -> ResponsePlan:
    """§15.5.6: 405 with the Allow header listing what a file supports."""
    return _METHOD_NOT_ALLOWED


def _any_strong(tags: ETagList | None, current: ETag) -> bool:
    # §13.1.1: If-Match uses the strong comparison; "*" matches any current representation.
    if tags is None:
        return False
    return tags.any or any(tag.strong_match(current) for tag in tags.tags)


def _any_weak(tags: ETagList | None, current: ETag) -> bool:
    # §13.1.2: If-None-Match uses the weak comparison.
    if tags is None:
        return False
    return tags.any or any(tag.weak_match(current) for tag in tags.tags)


def _if_range_passes(value: str, etag: ETag, last_modified: int) -> bool:
    """§13.1.5: strong ETag comparison, or an exact match of the Last-Modified date."""
    text = value.strip()
    if text.startswith(('"', "W/")):
        tag = parse_etag(text)
        return tag is not None and tag.strong_match(etag)
    date = parse_http_date(text)
    return date is not None and date == last_modified


def plan(
    method: str,
    request: RequestHeaders,
    meta: FileMeta,
    options: ServeOptions,
    *,
    boundary: str | None = None,
) -> ResponsePlan:
    """Decide the response for a GET or HEAD of an existing regular file."""
    if method not in ALLOWED_METHODS:
        return method_not_allowed()
    head = method == "HEAD"
    etag = make_etag(meta.size, meta.mtime_ns, meta.identity)
    last_modified = meta.mtime_ns // 1_000_000_000
    content_type = guess_type(meta.name, options.content_types)

    # Validators and caching headers: sent on 200/206 and, per §15.4.5, on 304 too.
    validators: tuple[tuple[str, str], ...] = (
        ("ETag", str(etag)),
        ("Last-Modified", format_http_date(last_modified)),
        ("Cache-Control", options.cache_control),
    )
    common = (
        *validators,
        ("Accept-Ranges", "bytes"),
        ("X-Content-Type-Options", "nosniff"),
    )
    if options.neutralise_active and is_active(content_type):
        common += (
            ("Content-Disposition", content_disposition("attachment", meta.name)),
            ("Content-Security-Policy", SANDBOX_CSP),
        )
    common += options.extra_headers

    # Step 1: If-Match present -> false means 412.
    if request.if_match is not None:
        if not _any_strong(parse_etag_list(request.if_match), etag):
            return _precondition_failed(common)
    # Step 2: If-Unmodified-Since, only when If-Match is absent; invalid dates are ignored.
    else:
        unmodified_since = parse_http_date(request.if_unmodified_since)
        if unmodified_since is not None and last_modified > unmodified_since:
            return _precondition_failed(common)
    # Step 3: If-None-Match present -> a match means 304 for GET/HEAD.
    if request.if_none_match is not None:
        if _any_weak(parse_etag_list(request.if_none_match), etag):
            return ResponsePlan(304, (*validators,))
    # Step 4: If-Modified-Since, only when If-None-Match is absent (GET/HEAD only).
    else:
        modified_since = parse_http_date(request.if_modified_since)
        if modified_since is not None and last_modified <= modified_since:
            return ResponsePlan(304, (*validators,))

    # Step 5: Range, guarded by If-Range (§13.1.5); only GET has ranges (§14.2).
    ranges: list[ByteRange] | None = None
    if (
        request.range is not None
        and not head  # §14.2: a server MUST ignore Range on methods other than GET
        and meta.size > 0  # §14.1.3: nothing in an empty file can be addressed by offset
        and (request.if_range is None or _if_range_passes(request.if_range, etag, last_modified))
    ):
        try:
            ranges = parse_range(request.range, meta.size, max_ranges=options.max_ranges)
        except MalformedRange:
            ranges = None
        except RangeNotSatisfiable:
            return ResponsePlan(
                416,
                (
                    ("Content-Range", f"bytes */{meta.size}"),
                    ("Content-Length", "0"),
                    *common,
                ),
            )

    # Step 6: the normal response.
    if ranges is None:
        whole = FilePart(0, meta.size)
        headers = (("Content-Type", content_type), ("Content-Length", str(meta.size)), *common)
        return ResponsePlan(
            200, headers, () if head or not meta.size else (whole,), whole_file=True
        )
    if len(ranges) == 1:
        only = ranges[0]
        headers = (
            ("Content-Type", content_type),
            ("Content-Length", str(only.length)),
            ("Content-Range", only.content_range(meta.size)),
            *common,
        )
        body: tuple[Segment, ...] = () if head else (FilePart(only.first, only.length),)
        return ResponsePlan(206, headers, body, whole_file=only.length == meta.size and not head)
    return _multipart(ranges, meta.size, content_type, common, head, boundary)


def _precondition_failed(common: tuple[tuple[str, str], ...]) -> ResponsePlan:
    return ResponsePlan(412, (("Content-Length", "0"), *common))


def _multipart(
    ranges: list[ByteRange],
    size: int,
    content_type: str,
    common: tuple[tuple[str, str], ...],
    head: bool,
    boundary: str | None,
) -> ResponsePlan:
    """A ``multipart/byteranges`` body (RFC 9110 §14.6), laid out as::

        --BOUNDARY\\r\\n
        Content-Type: image/jpeg\\r\\n
        Content-Range: bytes 0-99/5000\\r\\n
        \\r\\n
        <bytes 0-99 of the file>\\r\\n
        --BOUNDARY\\r\\n
        ...
        <bytes of the last range>\\r\\n
        --BOUNDARY--\\r\\n

    The boundary is random: 24 hex digits cannot be predicted by whoever uploaded the file.
    """
    mark = boundary or secrets.token_hex(12)
    body: list[Segment] = []
    for index, byte_range in enumerate(ranges):
        head_text = (
            f"{'' if index == 0 else chr(13) + chr(10)}--{mark}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Range: {byte_range.content_range(size)}\r\n\r\n"
        )
        body.append(head_text.encode("latin-1"))
        body.append(FilePart(byte_range.first, byte_range.length))
    body.append(f"\r\n--{mark}--\r\n".encode("latin-1"))
    length = sum(len(s) if isinstance(s, bytes) else s.length for s in body)
    headers = (
        ("Content-Type", f"multipart/byteranges; boundary={mark}"),
        ("Content-Length", str(length)),
        *common,
    )
    return ResponsePlan(206, headers, () if head else tuple(body))
