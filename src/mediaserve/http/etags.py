"""Entity tags (RFC 9110 §8.8.3) and their comparison (§8.8.3.2).

A list header such as If-None-Match is parsed into ``ETagList``. Parsing is total: a
malformed list yields ``None`` and the precondition code treats the header as if it
matched nothing the server could have generated, which is the conservative reading.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["ETag", "ETagList", "make_etag", "parse_etag", "parse_etag_list"]

# etagc = %x21 / %x23-7E / obs-text  (RFC 9110 §8.8.3)
_ETAGC = frozenset(range(0x21, 0x7F)) - {0x22} | frozenset(range(0x80, 0x100))


@dataclass(frozen=True, slots=True)
class ETag:
    """An entity tag: opaque-tag without quotes, and whether it carries the ``W/`` prefix."""

    opaque: str
    weak: bool = False

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'

    def strong_match(self, other: ETag) -> bool:
        """§8.8.3.2: both strong and identical."""
        return not self.weak and not other.weak and self.opaque == other.opaque

    def weak_match(self, other: ETag) -> bool:
        """§8.8.3.2: opaque-tags identical, weakness ignored."""
        return self.opaque == other.opaque


@dataclass(frozen=True, slots=True)
class ETagList:
    """A parsed ``If-Match``/``If-None-Match`` value: ``*`` or a list of tags."""

    any: bool
    tags: tuple[ETag, ...] = ()


def make_etag(size: int, mtime_ns: int, identity: str) -> ETag:
    """A strong validator for one version of one file.

    It changes whenever the size, the nanosecond mtime or the file identity (device and
    inode, so a file replaced by rename gets a new tag even with equal size and mtime)
    changes. The inputs are hashed so the tag does not disclose inode numbers.
    """
    digest = hashlib.blake2b(f"{size}:{mtime_ns}:{identity}".encode(), digest_size=12).hexdigest()
    return ETag(digest)


def _is_opaque(text: str) -> bool:
    return all(ord(ch) in _ETAGC for ch in text)


def parse_etag(value: str) -> ETag | None:
    """One entity-tag, or ``None`` when malformed (used by If-Range)."""
    text = value.strip()
    weak = text.startswith("W/")
    if weak:
        text = text[2:]
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    opaque = text[1:-1]
    if not _is_opaque(opaque):
        return None
    return ETag(opaque, weak)


def parse_etag_list(value: str | None) -> ETagList | None:
    """``*`` or ``#entity-tag``; ``None`` when absent or malformed.

    Commas may appear inside an opaque-tag, so the list is scanned by quotes rather
    than split on commas.
    """
    if value is None:
        return None
    text = value.strip()
    if text == "*":
        return ETagList(any=True)
    tags: list[ETag] = []
    i, n = 0, len(text)
    while i < n:
        # skip list separators and optional whitespace (RFC 9110 §5.6.1 allows empty elements)
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            break
        weak = text.startswith("W/", i)
        if weak:
            i += 2
        if i >= n or text[i] != '"':
            return None
        end = text.find('"', i + 1)
        if end < 0:
            return None
        opaque = text[i + 1 : end]
        if not _is_opaque(opaque):
            return None
        tags.append(ETag(opaque, weak))
        i = end + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] != ",":
            return None
    if not tags:
        return None
    return ETagList(any=False, tags=tuple(tags))
