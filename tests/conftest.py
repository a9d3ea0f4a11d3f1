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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec

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


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """One headless Debian Chromium for the session (open a new page per test)."""
    require("chromium")
    require("playwright")
    with Chromium() as browser:
        yield browser


@pytest.fixture
def curl_bin() -> str:
    """Path of the curl binary (fails in CI, skips locally, when missing)."""
    return require("curl")
