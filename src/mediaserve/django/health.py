"""The staff-only observability pages: media health (the recent failed fetches by Meta and
WhatsApp, from :mod:`.observability`'s record), the doctor's verdict for one file, and the
Prometheus metrics.

Wire them with ``urlpatterns = [*health_urlpatterns(), path("admin/", admin.site.urls), ...]``
(before the admin's own patterns, which would answer 404 for them).
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse

from .. import metrics
from ..metrics.labels import WATCHED_CONSUMERS
from ..metrics.prom import CONTENT_TYPE
from .observability import health_record, observability_settings

__all__ = ["doctor_view", "health_urlpatterns", "health_view", "metrics_view"]


def _entry_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    doctor = reverse("mediaserve-health-doctor")
    rows = []
    for entry in entries:
        when = datetime.fromtimestamp(float(entry.get("time", 0)), timezone.utc)
        rows.append(
            {
                **entry,
                "when": when.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "doctor_url": f"{doctor}?{urlencode({'path': str(entry.get('path', ''))})}",
            }
        )
    return rows


@staff_member_required
def health_view(request: HttpRequest) -> HttpResponse:
    """Media health: the recent failed fetches by Meta and WhatsApp, newest first."""
    record = health_record()
    consumer = request.GET.get("consumer") or None
    if consumer is not None and consumer not in WATCHED_CONSUMERS:
        consumer = None
    entries: list[dict[str, Any]] = []
    problem = ""
    if record is None:
        problem = "The record is off (MEDIASERVE['HEALTH_RECORD'] = 0)."
    else:
        try:
            entries = record.recent(consumer)
        except Exception as exc:
            problem = f"The cache {record.alias!r} cannot be read: {type(exc).__name__}: {exc}"
    context = {
        "title": "Media health",
        "rows": _entry_rows(entries),
        "problem": problem,
        "consumers": sorted(WATCHED_CONSUMERS),
        "consumer": consumer or "",
        "size": record.size if record is not None else 0,
        "metrics_on": metrics.OBSERVER is not None and metrics.OBSERVER.prometheus is not None,
    }
    return render(request, "mediaserve/health.html", context)


@staff_member_required
def doctor_view(request: HttpRequest) -> HttpResponse:
    """The doctor's verdict for one media file, run in this process (``?path=/media/...``)."""
    from ..doctor.report import render_text
    from ..doctor.runner import DoctorOptions, diagnose

    target = request.GET.get("path", "").strip()
    if not target:
        return render(
            request,
            "mediaserve/health_doctor.html",
            {"title": "Doctor", "problem": "Give ?path=/media/<name>.", "target": ""},
            status=400,
        )
    started = time.monotonic()
    report = diagnose(target, DoctorOptions(use_django=True))
    context = {
        "title": f"Doctor: {target}",
        "target": target,
        "verdict": report.verdict,
        "text": render_text(report, colour=False),
        "seconds": f"{time.monotonic() - started:.1f}",
        "problem": "",
    }
    return render(request, "mediaserve/health_doctor.html", context)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition, for staff sessions or ``Authorization: Bearer <METRICS_TOKEN>``.

    Anyone else gets a 404: the address of a metrics page is not advertised to strangers.
    """
    wanted = observability_settings()
    token = wanted.token
    header = request.headers.get("Authorization", "")
    by_token = bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
    user = getattr(request, "user", None)
    by_staff = bool(user is not None and user.is_active and user.is_staff)
    if not (by_token or by_staff):
        return HttpResponse(b"Not Found\n", status=404, content_type="text/plain")
    if not wanted.metrics:
        return HttpResponse(
            b"metrics are off: set MEDIASERVE['METRICS'] = True"
            b" (pip install 'mediaserve[metrics]')\n",
            status=404,
            content_type="text/plain",
        )
    return HttpResponse(metrics.exposition_text(), content_type=CONTENT_TYPE)


def health_urlpatterns(prefix: str = "admin/mediaserve/") -> list[URLPattern]:
    """``<prefix>health/``, ``<prefix>health/doctor/`` and ``<prefix>metrics``; put them
    before ``path("admin/", admin.site.urls)``."""
    return [
        path(f"{prefix}health/", health_view, name="mediaserve-health"),
        path(f"{prefix}health/doctor/", doctor_view, name="mediaserve-health-doctor"),
        path(f"{prefix}metrics", metrics_view, name="mediaserve-metrics"),
    ]
