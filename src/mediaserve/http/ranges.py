"""Byte ranges (RFC 9110 §14).

``parse_range`` turns a ``Range`` header into the byte ranges to send. The two ways it
can decline are exceptions, because they lead to different responses:

* ``MalformedRange`` -- the header is not a valid ``bytes`` range set (or asks for too
  much work); §14.2 lets a server ignore Range, so the caller sends 200 and the whole file.
* ``RangeNotSatisfiable`` -- valid, but no range overlaps the file; the caller sends 416.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ByteRange", "MalformedRange", "RangeNotSatisfiable", "parse_range"]


class RangeError(Exception):
    """Base class of the ways a Range header can be declined."""


class MalformedRange(RangeError):
    """Not a usable byte range set: ignore the header (RFC 9110 §14.2)."""


class RangeNotSatisfiable(RangeError):
    """No range-spec overlaps the representation: 416 (RFC 9110 §15.5.17)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive byte range ``first``..``last``, as Content-Range writes it."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        """§14.4: ``bytes first-last/complete-length``."""
        return f"bytes {self.first}-{self.last}/{size}"


# A range set longer than this many specs is treated as malformed before any sorting:
# the cost of parsing stays linear in a header that the server already bounds in size.
MAX_SPECS = 1000
# 2**63 - 1 has 19 digits; longer numbers only serve to make int() expensive.
_MAX_DIGITS = 19


def _parse_pos(text: str) -> int:
    if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        raise MalformedRange(f"not a byte position: {text[:20]!r}")
    return int(text)


def parse_range(value: str, size: int, *, max_ranges: int) -> list[ByteRange]:
    """The ranges of a ``size``-byte file selected by ``value``, sorted and coalesced.

    Overlapping and adjacent ranges are merged (§14.6 allows coalescing regardless of
    the order they were asked in), which also defeats the "many overlapping ranges"
    amplification the RFC warns about in §17.15. More than ``max_ranges`` ranges left
    after merging is treated as malformed: the client gets the whole file once.
    """
    unit, sep, range_set = value.partition("=")
    # §14.1: range-unit is case-insensitive; "bytes" is the only unit a file server knows.
    if not sep or unit.strip().lower() != "bytes":
        raise MalformedRange("range unit is not bytes")
    specs = range_set.split(",")
    if len(specs) > MAX_SPECS:
        raise MalformedRange(f"more than {MAX_SPECS} range specs")
    wanted: list[ByteRange] = []
    saw_spec = False
    for raw in specs:
        spec = raw.strip(" \t")
        if not spec:
            continue  # §5.6.1: empty list elements are ignored
        saw_spec = True
        first_text, dash, last_text = spec.partition("-")
        if not dash:
            raise MalformedRange("range spec without '-'")
        if first_text == "":
            # suffix-range: the last N bytes (§14.1.1)
            suffix = _parse_pos(last_text)
            if suffix > 0 and size > 0:
                wanted.append(ByteRange(max(0, size - suffix), size - 1))
            continue
        first = _parse_pos(first_text)
        if last_text == "":
            last = size - 1
        else:
            last = _parse_pos(last_text)
            if last < first:
                # §14.1.1: an int-range with last-pos < first-pos is invalid, so is the header.
                raise MalformedRange("last-pos before first-pos")
            last = min(last, size - 1)
        if first < size:
            wanted.append(ByteRange(first, last))
    if not saw_spec:
        raise MalformedRange("empty range set")
    if not wanted:
        raise RangeNotSatisfiable
    wanted.sort(key=lambda r: r.first)
    merged = [wanted[0]]
    for current in wanted[1:]:
        previous = merged[-1]
        if current.first <= previous.last + 1:
            if current.last > previous.last:
                merged[-1] = ByteRange(previous.first, current.last)
        else:
            merged.append(current)
    if len(merged) > max_ranges:
        raise MalformedRange(f"{len(merged)} ranges after merging, over the cap of {max_ranges}")
    return merged
