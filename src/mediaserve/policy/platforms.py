"""What Meta's platforms accept, per kind of media: one table for uploads and the doctor.

``uploads/validate.py`` refuses an upload WhatsApp would refuse; the doctor's ``consumer``
hop reports a served file Meta would refuse. Both read the numbers here, so they cannot
disagree (they did: the doctor let a 400 KB static sticker pass).

Sources: Meta's WhatsApp Cloud API documentation, "Supported media types" and "Sticker
messages" (image JPEG/PNG 5 MB; video MP4/3GPP 16 MB; audio AAC/AMR/MP3/MP4/OGG-Opus 16 MB;
document 100 MB; sticker WebP 100 KB static, 500 KB animated, 512x512 px), and the catalog
image requirements of Meta's Commerce Manager (JPEG/PNG, at least 500x500 px,
1024x1024 recommended, 8 MB).
Link previews (the og:image WhatsApp and Facebook show for a shared link): a 1200x630 card
(1.91:1, Meta's Sharing "Images in link shares" guidance) under 600 KB, WhatsApp's limit for
a preview image to be shown.

MB and KB are read as 1024-based: the generous reading, so nothing Meta takes is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "KB",
    "LINK_PREVIEW_IMAGE",
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

KB = 1024
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MediaKind:
    """One kind of media a platform accepts: which types, how large, what dimensions."""

    name: str
    #: Content-Types (without parameters) the platform accepts for this kind.
    types: frozenset[str]
    max_bytes: int
    #: The limit for an animated file when it differs (WhatsApp stickers).
    animated_max_bytes: int | None = None
    #: Width and height the platform requires exactly (WhatsApp stickers).
    exact_px: tuple[int, int] | None = None
    #: The smallest width and height the platform takes (catalog images).
    min_side_px: int | None = None
    #: The size the platform recommends (renditions are built to it; nothing is refused).
    recommended_px: tuple[int, int] | None = None

    def max_bytes_for(self, *, animated: bool = False) -> int:
        """The size limit for a file of this kind, animated or not."""
        if animated and self.animated_max_bytes is not None:
            return self.animated_max_bytes
        return self.max_bytes


WHATSAPP_IMAGE = MediaKind("image", frozenset({"image/jpeg", "image/png"}), 5 * MB)
WHATSAPP_VIDEO = MediaKind("video", frozenset({"video/mp4", "video/3gpp"}), 16 * MB)
WHATSAPP_AUDIO = MediaKind(
    "audio",
    # audio/ogg with the Opus codec only, says Meta; the type cannot tell the codec.
    frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
    16 * MB,
)
WHATSAPP_STICKER = MediaKind(
    "sticker",
    frozenset({"image/webp"}),
    100 * KB,
    animated_max_bytes=500 * KB,
    exact_px=(512, 512),
)
WHATSAPP_DOCUMENT = MediaKind(
    "document",
    frozenset(
        {
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
    100 * MB,
)

#: Every kind the WhatsApp Cloud API sends, in the order a type is looked up.
WHATSAPP: tuple[MediaKind, ...] = (
    WHATSAPP_IMAGE,
    WHATSAPP_VIDEO,
    WHATSAPP_AUDIO,
    WHATSAPP_STICKER,
    WHATSAPP_DOCUMENT,
)

META_CATALOG_IMAGE = MediaKind(
    "catalog image",
    frozenset({"image/jpeg", "image/png"}),
    8 * MB,
    min_side_px=500,
    recommended_px=(1024, 1024),
)


def whatsapp_kind(*content_types: str | None) -> MediaKind | None:
    """The first WhatsApp kind (in table order) that accepts any of ``content_types``, e.g.
    the type a server declared and the type its bytes show."""
    for kind in WHATSAPP:
        if any(content_type in kind.types for content_type in content_types):
            return kind
    return None


LINK_PREVIEW_IMAGE = MediaKind(
    "link preview image",
    frozenset({"image/jpeg", "image/png"}),
    600 * KB,
    recommended_px=(1200, 630),
)
