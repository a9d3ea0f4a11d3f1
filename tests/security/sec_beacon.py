"""``/beacon?ID``: scripts in the browser test's uploads call it; a file per call records it."""

from __future__ import annotations

import os
from pathlib import Path


def record_beacon(query: str) -> None:
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in query)[:80] or "empty"
    (Path(os.environ["SEC_BEACON_DIR"]) / name).write_text("ran")
