"""Real headless Chromium (Debian's, fresh profile) opening uploaded media on every target:
an uploaded HTML page and SVG carrying script do not run, a normal image renders.

The uploads' scripts make a synchronous request to ``/beacon`` while the document parses, so
a script that ran has reached the server before navigation finishes. The control opens the
same files under ``/unsafe/`` (neutralisation off) and sees both scripts run: the check can
fail.
"""

from __future__ import annotations

import pytest

from harness import Chromium
from security.targets import Target


def _open(chromium: Chromium, target: Target, path: str) -> tuple[str, list[str]]:
    """Open ``path`` as a user following a link would; return how it ended and any dialogs."""
    for old in target.beacon_dir.iterdir():
        old.unlink()
    page = chromium.new_page()
    dialogs: list[str] = []
    page.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    downloads: list[str] = []
    page.page.on("download", lambda download: downloads.append(download.suggested_filename))
    try:
        page.goto(target.url(path), wait_until="load")
        outcome = "rendered"
    except Exception as exc:  # Playwright raises "Download is starting" for an attachment
        if "Download is starting" not in str(exc) and not downloads:
            raise
        outcome = "downloaded"
    finally:
        page.close()
    return outcome, dialogs


def _ran(target: Target) -> set[str]:
    return {p.name for p in target.beacon_dir.iterdir()}


@pytest.mark.parametrize(("name", "beacon"), [("evil.html", "html"), ("evil.svg", "svg")])
def test_control_without_neutralisation_the_upload_script_runs(
    chromium: Chromium, target: Target, name: str, beacon: str
) -> None:
    outcome, _ = _open(chromium, target, f"/unsafe/uploads/{name}")
    assert outcome == "rendered"
    assert beacon in _ran(target)


@pytest.mark.parametrize("name", ["evil.html", "evil.svg"])
def test_an_uploaded_page_with_script_does_not_run(
    chromium: Chromium, target: Target, name: str
) -> None:
    """Served as a sandboxed attachment: Chromium saves it instead of rendering it."""
    outcome, dialogs = _open(chromium, target, f"/media/uploads/{name}")
    assert outcome == "downloaded"
    assert _ran(target) == set()
    assert dialogs == []


def test_a_normal_image_still_renders(chromium: Chromium, target: Target) -> None:
    page = chromium.open(target.url("/media/uploads/photo.png"))
    try:
        size = page.evaluate("[document.images[0].naturalWidth, document.images[0].naturalHeight]")
    finally:
        page.close()
    assert size == [32, 24]
