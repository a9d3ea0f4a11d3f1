"""Compatibility alias: ``mediaserve.validators`` moved to ``mediaserve.django.validators``.

Kept because Django migrations written with 0.1 name ``mediaserve.validators.UploadValidator``
in their field definitions, and a migration cannot be re-pointed by a deprecation warning.
New code (and new migrations: ``deconstruct()`` names the new path) uses the new module.
"""

from .django.validators import *  # noqa: F403
from .django.validators import __all__ as __all__
