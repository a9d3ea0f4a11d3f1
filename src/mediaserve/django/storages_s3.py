"""Reading a django-storages S3 storage's configuration, without importing django-storages.

``STORAGES[alias]`` with ``BACKEND: "storages.backends.s3.S3Storage"`` (or the older
``s3boto3.S3Boto3Storage``) describes a bucket. Serving it through the storage API would
go through ``S3File``, which downloads the whole object to a temporary file before the
first byte; instead, ``BACKEND: "django"`` on such an alias is served by mediaserve's own
S3 source built from the same options (ranged GETs, fast presigning).

Each option is read from ``OPTIONS`` first, then from the global setting django-storages
falls back to (its documented names: ``bucket_name`` / ``AWS_STORAGE_BUCKET_NAME``...).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

__all__ = ["S3_BACKENDS", "s3_options", "unsigned_custom_domain"]

S3_BACKENDS = (
    "storages.backends.s3.S3Storage",
    "storages.backends.s3boto3.S3Boto3Storage",
    "storages.backends.s3.S3StaticStorage",
    "storages.backends.s3boto3.S3StaticStorage",
    "storages.backends.s3.S3ManifestStaticStorage",
)

# option -> the global settings django-storages reads when the option is absent (in order)
_FALLBACKS: dict[str, tuple[str, ...]] = {
    "bucket_name": ("AWS_STORAGE_BUCKET_NAME",),
    "endpoint_url": ("AWS_S3_ENDPOINT_URL",),
    "region_name": ("AWS_S3_REGION_NAME",),
    "access_key": ("AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    "secret_key": ("AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    "addressing_style": ("AWS_S3_ADDRESSING_STYLE",),
    "location": ("AWS_LOCATION",),
    "custom_domain": ("AWS_S3_CUSTOM_DOMAIN",),
    "url_protocol": ("AWS_S3_URL_PROTOCOL",),
    "querystring_auth": ("AWS_QUERYSTRING_AUTH",),
    "cloudfront_key_id": ("AWS_CLOUDFRONT_KEY_ID",),
    "cloudfront_key": ("AWS_CLOUDFRONT_KEY",),
}
_DEFAULTS: dict[str, Any] = {"url_protocol": "https:", "querystring_auth": True, "location": ""}


def _storage_entry(alias: str) -> dict[str, Any] | None:
    entry = (getattr(settings, "STORAGES", None) or {}).get(alias)
    return entry if isinstance(entry, dict) else None


def s3_options(alias: str) -> dict[str, Any] | None:
    """The django-storages S3 options of ``STORAGES[alias]``, or None when it is not one."""
    entry = _storage_entry(alias)
    if entry is None or str(entry.get("BACKEND", "")) not in S3_BACKENDS:
        return None
    options = entry.get("OPTIONS") or {}
    found: dict[str, Any] = {}
    for option, fallbacks in _FALLBACKS.items():
        value = options.get(option)
        for name in fallbacks:
            if value is not None:
                break
            value = getattr(settings, name, None)
        found[option] = _DEFAULTS.get(option) if value is None else value
    return found


def unsigned_custom_domain(alias: str) -> str | None:
    """A reason when ``STORAGES[alias]`` expects signed URLs but will hand out unsigned ones.

    django-storages signs URLs (``querystring_auth``, on by default) only on the bucket's
    own host: with a ``custom_domain`` it signs only with CloudFront keys, and without them
    it silently returns plain, permanent URLs to objects the bucket may not even serve.
    """
    options = s3_options(alias)
    if not options or not options["custom_domain"] or not options["querystring_auth"]:
        return None
    if options["cloudfront_key_id"] and options["cloudfront_key"]:
        return None
    return (
        f"STORAGES[{alias!r}] sets custom_domain {options['custom_domain']!r} with "
        "querystring_auth on but no cloudfront_key_id/cloudfront_key: django-storages then "
        "returns unsigned URLs that never expire (signing silently dropped)"
    )
