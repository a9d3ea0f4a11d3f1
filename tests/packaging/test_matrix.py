"""The supported matrix (noxfile.py) agrees with what the package claims (pyproject.toml's
classifiers and requires-python), and CI runs its oldest and newest pair. These tests list
the sessions; running them is `nox` itself (see the README)."""

from __future__ import annotations

import functools
import json
import re
import sys

import pytest
from packaging_support import check_run, require_module

from harness import REPO_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extras install tomli there
    import tomli as tomllib


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@functools.cache
def nox_sessions(*selection: str) -> list[tuple[str, str]]:
    """(python, django) of each session nox would run for ``selection`` (e.g. ``-t ci``)."""
    require_module("nox")
    argv = [sys.executable, "-m", "nox", "-f", REPO_ROOT / "noxfile.py", *selection]
    listed = json.loads(check_run([*argv, "--list", "--json"], cwd=REPO_ROOT))
    pairs = []
    for session in listed:
        tags = session["tags"]
        (python,) = [t.removeprefix("py") for t in tags if re.fullmatch(r"py3\.\d+", t)]
        (django,) = [t.removeprefix("django-") for t in tags if t.startswith("django-")]
        assert session["session"] == f"django-{django}({python})"
        pairs.append((python, django))
    return pairs


@pytest.fixture(scope="module")
def claimed() -> tuple[list[str], list[str]]:
    """The Python and Django versions pyproject.toml's classifiers claim."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    classifiers = project["classifiers"]
    pythons = [
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    djangos = [
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Framework :: Django :: .+", c)
    ]
    assert project["requires-python"] == f">={min(pythons, key=version_key)}"
    return sorted(pythons, key=version_key), sorted(djangos, key=version_key)


def test_every_claimed_python_and_django_has_a_session(
    claimed: tuple[list[str], list[str]],
) -> None:
    pythons, djangos = claimed
    pairs = nox_sessions()
    assert sorted({p for p, _ in pairs}, key=version_key) == pythons
    assert sorted({d for _, d in pairs}, key=version_key) == djangos
    assert len(pairs) == len(set(pairs)), "a pair is listed twice"


def test_pairs_follow_djangos_own_python_support() -> None:
    """Django 4.2 stops at Python 3.12 and 6.0 starts there (Django's FAQ); 5.2 spans all."""
    pairs = set(nox_sessions())
    assert ("3.13", "4.2") not in pairs
    assert ("3.10", "6.0") not in pairs
    assert ("3.11", "6.0") not in pairs
    assert {("3.10", "5.2"), ("3.13", "5.2"), ("3.12", "6.0"), ("3.12", "4.2")} <= pairs


def test_ci_runs_the_oldest_and_the_newest_pair() -> None:
    pairs = nox_sessions()
    oldest = min(pairs, key=lambda pair: (version_key(pair[0]), version_key(pair[1])))
    newest = max(pairs, key=lambda pair: (version_key(pair[0]), version_key(pair[1])))
    assert nox_sessions("-t", "ci") == [oldest, newest]
    assert re.search(r"\bnox\b[^\n]* -t ci\b", (REPO_ROOT / ".ci" / "run").read_text())
