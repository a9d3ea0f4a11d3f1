"""``MEDIASERVE["STORAGE"]``: media in object storage, validated and turned into a mount.

::

    MEDIASERVE = {
        "STORAGE": {
            "BACKEND": "s3",            # or "django": STORAGES[STORAGE_ALIAS]
            "MODE": "proxy",            # or "redirect"
            "BUCKET": "media",
            "ENDPOINT_URL": "https://s3.eu-central-1.amazonaws.com",
            "ACCESS_KEY_ID": env("S3_KEY"), "SECRET_ACCESS_KEY": env("S3_SECRET"),
        },
    }

Every key is checked here with a message naming it (``MEDIASERVE['STORAGE']['EXPIRY']``),
surfaced at startup by the system check mediaserve.E030; values never appear in messages
for the two credential keys.
"""

from __future__ import annotations

from typing import Any

from ..http.plan import ServeOptions
from ..pipeline.mount import Mount
from ..pipeline.store import MODES, StoreOptions
from ..sources.remote import RemoteSource, StoreSource
from ..sources.s3 import S3Settings, S3Source
from ..sources.storage import DjangoStorageSource
from .conf import merged_and_typed

__all__ = [
    "STORAGE_DEFAULTS",
    "StorageSettingsError",
    "build_storage_mount",
    "build_store_driver",
    "read_storage",
]

SETTING = "MEDIASERVE['STORAGE']"

STORAGE_DEFAULTS: dict[str, Any] = {
    "BACKEND": "s3",
    "MODE": "proxy",
    "BUCKET": None,
    "ENDPOINT_URL": None,
    "REGION": None,
    "ACCESS_KEY_ID": None,
    "SECRET_ACCESS_KEY": None,
    "ADDRESSING_STYLE": "auto",
    # Key prefix inside the bucket ("media" -> objects "media/products/1.jpg").
    "LOCATION": "",
    # Public or CDN base URL (custom domain): redirect there, unsigned.
    "PUBLIC_URL": None,
    # Presigned URL life, in seconds. Short: a leaked URL stops working soon.
    "EXPIRY": 300,
    "REDIRECT_STATUS": 302,
    # A worker waits at most about (CONNECT_TIMEOUT + READ_TIMEOUT) * MAX_ATTEMPTS for a
    # store that does not answer, then answers 503.
    "CONNECT_TIMEOUT": 2.0,
    "READ_TIMEOUT": 5.0,
    "MAX_ATTEMPTS": 2,
    "RETRY_AFTER": 5,
    # BACKEND "django": which entry of STORAGES.
    "STORAGE_ALIAS": "default",
    # Redirect mode with PUBLIC_URL serves without signatures: set True to say the
    # bucket is meant to be public (silences mediaserve.W031).
    "PUBLIC": False,
    # MODE "offload": the nginx internal location that proxies to the store.
    "OFFLOAD_LOCATION": "/_mediaserve_store/",
}

_TYPES: dict[str, tuple[type, ...]] = {
    "BACKEND": (str,),
    "MODE": (str,),
    "BUCKET": (str, type(None)),
    "ENDPOINT_URL": (str, type(None)),
    "REGION": (str, type(None)),
    "ACCESS_KEY_ID": (str, type(None)),
    "SECRET_ACCESS_KEY": (str, type(None)),
    "ADDRESSING_STYLE": (str,),
    "LOCATION": (str,),
    "PUBLIC_URL": (str, type(None)),
    "EXPIRY": (int,),
    "REDIRECT_STATUS": (int,),
    "CONNECT_TIMEOUT": (int, float),
    "READ_TIMEOUT": (int, float),
    "MAX_ATTEMPTS": (int,),
    "RETRY_AFTER": (int,),
    "STORAGE_ALIAS": (str,),
    "PUBLIC": (bool,),
    "OFFLOAD_LOCATION": (str,),
}

_SECRET_KEYS = frozenset({"ACCESS_KEY_ID", "SECRET_ACCESS_KEY"})


class StorageSettingsError(ValueError):
    """A STORAGE value that cannot work; the message names the key and the fix."""


def _name(key: str) -> str:
    return f"{SETTING}[{key!r}]"


