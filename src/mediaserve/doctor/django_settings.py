"""Hop ``settings``: the Django settings that decide whether media reaches the outside.

Each check is one mistake seen in real deployments: DEBUG left on (``static()`` works, then
stops when DEBUG goes off), an empty or relative MEDIA_URL, SECURE_SSL_REDIRECT behind a TLS
proxy without SECURE_PROXY_SSL_HEADER (every request looks like http: a redirect loop), the
public host missing from ALLOWED_HOSTS (400), CSRF_TRUSTED_ORIGINS without a scheme.

What mediaserve's system checks already decide (MEDIA_URL's trailing slash, MEDIA_ROOT,
offload, object storage, access) is asked of them (:func:`system_check_findings`), not
decided again here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .report import Finding, HopVerdict

__all__ = ["check_settings", "system_check_findings"]

HOP = "settings"


def _host_allowed(host: str, allowed: list[str]) -> bool:
    from django.http.request import validate_host

    return bool(validate_host(host, allowed))


def system_check_findings() -> list[Finding]:
    """mediaserve's system checks that read the settings alone (``SETTINGS_CHECKS``), as
    findings: an error fails the hop, a warning warns, each with its id and hint. The
    doctor asks them rather than re-deciding what ``manage.py check`` already decides."""
    from django.core.checks import ERROR, WARNING

    from ..django.checks import SETTINGS_CHECKS

    findings: list[Finding] = []
    for check in SETTINGS_CHECKS:
        for message in check(None):
            if message.level < WARNING or message.is_silenced():
                continue
            verdict: HopVerdict = "fail" if message.level >= ERROR else "warn"
            summary = str(message.msg).removesuffix(".")
            evidence = [f"system check {message.id}"]
            findings.append(Finding(HOP, verdict, summary, evidence, message.hint or ""))
    return findings


def check_settings(public_url: str | None) -> list[Finding]:
    from django.conf import settings

    findings: list[Finding] = []
    evidence: list[str] = []
    if settings.DEBUG:
        findings.append(
            Finding(
                HOP,
                "warn",
                "DEBUG = True: fine for development, never for a public server",
                ["DEBUG = True"],
                "DEBUG = False, and serve media with mediaserve (works whatever DEBUG says):\n"
                "  from mediaserve.django.urls import media_urlpatterns\n"
                "  urlpatterns += media_urlpatterns()",
            )
        )
    else:
        evidence.append("DEBUG = False")
    media_url = str(settings.MEDIA_URL or "")
    media_root = str(settings.MEDIA_ROOT or "")
    evidence.append(f"MEDIA_URL = {media_url!r}, MEDIA_ROOT = {media_root!r}")
    # MEDIA_URL's slashes, MEDIA_ROOT, offload, storage and access: the system checks' answer.
    findings.extend(system_check_findings())
    if not media_url:
        findings.append(Finding(HOP, "fail", "MEDIA_URL is empty", [], "MEDIA_URL = '/media/'"))
    elif not urlsplit(media_url).netloc and not media_url.startswith("/"):
        findings.append(
            Finding(
                HOP,
                "warn",
                f"MEDIA_URL {media_url!r} does not start with '/'",
                ["a relative MEDIA_URL is resolved against each page's own path"],
                f"MEDIA_URL = {'/' + media_url!r}",
            )
        )
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    evidence.append(f"SECURE_PROXY_SSL_HEADER = {proxy_header!r}")
    if getattr(settings, "SECURE_SSL_REDIRECT", False) and not proxy_header:
        findings.append(
            Finding(
                HOP,
                "warn",
                "SECURE_SSL_REDIRECT = True without SECURE_PROXY_SSL_HEADER: behind a TLS "
                "proxy every request looks like http and is redirected to itself",
                ["SECURE_SSL_REDIRECT = True", "SECURE_PROXY_SSL_HEADER = None"],
                "SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')\n"
                "and in the proxy (nginx): proxy_set_header X-Forwarded-Proto $scheme;",
            )
        )
    allowed = [str(h) for h in settings.ALLOWED_HOSTS]
    evidence.append(f"ALLOWED_HOSTS = {allowed!r}")
    if public_url:
        host = urlsplit(public_url).hostname or ""
        # With DEBUG on and ALLOWED_HOSTS empty Django allows localhost only.
        effective = allowed or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
        if host and not _host_allowed(host, effective):
            findings.append(
                Finding(
                    HOP,
                    "fail",
                    f"the public host {host!r} is not in ALLOWED_HOSTS: Django answers 400 "
                    "(DisallowedHost)",
                    [f"ALLOWED_HOSTS = {allowed!r}"],
                    f"ALLOWED_HOSTS = [..., {host!r}]\n"
                    "and make the proxy pass the public Host (nginx: proxy_set_header Host "
                    "$host;).",
                )
            )
    origins = [str(o) for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", [])]
    bad = [o for o in origins if "://" not in o]
    if bad:
        findings.append(
            Finding(
                HOP,
                "fail",
                "CSRF_TRUSTED_ORIGINS entries without a scheme (Django 4.0+ needs one)",
                [f"CSRF_TRUSTED_ORIGINS = {origins!r}"],
                "CSRF_TRUSTED_ORIGINS = [" + ", ".join(repr("https://" + o) for o in bad) + "]",
            )
        )
    if not any(f.verdict in ("warn", "fail") for f in findings):
        findings.append(
            Finding(HOP, "pass", "DEBUG, MEDIA_URL, proxy and host settings agree", evidence)
        )
    return findings
