"""Access control from the ``MEDIASERVE`` settings, and signed URLs for templates and code.

``MEDIASERVE["ACCESS"]`` maps name prefixes (relative to MEDIA_ROOT) to ``"public"``,
``"private"`` or ``"signed"``. URLs are signed with a key derived from ``SECRET_KEY`` and
verified with it and every ``SECRET_KEY_FALLBACKS`` key, so rotating the secret the Django
way keeps links already sent working until the fallback is dropped.

``pipeline.get_pipeline`` builds it with the rest of the pipeline, when first needed and again
when a relevant setting changes (``override_settings`` in tests).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils.module_loading import import_string

from ..access.rules import Access, Permission, Signer
from .conf import SettingsError, read_values

__all__ = ["build_access", "signed_url", "signer", "staff_only"]


def staff_only(request: Any, name: str) -> bool:
    """The default permission for private media: an active staff user.

    Needs ``AuthenticationMiddleware`` (``request.user``); without it nobody is admitted,
    which is the safe failure (system check mediaserve.W041 says so at start-up).
    """
    user = getattr(request, "user", None)
    return bool(
        user is not None and getattr(user, "is_active", False) and getattr(user, "is_staff", False)
    )


def signer() -> Signer:
    """The signer for ``SECRET_KEY`` with ``SECRET_KEY_FALLBACKS`` accepted for verification."""
    key = getattr(settings, "SECRET_KEY", "")
    if not key:
        raise SettingsError("signed media URLs need SECRET_KEY to be set")
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", None) or ()
    return Signer(key, fallbacks)


def _permission(path: str | None) -> Permission:
    if path is None:
        return staff_only
    try:
        found = import_string(path)
    except ImportError as exc:
        raise SettingsError(
            f"MEDIASERVE['PERMISSION'] {path!r} cannot be imported: {exc}"
        ) from None
    if not callable(found):
        raise SettingsError(f"MEDIASERVE['PERMISSION'] {path!r} is not callable")
    permission: Permission = found
    return permission


def build_access(values: dict[str, Any]) -> Access | None:
    """The Access for validated MEDIASERVE values, or None when every name is public."""
    rules = values["ACCESS"]
    if not rules:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in rules.items()):
        raise SettingsError(
            "MEDIASERVE['ACCESS'] maps name prefixes to policies, e.g. "
            "{'invoices/': 'private', 'whatsapp/': 'signed'}"
        )
    try:
        return Access(
            rules,
            signer=signer() if getattr(settings, "SECRET_KEY", "") else None,
            permission=_permission(values["PERMISSION"]),
            denied_status=values["DENIED_STATUS"],
        )
    except ValueError as exc:
        raise SettingsError(f"MEDIASERVE: {exc}") from None


def _name_of(file_or_name: Any) -> str:
    # A FieldFile (or any storage File) carries its storage name in ``.name``.
    name = file_or_name if isinstance(file_or_name, str) else getattr(file_or_name, "name", None)
    if not name or not isinstance(name, str):
        raise ValueError("signed_url needs a file name or a FieldFile with a file")
    return name


def signed_url(file_or_name: Any, expires_in: int | None = None, method: str | None = None) -> str:
    """MEDIA_URL + the name + a signature valid for ``expires_in`` seconds
    (``MEDIASERVE["SIGNED_EXPIRES"]`` by default), for ``method`` only when given.

    Accepts a storage name (``"invoices/2024/7.pdf"``) or a FieldFile (``order.invoice``).
    The URL is relative to the site like MEDIA_URL; make it absolute with
    ``request.build_absolute_uri(url)`` before sending it to WhatsApp or an e-mail.
    """
    name = _name_of(file_or_name)
    lifetime = read_values()["SIGNED_EXPIRES"] if expires_in is None else expires_in
    media_url = str(getattr(settings, "MEDIA_URL", "") or "/")
    query = signer().query(name, expires_in=lifetime, method=method)
    base = media_url if media_url.endswith("/") else media_url + "/"
    return f"{base}{quote(name, safe='/')}?{query}"
