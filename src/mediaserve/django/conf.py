"""The ``MEDIASERVE`` settings dict, validated into typed values (``pipeline.py`` builds the
pipeline from them).

Settings are read when a request needs them, not at import: ``override_settings`` in
tests and settings changed by a deployment tool both take effect. The result is cached
and the cache is dropped on Django's ``setting_changed`` signal, so the per-request
cost is one attribute lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed

from ..http.plan import ServeOptions
from ..pipeline.offload import DEFAULT_INTERNAL_PREFIX, Offload, OffloadError
from ..pipeline.request import normalise_prefix
from ..ratelimit.limiter import DEFAULT_IPV4_PREFIX, DEFAULT_IPV6_PREFIX, prefix_problem
from ..sources.local import DEFAULT_HOT, HotLimits
from .renditions_conf import RENDITION_DEFAULTS, RENDITION_TYPES

__all__ = [
    "DEFAULTS",
    "SettingsError",
    "hot_limits_from",
    "media_prefix",
    "merged_and_typed",
    "offload_from",
    "options_from",
    "read_values",
    "settings_cached",
]

# The serving defaults are ServeOptions' own (http/plan.py), never spelled a second time.
_SERVE = ServeOptions()
DEFAULTS: dict[str, Any] = {
    "CACHE_CONTROL": _SERVE.cache_control,
    "MAX_RANGES": _SERVE.max_ranges,
    "ALLOW_DOTFILES": _SERVE.allow_dotfiles,
    "FOLLOW_SYMLINKS": _SERVE.follow_symlinks,
    "NEUTRALISE_ACTIVE": _SERVE.neutralise_active,
    "CHUNK_SIZE": _SERVE.chunk_size,
    "CONTENT_TYPES": {},
    "EXTRA_HEADERS": {},
    # Set when a proxy (or anything outside Django) serves MEDIA_URL, to silence
    # the "nothing routes MEDIA_URL" check.
    "SERVED_EXTERNALLY": False,
    # Proxy offload (delivery/offload.py): "x-accel-redirect", "x-sendfile",
    # "x-litespeed-location" or None (the app sends the bytes itself).
    "OFFLOAD": None,
    "OFFLOAD_PREFIX": DEFAULT_INTERNAL_PREFIX,
    # MEDIA_ROOT as the proxy sees it (X-Sendfile); None means the same path as the app's.
    "OFFLOAD_ROOT": None,
    # Access control (mediaserve.access; docs/security.md): name prefix -> "public" |
    # "private" | "signed", the private-media permission callable (dotted path; None = staff
    # only), the status of a refused read, and signed_url()'s default lifetime in seconds.
    "ACCESS": {},
    "PERMISSION": None,
    "DENIED_STATUS": 404,
    "SIGNED_EXPIRES": 3600,
    # Rate limiting (mediaserve.ratelimit): requests per client per window (None: off), the
    # Django cache holding the buckets, proxies whose X-Forwarded-For is believed, and
    # User-Agent substrings never limited.
    "RATE_LIMIT": None,
    "RATE_LIMIT_WINDOW": 60,
    "RATE_LIMIT_CACHE": "default",
    "RATE_LIMIT_TRUSTED_PROXIES": [],
    "RATE_LIMIT_ALLOW_AGENTS": [],
    # The network one bucket covers: one IPv4 address, one IPv6 /64 (a subscriber's).
    "RATE_LIMIT_IPV4_PREFIX": DEFAULT_IPV4_PREFIX,
    "RATE_LIMIT_IPV6_PREFIX": DEFAULT_IPV6_PREFIX,
    # Media in object storage (a dict, see docs/deploy/object-storage.md) or None.
    "STORAGE": None,
    # Observability (docs/observability.md): Prometheus metrics (needs mediaserve[metrics]),
    # the bearer token Prometheus scrapes the metrics view with, the event log lines and
    # their format, and the record of failed fetches by Meta and WhatsApp (entries kept,
    # 0: off; the Django cache holding it).
    "METRICS": False,
    "METRICS_TOKEN": None,
    "LOG_EVENTS": True,
    "LOG_FORMAT": "text",
    "HEALTH_RECORD": 100,
    "HEALTH_CACHE": "default",
    # Renditions (docs/renditions.md).
    **RENDITION_DEFAULTS,
    # Small public files kept in memory per process, validated by one stat per request
    # (sources/local.py, HotCache): on/off, total bytes, largest file.
    "HOT_CACHE": True,
    "HOT_CACHE_SIZE": DEFAULT_HOT.max_bytes,
    "HOT_CACHE_MAX_FILE": DEFAULT_HOT.max_file,
}

_TYPES: dict[str, type | tuple[type, ...]] = {
    "CACHE_CONTROL": str,
    "MAX_RANGES": int,
    "ALLOW_DOTFILES": bool,
    "FOLLOW_SYMLINKS": bool,
    "NEUTRALISE_ACTIVE": bool,
    "CHUNK_SIZE": int,
    "CONTENT_TYPES": dict,
    "EXTRA_HEADERS": dict,
    "SERVED_EXTERNALLY": bool,
    "OFFLOAD": (str, type(None)),
    "OFFLOAD_PREFIX": str,
    "OFFLOAD_ROOT": (str, type(None)),
    "ACCESS": dict,
    "PERMISSION": (str, type(None)),
    "DENIED_STATUS": int,
    "SIGNED_EXPIRES": int,
    "RATE_LIMIT": (int, type(None)),
    "RATE_LIMIT_WINDOW": int,
    "RATE_LIMIT_CACHE": str,
    "RATE_LIMIT_TRUSTED_PROXIES": (list, tuple),
    "RATE_LIMIT_ALLOW_AGENTS": (list, tuple),
    "RATE_LIMIT_IPV4_PREFIX": int,
    "RATE_LIMIT_IPV6_PREFIX": int,
    "STORAGE": (dict, type(None)),
    "METRICS": bool,
    "METRICS_TOKEN": (str, type(None)),
    "LOG_EVENTS": bool,
    "LOG_FORMAT": str,
    "HEALTH_RECORD": int,
    "HEALTH_CACHE": str,
    **RENDITION_TYPES,
    "HOT_CACHE": bool,
    "HOT_CACHE_SIZE": int,
    "HOT_CACHE_MAX_FILE": int,
}


class SettingsError(ValueError):
    """A MEDIASERVE value that cannot work; the message names the key and the fix."""


def merged_and_typed(
    setting: str,
    user: dict[str, Any],
    defaults: dict[str, Any],
    types: Mapping[str, type | tuple[type, ...]],
    error: type[ValueError] = SettingsError,
    secrets: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``user`` over ``defaults``, every key known and every value of its type, or ``error``
    naming ``setting[key]`` and what it must be. bool is an int subclass, but ``True`` is
    a mistake where a number is meant, so it passes only where bool is listed. Values of
    ``secrets`` are never quoted back."""
    unknown = sorted(map(str, set(user) - set(defaults)))
    if unknown:
        raise error(
            f"unknown {setting} key(s) {', '.join(unknown)}; known keys: {', '.join(defaults)}"
        )
    values = {**defaults, **user}
    for key, expected in types.items():
        value = values[key]
        kinds = expected if isinstance(expected, tuple) else (expected,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            shown = "a value of another type" if key in secrets else repr(value)
            name = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
            raise error(f"{setting}[{key!r}] must be {name}, not {shown}")
    return values


def read_values() -> dict[str, Any]:
    """``MEDIASERVE`` merged over the defaults; raises SettingsError naming a bad key."""
    user = getattr(settings, "MEDIASERVE", None) or {}
    if not isinstance(user, dict):
        raise SettingsError("MEDIASERVE must be a dict, e.g. MEDIASERVE = {}")
    values = merged_and_typed(
        "MEDIASERVE", user, DEFAULTS, _TYPES, secrets=frozenset({"METRICS_TOKEN"})
    )
    for version in (4, 6):
        key = f"RATE_LIMIT_IPV{version}_PREFIX"
        problem = prefix_problem(version, values[key])
        if problem is not None:
            raise SettingsError(f"MEDIASERVE[{key!r}] {problem}")
    if values["OFFLOAD"] is not None:
        values["OFFLOAD"] = values["OFFLOAD"].strip().lower()
    for key in ("HOT_CACHE_SIZE", "HOT_CACHE_MAX_FILE"):
        if values[key] < 0:
            raise SettingsError(
                f"MEDIASERVE[{key!r}] must be a number of bytes >= 0, not {values[key]}"
                " (set HOT_CACHE to False to turn the cache off)"
            )
    return values


def hot_limits_from(values: dict[str, Any]) -> HotLimits | None:
    """The hot cache's limits for MEDIA_ROOT, or None when ``HOT_CACHE`` is off."""
    if not values["HOT_CACHE"]:
        return None
    return HotLimits(values["HOT_CACHE_SIZE"], values["HOT_CACHE_MAX_FILE"])


def offload_from(values: dict[str, Any], media_root: str) -> Offload | None:
    """The Offload for the settings, or None; SettingsError names the key and the fix."""
    if values["OFFLOAD"] is None:
        return None
    try:
        return Offload(
            values["OFFLOAD"], values["OFFLOAD_PREFIX"], values["OFFLOAD_ROOT"] or media_root
        )
    except OffloadError as exc:
        raise SettingsError(f"MEDIASERVE offload settings: {exc}") from None


def options_from(values: dict[str, Any]) -> ServeOptions:
    try:
        return ServeOptions(
            cache_control=values["CACHE_CONTROL"],
            max_ranges=values["MAX_RANGES"],
            allow_dotfiles=values["ALLOW_DOTFILES"],
            follow_symlinks=values["FOLLOW_SYMLINKS"],
            neutralise_active=values["NEUTRALISE_ACTIVE"],
            chunk_size=values["CHUNK_SIZE"],
            content_types={
                str(k).lower().lstrip("."): str(v) for k, v in values["CONTENT_TYPES"].items()
            },
            extra_headers=tuple((str(k), str(v)) for k, v in values["EXTRA_HEADERS"].items()),
        )
    except ValueError as exc:
        raise SettingsError(f"MEDIASERVE: {exc}") from None


def media_prefix() -> str | None:
    """MEDIA_URL's path relative to the script prefix, as matched against PATH_INFO.

    ``None`` when MEDIA_URL is empty or points at another host (a CDN or a bucket):
    then there is nothing for this process to serve.
    """
    media_url = str(getattr(settings, "MEDIA_URL", "") or "")
    if not media_url:
        return None
    parts = urlsplit(media_url)
    if parts.netloc:
        return None
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    script = str(getattr(settings, "FORCE_SCRIPT_NAME", None) or "").rstrip("/")
    if script and path.startswith(script + "/"):
        path = path[len(script) :]
    return normalise_prefix(path)


_T = TypeVar("_T")
_UNSET: Any = object()


def settings_cached(*names: str) -> Callable[[Callable[[], _T]], Callable[[], _T]]:
    """Build the value once, again after any of the settings ``names`` changes.

    Settings are read when a request first needs them, not at import, so
    ``override_settings`` and a deployment tool's changes take effect (Django sends
    ``setting_changed`` for both); afterwards a request pays one comparison.
    """

    def wrap(build: Callable[[], _T]) -> Callable[[], _T]:
        lock = threading.Lock()
        state: list[Any] = [_UNSET]

        def get() -> _T:
            found = state[0]
            if found is _UNSET:
                with lock:
                    found = state[0] = build()
            return cast(_T, found)

        def reset(*, setting: str, **kwargs: object) -> None:
            if setting in names:
                state[0] = _UNSET

        setting_changed.connect(reset, weak=False)
        get.__doc__ = build.__doc__
        return get

    return wrap
