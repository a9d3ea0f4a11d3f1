"""Policy tables: facts that several layers must read the same way, kept in one place.

Layer 2 (ARCHITECTURE.md): imports nothing of mediaserve above ``http/``. Uploads, the
doctor and the proxy-config generators read these tables; none keeps a copy.
"""

from .platforms import (
    KB,
    MB,
    META_CATALOG_IMAGE,
    WHATSAPP,
    WHATSAPP_AUDIO,
    WHATSAPP_DOCUMENT,
    WHATSAPP_IMAGE,
    WHATSAPP_STICKER,
    WHATSAPP_VIDEO,
    MediaKind,
    whatsapp_kind,
)

__all__ = [
    "KB",
    "MB",
    "META_CATALOG_IMAGE",
    "WHATSAPP",
    "WHATSAPP_AUDIO",
    "WHATSAPP_DOCUMENT",
    "WHATSAPP_IMAGE",
    "WHATSAPP_STICKER",
    "WHATSAPP_VIDEO",
    "MediaKind",
    "whatsapp_kind",
]
