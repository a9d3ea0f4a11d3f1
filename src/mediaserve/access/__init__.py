"""Who may read a file: per-prefix ``public`` / ``private`` / ``signed`` policies (``rules``)
and expiring HMAC-signed URLs (``signing``)."""

from .rules import (
    DEFER,
    NO_REQUEST,
    POLICIES,
    PRIVATE_CACHE_CONTROL,
    Access,
    BadSignature,
    Permission,
    Signer,
    Verdict,
    forbidden,
)

__all__ = [
    "DEFER",
    "NO_REQUEST",
    "POLICIES",
    "PRIVATE_CACHE_CONTROL",
    "Access",
    "BadSignature",
    "Permission",
    "Signer",
    "Verdict",
    "forbidden",
]
