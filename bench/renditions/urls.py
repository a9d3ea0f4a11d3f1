"""No views: the serving comparison only requests media, which mediaserve answers first."""

from __future__ import annotations

from typing import Any

urlpatterns: list[Any] = []
