"""The Django side: ``manage.py mediaserve doctor`` and ``--scan`` over every FileField."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from doctor_support import SHOE, SITE_DIR, make_media, site_env

from mediaserve.doctor.report import Finding, Report
from mediaserve.doctor.scan import render_table, run_scan


@pytest.fixture(scope="module")
def media_root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="mediaserve-doctor-dj-"))
    folder.chmod(0o755)  # every folder above the files must be enterable, or the file hop warns
    try:
        yield make_media(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``django-admin`` (python -m django) is manage.py without the project file."""
    return subprocess.run(
        [sys.executable, "-m", "django", "mediaserve", *args, "--pythonpath", str(SITE_DIR)],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip


def test_manage_py_mediaserve_doctor_uses_the_project_settings(media_root: Path) -> None:
    """Settings come from the project: the DEBUG-only static() URLconf is found without
    --settings on the doctor's own command line."""
    done = _manage("doctor", SHOE, "--json", env=site_env(media_root, urls="static"))
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stdout
    assert '"hop": "routing"' in done.stdout
    assert "static() in doctor_site.urls adds no pattern when DEBUG = False" in done.stdout


def test_manage_py_mediaserve_doctor_passes_a_served_file(media_root: Path) -> None:
    done = _manage("doctor", SHOE, env=site_env(media_root))
    assert "Traceback" not in done.stderr, done.stderr
    # No public URL is known (no --base-url): the url hop is skipped, the rest pass.
    assert done.returncode == 0, done.stdout
    assert "PASS in-process" in done.stdout


@pytest.fixture
def products(example_django: Any, media_root: Path) -> Iterator[list[str]]:
    """Two products of the example catalog: one image on disk, one missing."""
    from django.db import transaction
    from django.test import override_settings

    from catalog.models import Product  # the example project (tests/conftest.py)

    with transaction.atomic(), override_settings(MEDIA_ROOT=str(media_root), PUBLIC_BASE_URL=""):
        common = {"description": "d", "price": "1.00", "currency": "BRL", "brand": "b",
                  "image_width": 800, "image_height": 800}  # fmt: skip
        Product.objects.create(sku="SCAN-1", name="one", image=SHOE, **common)
        Product.objects.create(sku="SCAN-2", name="two", image="products/gone.jpg", **common)
        yield [SHOE, "products/gone.jpg"]
        transaction.set_rollback(True)


def test_scan_checks_every_filefield_and_names_the_broken_hop(products: list[str]) -> None:
    from mediaserve.doctor import DoctorOptions, diagnose
    from mediaserve.doctor.scan import names_from_models

    names = names_from_models()
    assert set(products) <= set(names)
    options = DoctorOptions(use_django=True)
    reports = {r.target: r for r in run_scan(products, lambda t: diagnose(t, options))}
    assert reports[SHOE].verdict == "pass", reports[SHOE].to_dict()
    assert reports[SHOE].hop_verdict("in-process") == "pass"
    missing = reports["products/gone.jpg"]
    assert missing.verdict == "fail"
    first = missing.first("fail")
    assert first is not None
    assert first.hop == "file"


def test_scan_progress_and_summary_table() -> None:
    """The bar counts targets on a terminal; the table has a row per target and the counts."""

    def fake(target: str) -> Report:
        report = Report(target=target)
        verdict = "fail" if target == "b.jpg" else "pass"
        report.add([Finding("file", verdict, f"{target} checked")])
        return report

    progress = io.StringIO()
    reports = run_scan(["a.jpg", "b.jpg"], fake, progress)
    assert "2/2 b.jpg" in progress.getvalue()
    table = render_table(reports)
    assert "FAIL     file  b.jpg   b.jpg checked" in table
    assert table.strip().endswith("2 checked: 1 pass, 0 warn, 1 fail")


def test_feed_links_are_read_from_the_examples_own_feed(example_django: Any) -> None:
    """The example's feed writer (quoting, CRLF) and the scanner agree on image_link."""
    from catalog.feed import write_feed
    from catalog.models import Product
    from mediaserve.doctor.scan import links_in_feed

    product = Product(
        pk=1, sku="F-1", name='A "quoted", name', description="multi\nline", price=Decimal("2.50"),
        currency="BRL", brand="b", image="products/a b.jpg", image_width=800, image_height=800,
    )  # fmt: skip
    out = io.StringIO()
    write_feed(out, [product], "https://shop.example.com")
    links, problem = links_in_feed(out.getvalue())
    assert problem is None
    assert links == ["https://shop.example.com/media/products/a%20b.jpg"]


def test_call_command_keeps_the_exit_status(example_django: Any) -> None:
    """From Python (call_command) a failing diagnosis is a CommandError carrying exit 2."""
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as failed:
        call_command("mediaserve", "doctor", "../escape.jpg", "--json")
    assert failed.value.returncode == 2


# -- the settings hop asks mediaserve's system checks -----------------------------------------


def _settings_hop(**overrides: Any) -> list[Finding]:
    from django.test import override_settings

    from mediaserve.doctor.django_settings import check_settings

    with override_settings(**overrides):
        return check_settings(None)


def test_media_url_without_its_slash_is_the_system_check_e004(
    example_django: Any, media_root: Path
) -> None:
    """The doctor does not re-decide MEDIA_URL's slash: it reports the check, id and hint."""
    found = _settings_hop(MEDIA_URL="/media", MEDIA_ROOT=str(media_root))
    failed = [f for f in found if f.verdict == "fail"]
    assert [f.evidence for f in failed] == [["system check mediaserve.E004"]]
    assert failed[0].summary == "MEDIA_URL '/media' does not end with a slash"
    assert failed[0].fix == "Set MEDIA_URL = '/media/'."


def test_a_missing_media_root_is_the_system_check_e002(example_django: Any, tmp_path: Path) -> None:
    found = _settings_hop(MEDIA_ROOT=str(tmp_path / "gone" / "media"))  # parent missing too
    assert ["system check mediaserve.E002"] in [f.evidence for f in found if f.verdict == "fail"]


def test_a_system_check_warning_is_a_warning_of_the_hop(
    example_django: Any, media_root: Path
) -> None:
    """W002: uploads landing 0600 is what later shows up as nginx's 403."""
    found = _settings_hop(MEDIA_ROOT=str(media_root), FILE_UPLOAD_PERMISSIONS=0o600)
    assert [f.evidence for f in found if f.verdict == "warn"] == [["system check mediaserve.W002"]]


def test_a_silenced_system_check_stays_silent_in_the_doctor(
    example_django: Any, media_root: Path
) -> None:
    found = _settings_hop(
        MEDIA_ROOT=str(media_root),
        FILE_UPLOAD_PERMISSIONS=0o600,
        SILENCED_SYSTEM_CHECKS=["mediaserve.W002"],
    )
    assert not [f for f in found if f.verdict in ("warn", "fail")]
