"""Helpers of the release checks (tests/packaging/), which test what a user gets from
``pip install mediaserve``, not this checkout.

Once per session the sdist and the wheel are built (``python -m build``, which builds the
wheel *from the sdist*) out of a copy of the source tree, so the checkout is never written to
and a file missing from the sdist shows up as a missing file in the wheel. The wheel is then
installed, not editable, with the README's extras into a fresh venv (``wheel_venv``); the
smoke tests run its ``mediaserve`` command, its Django app and its servers from a folder
outside the repository, so nothing can be imported from ``src/`` by accident.

pip may take what it needs from its local cache; with ``CI=true`` a missing tool (build,
twine, mkdocs, nox) fails the test instead of skipping it.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import REPO_ROOT, Requirement, ServerProcess, ServerStartError, free_port, in_ci

#: Outside a git checkout: files of a working tree that never belong in a build.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    ".matrix",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    "build",
    "dist",
    "site",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
)


def require_module(name: str) -> None:
    """Skip (fail in CI) when the release tool ``name`` is not installed in this venv."""
    if Requirement(name, "", kind="python").locate():
        return
    message = f"{name} is missing; install the test extras: pip install -e '.[test]'"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; stdout and stderr together in ``.stdout``."""
    return subprocess.run(
        [os.fspath(a) for a in argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> str:
    """Run a command that must succeed; its output (the tail of it in the failure message)."""
    result = run(argv, cwd=cwd, env=env, timeout=timeout)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        pytest.fail(
            f"{' '.join(map(str, argv))} exited {result.returncode}:\n{tail}", pytrace=False
        )
    return result.stdout


def copy_source_tree(destination: Path) -> Path:
    """The working tree as a fresh clone has it, plus uncommitted work: the files git tracks
    or would track (``.gitignore`` keeps out venvs, caches, benchmark results and builds)."""
    listed = subprocess.run(
        [
            "git",
            "-C",
            str(REPO_ROOT),
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist, say)
        shutil.copytree(REPO_ROOT, destination, ignore=_NOT_SOURCE, symlinks=True)
        return destination
    for name in listed.stdout.decode().split("\0"):
        source = REPO_ROOT / name
        if not name or not source.exists():  # deleted but not yet staged
            continue
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination / name, follow_symlinks=False)
    return destination


def source_version() -> str:
    """``__version__`` as the package spells it (read, not imported: this is the source)."""
    tree = ast.parse((REPO_ROOT / "src" / "mediaserve" / "__init__.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    raise AssertionError("src/mediaserve/__init__.py has no literal __version__")


def quiet_pip_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PYTHONPATH", None)
    return env


@dataclass(frozen=True)
class Dists:
    """What ``python -m build`` made, and the source copy it was made from."""

    sdist: Path
    wheel: Path
    source: Path


@dataclass(frozen=True)
class WheelVenv:
    """A fresh venv with the built wheel installed (not editable), and a folder outside the
    repository to run its commands from."""

    root: Path
    workdir: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self) -> dict[str, str]:
        """The user's environment as after ``source venv/bin/activate``, and nothing of this
        test run's (no PYTHONPATH, no Django settings, no other venv)."""
        env = quiet_pip_env()
        for name in ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "PYTHONHOME"):
            env.pop(name, None)
        env["VIRTUAL_ENV"] = str(self.root)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, *argv: str | os.PathLike[str], cwd: Path | None = None) -> str:
        """Run a command of the venv (``mediaserve``, ``python``...) that must succeed."""
        first = self.bin / os.fspath(argv[0])
        return check_run([first, *argv[1:]], cwd=cwd or self.workdir, env=self.env())

    def run_unchecked(
        self, *argv: str | os.PathLike[str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        first = self.bin / os.fspath(argv[0])
        return run([first, *argv[1:]], cwd=cwd or self.workdir, env=self.env())


#: The README's install line plus the servers the smoke tests run: granian for
#: `mediaserve serve`, gunicorn for the Django project.
WHEEL_EXTRAS = "django,serve,serve-gunicorn"


def start_on_free_port(
    argv_for: Callable[[int], Sequence[str | os.PathLike[str]]],
    *,
    env: dict[str, str],
    cwd: Path,
    ready_url: str,
    name: str,
) -> ServerProcess:
    """Start ``argv_for(port)`` on a free loopback port and wait until ``ready_url`` answers;
    another port when one was taken between choosing it and the bind (as the harness does)."""
    attempts = 3
    for attempt in range(1, attempts + 1):
        port = free_port()
        server = ServerProcess(
            argv_for(port), port=port, env=env, cwd=cwd, ready_url=ready_url, name=name
        )
        try:
            return server.start()
        except ServerStartError as error:
            if not error.address_in_use or attempt == attempts:
                raise
    raise AssertionError("unreachable")
