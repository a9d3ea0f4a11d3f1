"""Fixtures for the example project's tests (example/ is a Django project, not a package).

Django is configured once per process by the ``example_django`` fixture in tests/conftest.py
(the example's settings, DEBUG off); tests/django uses the same configuration with
override_settings. Tests that must see other settings values start the settings module in a
subprocess instead.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
# The example project (`shop`, `catalog`) and example_support, whatever pytest's import mode.
for directory in (HERE.parents[1] / "example", HERE):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
if importlib.util.find_spec("mediaserve") is None and (HERE.parents[1] / "src").is_dir():
    sys.path.insert(0, str(HERE.parents[1] / "src"))  # a checkout that was not pip-installed


@pytest.fixture
def db(example_django: Any) -> Iterator[None]:
    """Each test's database changes are rolled back at its end."""
    from django.db import transaction

    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def media_root(db: None, tmp_path: Path) -> Iterator[Path]:
    """A fresh, not yet existing MEDIA_ROOT for the test (the seed command must create it)."""
    from django.test import override_settings

    root = tmp_path / "media"
    with override_settings(MEDIA_ROOT=root):
        yield root


@pytest.fixture
def client(db: None) -> Any:
    from django.test import Client

    return Client()
