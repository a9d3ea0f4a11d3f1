"""Bad input and unreachable servers: each is one line and exit 2, never a traceback.

``doctor()`` (doctor_support) fails any test whose run printed a traceback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from doctor_support import HOST, doctor

from harness import LOOPBACK, free_port


@pytest.fixture
def media_root() -> Iterator[Path]:
    """World-readable (pytest's tmp_path is 0700, which the file hop rightly warns about)."""
    base = Path(tempfile.mkdtemp(prefix="mediaserve-doctor-"))
    base.chmod(0o755)
    root = base / "media"
    (root / "products").mkdir(parents=True)
    for folder in (root, root / "products"):
        folder.chmod(0o755)
    (root / "products" / "a.txt").write_text("hello")
    (root / "products" / "a.txt").chmod(0o644)
    (base / "secret.txt").write_text("outside")
    yield root
    shutil.rmtree(base, ignore_errors=True)


def test_a_server_that_never_answers_is_bounded_by_the_timeout(media_root: Path) -> None:
    """A socket that listens but never reads: the connect succeeds, the answer never comes."""
    with socket.socket() as silent:
        silent.bind((LOOPBACK, 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        run = doctor(
            f"http://{HOST}:{port}/media/products/a.txt", "--timeout", "1",
            "--resolve", f"{HOST}:{port}:{LOOPBACK}", "--media-root", str(media_root),
        )  # fmt: skip
    assert run.code == 2
    assert run.findings("public")[0]["summary"] == f"no answer from {HOST}:{port} within 1 s"


def test_an_unreachable_host_is_connection_refused(media_root: Path) -> None:
    port = free_port()
    run = doctor(
        f"https://{HOST}:{port}/media/products/a.txt",
        "--resolve", f"{HOST}:{port}:{LOOPBACK}", "--media-root", str(media_root),
    )  # fmt: skip
    assert run.code == 2
    public = run.findings("public")[0]
    assert public["summary"] == f"connection refused by {HOST}:{port}: nothing is listening there"
    assert run.verdict("tls") == "skip"  # nothing to say about TLS without a connection


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("htp:/media/a.jpg", "is not an http(s) URL (scheme 'htp')"),
        ("https://", "has no host"),
        ("http://[::1/media/a.jpg", "is not a URL"),
        ("https://shop.example.com:99999/a.jpg", "is not a URL"),
    ],
)
def test_a_target_that_is_not_a_url_is_one_line(target: str, reason: str) -> None:
    run = doctor(target)
    assert run.code == 2
    assert reason in run.first["summary"]
    assert [f["hop"] for f in run.data["findings"]] == ["input"]


def test_a_name_escaping_media_root_is_refused_without_reading_it(media_root: Path) -> None:
    run = doctor("../secret.txt", "--media-root", str(media_root))
    assert run.code == 2
    assert run.first["hop"] == "file"
    assert "escapes MEDIA_ROOT" in run.first["summary"]


def test_text_report_ends_with_the_first_broken_hop_and_no_colour_off_a_tty(
    media_root: Path,
) -> None:
    """Piped output (CI logs) gets no escape codes; the last line names the hop to fix."""
    done = subprocess.run(
        [sys.executable, "-m", "mediaserve.cli", "doctor", "products/missing.jpg",
         "--media-root", str(media_root)],
        capture_output=True, text=True, check=False,
        # The suite's own Django settings must not leak into the child.
        env={k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
    )  # fmt: skip
    assert done.returncode == 2
    assert "\033[" not in done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT: FAIL (exit 2): broken hop is 'file': no such file")


def test_unknown_settings_module_is_one_line() -> None:
    run = doctor("products/a.jpg", "--settings", "no_such_project.settings")
    assert run.code == 2
    assert run.first["summary"].startswith(
        "cannot load Django settings 'no_such_project.settings': ModuleNotFoundError"
    )


def test_no_target_is_one_line() -> None:
    run = doctor()
    assert run.code == 2
    assert run.first["summary"] == "give a URL or a media name (or --scan)"


def test_an_exception_in_the_view_is_evidence_not_a_traceback(media_root: Path) -> None:
    """Django logs a 500's traceback; the doctor keeps it out and quotes the exception."""
    from doctor_support import site_env

    run = doctor("products/a.txt", env=site_env(media_root, urls="broken"))
    assert run.first["hop"] == "in-process", run.stdout
    in_process = run.findings("in-process")[0]
    assert in_process["verdict"] == "fail"
    assert in_process["summary"] == "500 from django: the view raised RuntimeError: storage offline"
    assert "the view raised RuntimeError: storage offline" in in_process["evidence"]
