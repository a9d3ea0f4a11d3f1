"""Content-Disposition (RFC 6266) with an RFC 8187 ``filename*`` for non-ASCII names.

The header value is built from a file's stored name, which is user input: quotes,
backslashes and control characters must never reach the header, or a name like
``a.txt"; filename="evil.html`` or one carrying CR/LF could rewrite the response.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from urllib.parse import quote

__all__ = ["content_disposition"]

# RFC 8187 §3.2.1 attr-char, minus nothing: the characters that may appear unencoded.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"
_FALLBACK_NAME = "download"
_MAX_NAME = 200


def _ascii_fallback(filename: str) -> str:
    """A quoted-string-safe ASCII approximation ("café.pdf" -> "cafe.pdf")."""
    decomposed = unicodedata.normalize("NFKD", filename)
    out = []
    for ch in decomposed:
        code = ord(ch)
        if code < 0x20 or code == 0x7F or ch in '"\\':
            out.append("_")
        elif code < 0x7F:
            out.append(ch)
        elif unicodedata.combining(ch):
            continue  # the accent of a decomposed letter
        else:
            out.append("_")
    text = "".join(out).strip(" .")
    return text[:_MAX_NAME] or _FALLBACK_NAME


@lru_cache(maxsize=1024)
def content_disposition(disposition: str, filename: str | None) -> str:
    """``attachment; filename="..."; filename*=UTF-8''...`` (or ``inline; ...``).

    ``filename*`` is added only when the ASCII fallback differs from the real name, as
    RFC 6266 §4.3 recommends sending both for the benefit of old clients.
    """
    if disposition not in ("inline", "attachment"):
        raise ValueError(f"disposition must be 'inline' or 'attachment', not {disposition!r}")
    if not filename:
        return disposition
    # Only the last path component is a file name; anything else is a leak of layout.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc/Cf: controls and invisible formatting; Cs: lone surrogates (a non-UTF-8 name read
    # from the file system with surrogateescape), which cannot be encoded for filename*.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    if not name:
        return disposition
    fallback = _ascii_fallback(name)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        encoded = quote(name[:_MAX_NAME], safe=_ATTR_CHAR_SAFE, encoding="utf-8")
        value += f"; filename*=UTF-8''{encoded}"
    return value
