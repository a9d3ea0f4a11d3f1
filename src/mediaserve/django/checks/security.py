"""System checks for access control (ids mediaserve.E040-E049 / W040-W049).

A wrong access setting fails open or closed in production without a word: these checks say
so at start-up, with the setting to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import Resolver404, get_resolver

from ...access.rules import DENIED_STATUSES, POLICIES, PRIVATE
from ..access import build_access
from ..conf import SettingsError, media_prefix, read_values

__all__ = ["check_access", "check_rate_limit", "restricted_prefixes", "shown_prefixes"]

AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def restricted_prefixes(values: dict[str, Any]) -> tuple[str, ...]:
    """What :meth:`Access.restricted_prefixes` answers for these settings; ``()`` when every
    name is public or the ACCESS setting is broken (E040 reports that).

    The permission callable decides who reads, not what is restricted, so it is not imported
    here (E042 reports a broken one without hiding this answer).
    """
    try:
        access = build_access({**values, "PERMISSION": None})
    except SettingsError:
        return ()
    return access.restricted_prefixes() if access is not None else ()


def shown_prefixes(prefixes: tuple[str, ...]) -> str:
    return ", ".join(repr(p) if p else "'' (every name)" for p in prefixes)


def _view_is_routed(prefix: str) -> bool:
    from ..views import serve as mediaserve_view

    try:
        return get_resolver().resolve(prefix + "mediaserve-check.pdf").func is mediaserve_view
    except Resolver404:
        return False
    except Exception:  # a broken URLconf is Django's own check to report, not a W040
        return True


@register(Tags.security)
def check_access(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        values = read_values()
    except SettingsError:
        return []  # reported as mediaserve.E001
    messages: list[CheckMessage] = []
    rules = values["ACCESS"]
    for prefix, policy in rules.items():
        if not isinstance(prefix, str) or policy not in POLICIES:
            messages.append(
                Error(
                    f"MEDIASERVE['ACCESS'][{prefix!r}] is {policy!r}; a policy is one of "
                    f"{', '.join(POLICIES)}.",
                    hint="Map name prefixes under MEDIA_ROOT to policies, e.g. "
                    "{'invoices/': 'private', 'whatsapp/': 'signed'}.",
                    id="mediaserve.E040",
                )
            )
    if values["DENIED_STATUS"] not in DENIED_STATUSES:
        messages.append(
            Error(
                f"MEDIASERVE['DENIED_STATUS'] is {values['DENIED_STATUS']!r}.",
                hint="Use 404 (the default: a refusal does not reveal that the file exists) "
                "or 403.",
                id="mediaserve.E041",
            )
        )
    if values["PERMISSION"] is not None:
        from ..access import _permission

        try:
            _permission(values["PERMISSION"])
        except SettingsError as exc:
            messages.append(
                Error(
                    str(exc),
                    hint="Point PERMISSION at a function (request, name) -> bool, e.g. "
                    "'myapp.media.can_read'.",
                    id="mediaserve.E042",
                )
            )
    if values["SIGNED_EXPIRES"] <= 0:
        messages.append(
            Error(
                f"MEDIASERVE['SIGNED_EXPIRES'] is {values['SIGNED_EXPIRES']}: signed URLs "
                "would be expired when made.",
                hint="Set a lifetime in seconds, e.g. 3600.",
                id="mediaserve.E043",
            )
        )
    restricted = restricted_prefixes(values)
    if restricted and values["SERVED_EXTERNALLY"]:
        messages.append(
            Warning(
                f"MEDIASERVE['ACCESS'] restricts {shown_prefixes(restricted)}, but "
                "SERVED_EXTERNALLY says a proxy serves MEDIA_URL: a proxy reading MEDIA_ROOT "
                "itself answers those files to anyone, without checking a session or a "
                "signature.",
                hint="Let Django decide and the proxy send the bytes (proxy offload, "
                "X-Accel-Redirect/X-Sendfile), or keep restricted files out of the "
                "directory the proxy serves.",
                id="mediaserve.W043",
            )
        )
    if PRIVATE not in rules.values():
        return messages
    prefix = media_prefix()
    if prefix is not None and prefix != "/" and not _view_is_routed(prefix):
        messages.append(
            Warning(
                "Private media is judged by the media view, after the authentication "
                "middleware, but no URL pattern routes MEDIA_URL to it: private files "
                "will be 404 for everyone but holders of a signed URL.",
                hint="Add to urls.py: from mediaserve.django.urls import media_urlpatterns; "
                "urlpatterns += media_urlpatterns()",
                id="mediaserve.W040",
            )
        )
    if values["PERMISSION"] is None and AUTH_MIDDLEWARE not in getattr(settings, "MIDDLEWARE", []):
        messages.append(
            Warning(
                "Private media is admitted to staff users by default, but "
                "AuthenticationMiddleware is not installed: request.user never exists and "
                "nobody is admitted.",
                hint=f"Add {AUTH_MIDDLEWARE!r} to MIDDLEWARE, or set MEDIASERVE['PERMISSION'].",
                id="mediaserve.W041",
            )
        )
    return messages


_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.security)
def check_rate_limit(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        values = read_values()
    except SettingsError:
        return []  # reported as mediaserve.E001
    if values["RATE_LIMIT"] is None:
        return []
    messages: list[CheckMessage] = []
    if values["RATE_LIMIT"] < 1 or values["RATE_LIMIT_WINDOW"] < 1:
        messages.append(
            Error(
                f"MEDIASERVE rate limit {values['RATE_LIMIT']!r} per "
                f"{values['RATE_LIMIT_WINDOW']!r}s cannot work.",
                hint="Set RATE_LIMIT to requests per client (e.g. 120) and RATE_LIMIT_WINDOW "
                "to seconds (e.g. 60), or RATE_LIMIT = None to switch it off.",
                id="mediaserve.E044",
            )
        )
    alias = values["RATE_LIMIT_CACHE"]
    backend = str(getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", ""))
    if not backend:
        messages.append(
            Error(
                f"MEDIASERVE['RATE_LIMIT_CACHE'] is {alias!r}, which is not in CACHES.",
                hint="Name a cache from CACHES (a Redis or memcached one, shared by all workers).",
                id="mediaserve.E045",
            )
        )
    elif backend in _PER_PROCESS_CACHES:
        messages.append(
            Warning(
                f"The rate-limit cache {alias!r} is {backend.rsplit('.', 1)[-1]}: each worker "
                "keeps its own buckets (or none), so the limit is multiplied by the number of "
                "workers.",
                hint="Use a shared cache, e.g. django.core.cache.backends.redis.RedisCache.",
                id="mediaserve.W042",
            )
        )
    from ...ratelimit.limiter import parse_networks

    try:
        parse_networks(values["RATE_LIMIT_TRUSTED_PROXIES"])
    except ValueError as exc:
        messages.append(
            Error(
                f"MEDIASERVE['RATE_LIMIT_TRUSTED_PROXIES']: {exc}.",
                hint="List the proxies' addresses or networks, e.g. ['127.0.0.1', '10.0.0.0/8'].",
                id="mediaserve.E046",
            )
        )
    return messages
