"""The system checks (``mediaserve.E001``...; docs/checks.md), one module per area.

Importing this package registers them with Django (``MediaserveConfig.ready`` does).
"""

from . import core, offload, security, storage

__all__ = ["core", "offload", "security", "storage"]
