"""Well-known locations in the repository, for commands the harness starts."""

from __future__ import annotations

from pathlib import Path

#: ``tests/``: put it on ``PYTHONPATH`` so servers can import ``apps.*`` test apps.
TESTS_DIR = Path(__file__).resolve().parent.parent
#: The repository root (the folder holding ``pyproject.toml``).
REPO_ROOT = TESTS_DIR.parent
#: Small WSGI/ASGI apps used by the harness self-check and other tests.
APPS_DIR = TESTS_DIR / "apps"
