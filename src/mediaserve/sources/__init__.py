"""Where bytes live. A source turns a mount-relative name into an open file and its metadata."""

from .base import LookupError_, NotFound, OpenFile, Refused, Source
from .local import LocalSource, safe_parts

__all__ = ["LocalSource", "LookupError_", "NotFound", "OpenFile", "Refused", "Source", "safe_parts"]
