"""Fixtures for the example project's tests (example/ is a Django project, not a package).

The example's settings read the environment at import, so Django is configured here, once per
session, with a temporary var directory (database, media, static, secret key) and a public base URL
that differs from any Host header a test sends. Tests that must see other settings values start
the settings module in a subprocess instead (see test_example_settings.py).

Django can be set up only once per process: if another test package has already configured it
with its own settings, the in-process tests here skip and say so; run `pytest tests/example`.
"""

from __future__ import annotations

import importlib.util
import os
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

from example_support import EXAMPLE_ENV_VARS, PUBLIC_BASE_URL, SETTINGS_MODULE  # noqa: E402


@pytest.fixture(scope="session")
def example_django(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Django configured with the example's settings (DEBUG off) and a migrated database."""
    from django.conf import settings

    configured_module = getattr(settings, "SETTINGS_MODULE", None) if settings.configured else None
    requested = os.environ.get("DJANGO_SETTINGS_MODULE")
    if settings.configured and configured_module != SETTINGS_MODULE:
        pytest.skip(
            f"Django is already configured by other tests ({configured_module or 'configure()'}); "
            "run `pytest tests/example` on its own"
        )
    if not settings.configured and requested not in (None, SETTINGS_MODULE):
        pytest.skip(f"DJANGO_SETTINGS_MODULE={requested}; run `pytest tests/example` on its own")

    import django
    from django.core.management import call_command
    from django.test.utils import (
        override_settings,
        setup_test_environment,
        teardown_test_environment,
    )

    var_dir = tmp_path_factory.mktemp("example-var")
    with pytest.MonkeyPatch.context() as mp:
        for name in EXAMPLE_ENV_VARS:
            mp.delenv(name, raising=False)
        mp.setenv("EXAMPLE_VAR_DIR", str(var_dir))
        mp.setenv("PUBLIC_BASE_URL", PUBLIC_BASE_URL)
        mp.setenv("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
        django.setup()
        # Kept for the rest of the session, so later imports of django.conf agree.
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    setup_test_environment()  # locmem e-mail, and "testserver" added to ALLOWED_HOSTS
    # Production hashing costs a second per password; tests only need it to round-trip.
    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    yield settings
    teardown_test_environment()


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
