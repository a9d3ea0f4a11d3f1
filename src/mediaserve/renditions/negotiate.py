"""Which of a preset's formats a client gets, from its ``Accept`` header (RFC 9110 §12.5.1).

Only a format the client names explicitly (``image/avif``, ``image/webp``) is chosen over
the preset's fallback: ``*/*`` and ``image/*`` are sent by crawlers and by WhatsApp that do
not decode AVIF, so a wildcard means "the fallback" (JPEG). A format listed with ``q=0`` is
refused by the client and never chosen.
"""

from __future__ import annotations

from .presets import CONTENT_TYPES, Preset

__all__ = ["choose_format"]

#: Longer headers are not parsed (a browser's is under 200 bytes): the fallback is sent.
_MAX_ACCEPT = 2048


def _accepted(accept: str) -> dict[str, float]:
    """media range -> q, for the explicit ``image/<subtype>`` ranges in ``accept``."""
    found: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        media = media.lower()
        if not media.startswith("image/") or media == "image/*":
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0  # an unreadable weight: not a preference to honour
        found[media] = max(q, found.get(media, 0.0)) if media in found else q
    return found


def choose_format(preset: Preset, accept: str | None) -> str:
    """The first of ``preset.formats`` the client explicitly accepts, else the fallback."""
    if not accept or len(accept) > _MAX_ACCEPT or not preset.negotiated:
        return preset.fallback
    accepted = _accepted(accept)
    for fmt in preset.formats[:-1]:
        if accepted.get(CONTENT_TYPES[fmt], 0.0) > 0.0:
            return fmt
    return preset.fallback
