"""``mediaserve doctor``: a hop-by-hop diagnosis of a media URL, from the file under
MEDIA_ROOT through Django, the app server, the proxy and TLS to Meta's crawler.

Each hop lives in its own module and returns :class:`~mediaserve.doctor.report.Finding`
objects; :func:`~mediaserve.doctor.runner.diagnose` walks them in order. See docs/doctor.md.
"""

from .report import Finding, Report, render_json, render_text
from .runner import DoctorOptions, diagnose

__all__ = ["DoctorOptions", "Finding", "Report", "diagnose", "render_json", "render_text"]
