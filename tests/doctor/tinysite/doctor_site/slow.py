"""A middleware that holds every answer back: the slow first byte of an app that renders
(or fetches) media per request. DOCTOR_FIRST_BYTE_DELAY=SECONDS turns it on."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SlowFirstByte:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.delay = float(os.environ.get("DOCTOR_FIRST_BYTE_DELAY", "0") or 0)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/media/"):
            time.sleep(self.delay)
        return self.get_response(request)
