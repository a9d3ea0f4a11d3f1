"""Upload validation without Django: what a file really is (``sniff``), whether it may be
stored (``check_upload`` against ``UploadRules``) and a safe name to store it under.

The Django validators and storage built on this are ``mediaserve.django.validators``.
"""

from .validate import (
    DEFAULT_LIMITS,
    EXTENSIONS,
    UploadProblem,
    UploadRules,
    check_upload,
    is_animated_webp,
    safe_name,
    sniff,
)

__all__ = [
    "DEFAULT_LIMITS",
    "EXTENSIONS",
    "UploadProblem",
    "UploadRules",
    "check_upload",
    "is_animated_webp",
    "safe_name",
    "sniff",
]
