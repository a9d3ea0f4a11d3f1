"""One measured build in a fresh process:
``python -m bench.renditions.child SUBJECT TARGET NAME [WARMUP_NAME]``.

Set-up (Django, the library's migrations, its imports) runs first and is not measured, and so
does a warm-up build of another source (WARMUP_NAME) to the same target when given: a server
process pays Pillow's plugin registration, the encoder's first use and the library's first
bookkeeping once, not per upload, so the measured build is the steady-state one. Then
the peak-RSS counter is reset (``/proc/self/clear_refs`` ← 5, Linux ≥ 4.0), the build runs
once, and one JSON line reports the wall time of the build, the idle RSS (after set-up, before
any build), the peak RSS during the measured build (``VmHWM``), and the output path. A fresh
process per build means every measured build is a first build of its source and one
subject's heap never inflates another's peak.
"""

from __future__ import annotations

import json
import os
import sys
import time
from importlib import import_module
from pathlib import Path


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` field in kB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS, so the peak is the build's, not the set-up's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    subject_key, target_key, source_name, *warmup = argv
    from bench.renditions.subjects import SUBJECTS, TARGETS

    subject = SUBJECTS[subject_key]
    target = TARGETS[target_key]
    if subject.django:
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.renditions.djsettings"
        os.environ["RBENCH_SUBJECT"] = subject.key
        import django

        django.setup()
        if subject.migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
    for module in subject.modules:
        import_module(module)

    # The baseline is the idle process (imports and set-up done, nothing built): what a server
    # holds anyway. Measured against it rather than against the RSS after the warm-up, whose
    # freed-but-kept heap would hide part of the measured build's peak.
    rss_before = _status_kb("VmRSS")
    for name in warmup:
        subject.build(name, target)

    reset = _reset_peak()
    started = time.perf_counter()
    out = subject.build(source_name, target)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "subject": subject.key,
                "target": target.name,
                "seconds": seconds,
                "rss_before_kb": rss_before,
                "peak_kb": peak,
                "peak_reset": reset,
                "output": str(out),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
