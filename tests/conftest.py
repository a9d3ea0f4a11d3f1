"""Shared fixtures and collection rules for the whole suite.

* Tests under ``tests/integration/`` get the ``integration`` marker; they run by default.
* ``slow`` tests are deselected unless ``-m`` names ``slow`` or ``MEDIASERVE_SLOW=1``.
* With ``CI=true`` a missing program (nginx, chromium, curl...) ends the session at once
  with the package to install: in CI a missing binary is a failure, never a skip.
* Server fixtures are factories (``gunicorn("apps.hello:wsgi", pythonpath=[TESTS_DIR])``);
  whatever a test starts is stopped at its teardown, pass or fail, and anything left over
  is stopped when the session ends.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec

import pytest

from harness import (
    Chromium,
    MediaTree,
    ServerProcess,
    in_ci,
    media_tree,
    missing_requirements,
    require,
    start_granian,
    start_gunicorn,
    start_nginx,
    start_uvicorn,
    stop_all,
)
from harness.binaries import missing_report

P = ParamSpec("P")

_INTEGRATION_DIR = Path(__file__).parent / "integration"


# -- session rules -----------------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = missing_requirements()
    if missing and in_ci():
        pytest.exit("CI=true and " + missing_report(missing), returncode=3)


def pytest_report_header(config: pytest.Config) -> list[str]:
    missing = missing_requirements()
    if not missing:
        return ["mediaserve harness: all required programs found"]
    return ["mediaserve harness: " + missing_report(missing)]


def _slow_selected(config: pytest.Config) -> bool:
    if os.environ.get("MEDIASERVE_SLOW", "") not in {"", "0"}:
        return True
    return "slow" in (config.getoption("markexpr", "") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _INTEGRATION_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
    if _slow_selected(config):
        return
    kept = [item for item in items if item.get_closest_marker("slow") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all()


# -- media -------------------------------------------------------------------------------------


@pytest.fixture
def media() -> Iterator[MediaTree]:
    """A fresh sample tree (see harness.media) that the test may change."""
    with media_tree() as tree:
        yield tree


@pytest.fixture
def media_dir(media: MediaTree) -> Path:
    """The root of a fresh, world-readable sample media tree."""
    return media.root


@pytest.fixture(scope="session")
def shared_media() -> Iterator[MediaTree]:
    """One sample tree for the whole session: read it, never change it."""
    with media_tree() as tree:
        yield tree


# -- servers -----------------------------------------------------------------------------------


def _factory(
    start: Callable[P, ServerProcess], needs: tuple[str, ...]
) -> Callable[[], Iterator[Callable[P, ServerProcess]]]:
    def fixture() -> Iterator[Callable[P, ServerProcess]]:
        for name in needs:
            require(name)
        started: list[ServerProcess] = []

        def run(*args: P.args, **kwargs: P.kwargs) -> ServerProcess:
            server = start(*args, **kwargs)
            started.append(server)
            return server

        yield run
        for server in reversed(started):  # a proxy goes before its upstream
            server.stop()

    fixture.__doc__ = f"Factory for {start.__name__}(); stops what it started at teardown."
    return fixture


gunicorn = pytest.fixture(_factory(start_gunicorn, ("gunicorn",)), name="gunicorn")
uvicorn = pytest.fixture(_factory(start_uvicorn, ("uvicorn",)), name="uvicorn")
granian = pytest.fixture(_factory(start_granian, ("granian",)), name="granian")
nginx = pytest.fixture(_factory(start_nginx, ("nginx",)), name="nginx")


# -- clients -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """One headless Debian Chromium per module (open a new page per test).

    Not per session: Playwright's sync API keeps an event loop running in the main thread
    while it is started, and Django then refuses database access from "an async context"
    in every later test (SynchronousOnlyOperation).
    """
    require("chromium")
    require("playwright")
    with Chromium() as browser:
        yield browser


@pytest.fixture
def curl_bin() -> str:
    """Path of the curl binary (fails in CI, skips locally, when missing)."""
    return require("curl")


# --- Django: one configuration per process -------------------------------------------------
# Django can be set up only once per interpreter, and both tests/example and tests/django need
# it: they share the example project's settings (DEBUG off, a temporary var directory) and the
# Django tests override what they depend on with override_settings.

_EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "example"
_EXAMPLE_TESTS = Path(__file__).resolve().parent / "example"
for _directory in (_EXAMPLE_DIR, _EXAMPLE_TESTS):
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))


@pytest.fixture(scope="session")
def example_django(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Django configured with the example's settings (DEBUG off) and a migrated database."""
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import (
        override_settings,
        setup_test_environment,
        teardown_test_environment,
    )
    from example_support import EXAMPLE_ENV_VARS, PUBLIC_BASE_URL, SETTINGS_MODULE

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
