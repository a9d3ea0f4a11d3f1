"""The supported (Python, Django) matrix: one nox session per pair.

    nox                         every pair (nox -l lists them and their tags)
    nox -t ci                   what CI runs: the oldest and the newest pair
    nox -s "django-4.2(3.10)"   one pair; extra arguments after ``--`` go to pytest
    nox -t django-6.0           every Python for one Django release (-t py3.12: one Python)

(nox is installed into ``.venv`` with the test extras: ``.venv/bin/nox``.)

Each session installs the package with its test extras and the Django release into its own
venv (``.nox/``, git-ignored) and runs the Django-facing tests. A Python that is not installed
is skipped with nox's "Python interpreter X not found" locally; with ``CI`` set the session
fails instead (nox's default), as a missing program does in the rest of the suite.
Interpreters are found on ``PATH`` and in version managers (pyenv), never downloaded.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

#: Django release -> the Pythons it supports (Django's own table: 4.2 stops at 3.12,
#: 6.0 starts at 3.12), within this package's 3.10-3.13.
MATRIX: dict[str, tuple[str, ...]] = {
    "4.2": ("3.10", "3.11", "3.12"),
    "5.2": ("3.10", "3.11", "3.12", "3.13"),
    "6.0": ("3.12", "3.13"),
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


#: Every supported (python, django) pair.
PAIRS = [(python, django) for django, pythons in MATRIX.items() for python in pythons]

#: The pairs CI runs after the whole suite (which itself runs on the default Python with the
#: newest Django that Python can install): the oldest and the newest supported pair.
CI_PAIRS = (
    min(PAIRS, key=lambda pair: (_version(pair[0]), _version(pair[1]))),
    max(PAIRS, key=lambda pair: (_version(pair[0]), _version(pair[1]))),
)

#: The tests that touch Django: its integration (views, wrappers, checks, uploads, access,
#: rate limits), the example project, and the unit tests (settings, checks, layers).
DJANGO_TESTS = ("tests/dj", "tests/example", "tests/unit")

nox.options.default_venv_backend = "venv"
nox.options.download_python = "never"
nox.options.reuse_venv = "yes"


def _runs(executable: str) -> bool:
    """True when ``executable`` starts a Python (a pyenv shim exists even when it cannot)."""
    try:
        return (
            subprocess.run([executable, "-c", ""], capture_output=True, check=False).returncode == 0
        )
    except OSError:
        return False


def _patch_level(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parents[1].name))


@functools.cache
def interpreter(python: str) -> str:
    """What nox should start for ``python`` ("3.10"): the plain version when ``python3.10``
    on PATH runs, else the newest pyenv-installed ``3.10.x`` (installed but not active, so its
    shim refuses), else the plain version again so nox reports it as not found."""
    name = f"python{python}"
    if shutil.which(name) and _runs(name):
        return python
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(root.glob(f"versions/{python}.*/bin/{name}"), key=_patch_level)
    for candidate in reversed(candidates):
        if re.fullmatch(rf"{re.escape(python)}\.\d+", candidate.parents[1].name) and _runs(
            str(candidate)
        ):
            return str(candidate)
    return python


def _tags(python: str, django: str) -> list[str]:
    tags = [f"django-{django}", f"py{python}"]
    if (python, django) in CI_PAIRS:
        tags.append("ci")
    return tags


def _make_session(django: str, pythons: tuple[str, ...]) -> None:
    """Register ``django-X.Y``, parametrized over the Pythons that Django release supports."""

    @nox.session(name=f"django-{django}")
    @nox.parametrize(
        "python",
        [
            nox.param(interpreter(python), id=python, tags=_tags(python, django))
            for python in pythons
        ],
    )
    def session_(session: nox.Session) -> None:
        session.env["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"  # the tests use Debian's chromium
        session.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        session.install("-e", ".[test]", f"django~={django}.0")
        session.run(
            "python",
            "-c",
            "import django, sys; "
            "print('django', django.get_version(), 'on python', sys.version.split()[0])",
        )
        tests = session.posargs or DJANGO_TESTS
        session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests)

    session_.__doc__ = f"The Django-facing tests on Django {django}.x."


for _django, _pythons in MATRIX.items():
    _make_session(_django, _pythons)
