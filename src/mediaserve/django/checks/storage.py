"""System checks for ``MEDIASERVE["STORAGE"]`` (ids mediaserve.E030-E039 / W030-W039).

The static checks run with every ``manage.py check`` and server start. The one that talks
to the store (does the bucket exist, are the credentials accepted?) is a deployment check:
``manage.py check --deploy`` runs it, so CI and local development without network access
are not slowed or failed by it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from ..conf import SettingsError, read_values
from ..storage import SETTING, StorageSettingsError, build_store_driver, read_storage
from .security import restricted_prefixes, shown_prefixes

__all__ = ["check_storage", "check_storage_reachable", "check_storages_signing"]


def _storage_values() -> dict[str, Any] | CheckMessage | None:
    user = getattr(settings, "MEDIASERVE", None)
    storage = user.get("STORAGE") if isinstance(user, dict) else None
    if storage is None:
        return None
    if not isinstance(storage, dict):
        return None  # E001 reports the type
    try:
        return read_storage(storage)
    except StorageSettingsError as exc:
        return Error(
            str(exc),
            hint="See docs/deploy/object-storage.md for every STORAGE key.",
            id="mediaserve.E030",
        )


@register(Tags.compatibility)
def check_storage(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    values = _storage_values()
    if values is None:
        return []
    if isinstance(values, CheckMessage):
        return [values]
    messages: list[CheckMessage] = []
    if values["BACKEND"] == "s3" and importlib.util.find_spec("boto3") is None:
        messages.append(
            Error(
                f"{SETTING}['BACKEND'] is 's3' but boto3 is not installed.",
                hint="pip install 'mediaserve[s3]'",
                id="mediaserve.E031",
            )
        )
    if values["BACKEND"] == "django":
        aliases = getattr(settings, "STORAGES", {}) or {}
        alias = values["STORAGE_ALIAS"]
        if alias not in aliases:
            messages.append(
                Error(
                    f"{SETTING}['STORAGE_ALIAS'] is {alias!r}, which is not in STORAGES.",
                    hint=f"Use one of {', '.join(map(repr, aliases)) or 'the STORAGES keys'}.",
                    id="mediaserve.E032",
                )
            )
        elif values["MODE"] == "redirect" and str(aliases[alias].get("BACKEND", "")).endswith(
            "FileSystemStorage"
        ):
            messages.append(
                Error(
                    f"{SETTING} redirects to STORAGES[{alias!r}].url(), which for "
                    "FileSystemStorage is MEDIA_URL itself: every request would redirect "
                    "to itself.",
                    hint="Use MODE 'proxy', or drop STORAGE and serve MEDIA_ROOT directly.",
                    id="mediaserve.E033",
                )
            )
    public_url = values["PUBLIC_URL"]
    if values["MODE"] == "redirect" and public_url:
        private = _restricted()
        if private:
            messages.append(
                Error(
                    f"{SETTING}['PUBLIC_URL'] sends every request to {public_url} unsigned, "
                    f"but MEDIASERVE['ACCESS'] makes {shown_prefixes(private)} private: "
                    "anyone with the URL could read those files from the bucket.",
                    hint="Remove PUBLIC_URL so redirects are presigned, or use MODE 'proxy' "
                    "for private media.",
                    id="mediaserve.E034",
                )
            )
        elif not values["PUBLIC"]:
            messages.append(
                Warning(
                    f"{SETTING}['PUBLIC_URL'] is set: redirects go to {public_url} without "
                    "a signature (a custom domain cannot carry S3 presigning), so objects "
                    "must be publicly readable there, and nothing expires.",
                    hint="If the bucket (or CDN) is meant to be public, set "
                    f"{SETTING}['PUBLIC'] = True. If it is private, remove PUBLIC_URL so "
                    "redirects are presigned with EXPIRY, or use a CDN that signs URLs.",
                    id="mediaserve.W030",
                )
            )
    if values["BACKEND"] == "s3" and not values["ENDPOINT_URL"] and not values["REGION"]:
        messages.append(
            Warning(
                f"{SETTING} sets neither ENDPOINT_URL nor REGION: boto3 will guess AWS S3 "
                "and a region from the environment, which for MinIO, SeaweedFS, R2 or a "
                "bucket outside us-east-1 means failed or redirected requests.",
                hint=f"Set {SETTING}['ENDPOINT_URL'] (any S3-compatible store) or "
                f"{SETTING}['REGION'] (AWS).",
                id="mediaserve.W031",
            )
        )
    return messages


@register(Tags.security)
def check_storages_signing(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """W032: a django-storages S3 storage whose custom domain silently drops signing.

    Runs whether or not MEDIASERVE["STORAGE"] is set: uploads linked with ``.url`` leak
    either way.
    """
    from ..storages_s3 import unsigned_custom_domain

    messages: list[CheckMessage] = []
    for alias in getattr(settings, "STORAGES", None) or {}:
        reason = unsigned_custom_domain(str(alias))
        if reason:
            messages.append(
                Warning(
                    reason + ".",
                    hint="Set cloudfront_key_id and cloudfront_key (CloudFront signed URLs), "
                    "or querystring_auth=False if the objects are meant to be public, or "
                    "drop custom_domain and serve through MEDIASERVE['STORAGE'] "
                    "(presigned redirects on the bucket's host, or proxy mode).",
                    id="mediaserve.W032",
                )
            )
    return messages


def _restricted() -> tuple[str, ...]:
    """The prefixes Access restricts (``()`` when the settings are broken: E001 says so)."""
    try:
        return restricted_prefixes(read_values())
    except SettingsError:
        return ()


@register(Tags.security, deploy=True)
def check_storage_reachable(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``check --deploy``: the bucket exists and accepts the configured credentials."""
    values = _storage_values()
    if not isinstance(values, dict) or values["BACKEND"] != "s3":
        return []
    from ...sources.remote import Unavailable
    from ...sources.s3 import S3Source

    source = build_store_driver(values)
    assert isinstance(source, S3Source)
    try:
        source.client.head_bucket(Bucket=source.settings.bucket)
    except Exception as exc:
        error = source._translate(exc, "")
        if not isinstance(error, Unavailable):  # a bare 404: HEAD of a missing bucket
            reason = f"{source.endpoint}: the bucket does not exist"
            hint = f"Create the bucket, or fix {SETTING}['BUCKET']."
        else:
            reason = error.reason
            hint = "Media requests answer 503 until this is fixed."
        return [Error(reason, hint=hint, id="mediaserve.E035")]
    return []
