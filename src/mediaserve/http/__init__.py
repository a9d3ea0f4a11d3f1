"""The sans-IO HTTP core: RFC 9110 decisions from plain data (no Django, no sockets)."""

from .content_types import guess_type, is_active
from .dates import format_http_date, parse_http_date
from .disposition import content_disposition
from .etags import ETag, make_etag, parse_etag, parse_etag_list
from .plan import (
    FileMeta,
    FilePart,
    RequestHeaders,
    ResponsePlan,
    Segment,
    ServeOptions,
    method_not_allowed,
    not_found,
    plan,
)
from .ranges import ByteRange, MalformedRange, RangeNotSatisfiable, parse_range

__all__ = [
    "ByteRange",
    "ETag",
    "FileMeta",
    "FilePart",
    "MalformedRange",
    "RangeNotSatisfiable",
    "RequestHeaders",
    "ResponsePlan",
    "Segment",
    "ServeOptions",
    "content_disposition",
    "format_http_date",
    "guess_type",
    "is_active",
    "make_etag",
    "method_not_allowed",
    "not_found",
    "parse_etag",
    "parse_etag_list",
    "parse_http_date",
    "parse_range",
    "plan",
]