def read_storage(user: dict[str, Any]) -> dict[str, Any]:
    """``STORAGE`` merged over the defaults and checked; raises StorageSettingsError."""
    values = merged_and_typed(
        SETTING, user, STORAGE_DEFAULTS, _TYPES, StorageSettingsError, _SECRET_KEYS
    )
    if values["BACKEND"] not in ("s3", "django"):
        raise StorageSettingsError(
            f"{_name('BACKEND')} must be 's3' or 'django', not {values['BACKEND']!r}"
        )
    if values["MODE"] not in MODES:
        raise StorageSettingsError(
            f"{_name('MODE')} must be one of {', '.join(map(repr, MODES))}, not {values['MODE']!r}"
        )
    if values["BACKEND"] == "s3" and not values["BUCKET"]:
        raise StorageSettingsError(
            f"{_name('BUCKET')} is not set: name the bucket that holds the media"
        )
    if values["EXPIRY"] < 1 or values["EXPIRY"] > 7 * 24 * 3600:
        raise StorageSettingsError(
            f"{_name('EXPIRY')} must be 1-604800 seconds (SigV4's limit is 7 days), "
            f"not {values['EXPIRY']}"
        )
    if values["REDIRECT_STATUS"] not in (302, 303, 307):
        raise StorageSettingsError(f"{_name('REDIRECT_STATUS')} must be 302, 303 or 307")
    for key in ("CONNECT_TIMEOUT", "READ_TIMEOUT"):
        if not 0 < values[key] <= 300:
            raise StorageSettingsError(f"{_name(key)} must be between 0 and 300 seconds")
    if not 1 <= values["MAX_ATTEMPTS"] <= 10:
        raise StorageSettingsError(f"{_name('MAX_ATTEMPTS')} must be 1-10")
    if values["RETRY_AFTER"] < 0:
        raise StorageSettingsError(f"{_name('RETRY_AFTER')} must be 0 or more seconds")
    location = values["OFFLOAD_LOCATION"]
    if not (location.startswith("/") and location.endswith("/")) or any(
        ch in location for ch in "?#\r\n\0 "
    ):
        raise StorageSettingsError(
            f"{_name('OFFLOAD_LOCATION')} must be a path starting and ending with '/', "
            "e.g. '/_mediaserve_store/'"
        )
    if values["ADDRESSING_STYLE"] not in ("auto", "path", "virtual"):
        raise StorageSettingsError(f"{_name('ADDRESSING_STYLE')} must be auto, path or virtual")
    for key in ("ENDPOINT_URL", "PUBLIC_URL"):
        url = values[key]
        if url and not url.startswith(("http://", "https://")):
            raise StorageSettingsError(f"{_name(key)} must start with https:// (or http://)")
    if (values["ACCESS_KEY_ID"] is None) != (values["SECRET_ACCESS_KEY"] is None):
        raise StorageSettingsError(
            f"set both {_name('ACCESS_KEY_ID')} and {_name('SECRET_ACCESS_KEY')}, or neither "
            "(then boto3's usual sources apply: AWS_* variables, instance roles)"
        )
    return values


def s3_settings(values: dict[str, Any], allow_dotfiles: bool = False) -> S3Settings:
    return S3Settings(
        bucket=values["BUCKET"],
        endpoint_url=values["ENDPOINT_URL"],
        region=values["REGION"],
        access_key_id=values["ACCESS_KEY_ID"],
        secret_access_key=values["SECRET_ACCESS_KEY"],
        addressing_style=values["ADDRESSING_STYLE"],
        location=values["LOCATION"],
        public_url=values["PUBLIC_URL"],
        connect_timeout=float(values["CONNECT_TIMEOUT"]),
        read_timeout=float(values["READ_TIMEOUT"]),
        max_attempts=values["MAX_ATTEMPTS"],
        allow_dotfiles=allow_dotfiles,
        setting=SETTING,
    )


def _django_storages_s3(values: dict[str, Any], allow_dotfiles: bool) -> S3Source | None:
    """An S3 source for ``STORAGES[STORAGE_ALIAS]`` when it is a django-storages S3 storage.

    Its custom domain is used for redirects only when django-storages itself would not sign
    (``querystring_auth`` off); otherwise redirects stay presigned on the bucket's host.
    """
    from .storages_s3 import s3_options

    alias = values["STORAGE_ALIAS"]
    found = s3_options(alias)
    if found is None or not found["bucket_name"]:
        return None
    public_url = None
    if found["custom_domain"] and not found["querystring_auth"]:
        public_url = f"{found['url_protocol']}//{found['custom_domain']}/"
    return S3Source(
        S3Settings(
            bucket=str(found["bucket_name"]),
            endpoint_url=found["endpoint_url"],
            region=found["region_name"],
            access_key_id=found["access_key"],
            secret_access_key=found["secret_key"],
            addressing_style=found["addressing_style"] or "auto",
            location=str(found["location"] or ""),
            public_url=public_url,
            connect_timeout=float(values["CONNECT_TIMEOUT"]),
            read_timeout=float(values["READ_TIMEOUT"]),
            max_attempts=values["MAX_ATTEMPTS"],
            allow_dotfiles=allow_dotfiles,
            setting=f"STORAGES[{alias!r}]['OPTIONS']",
        )
    )


def build_store_driver(values: dict[str, Any], allow_dotfiles: bool = False) -> RemoteSource:
    """The store for checked ``values`` (from :func:`read_storage`): S3, or a Django storage."""
    if values["BACKEND"] == "s3":
        return S3Source(s3_settings(values, allow_dotfiles))
    s3 = _django_storages_s3(values, allow_dotfiles)
    if s3 is not None:
        # A django-storages S3 alias: served natively (ranged GETs), not through S3File.
        return s3
    from django.core.files.storage import storages

    return DjangoStorageSource(
        storages[values["STORAGE_ALIAS"]],
        alias=values["STORAGE_ALIAS"],
        allow_dotfiles=allow_dotfiles,
    )


def build_storage_mount(values: dict[str, Any], prefix: str, options: ServeOptions) -> Mount:
    """The mount for checked ``values`` (from :func:`read_storage`)."""
    driver = build_store_driver(values, options.allow_dotfiles)
    store = StoreOptions(
        mode=values["MODE"],
        expiry=values["EXPIRY"],
        redirect_status=values["REDIRECT_STATUS"],
        retry_after=values["RETRY_AFTER"],
        offload_location=values["OFFLOAD_LOCATION"],
    )
    return Mount(prefix, StoreSource(driver, options.chunk_size), options, store=store)
