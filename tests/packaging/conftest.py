"""Session fixtures of the release checks: the sdist and wheel, built once, and a fresh venv
with the wheel installed (see packaging_support for what they are and why)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging_support import (
    WHEEL_EXTRAS,
    Dists,
    WheelVenv,
    check_run,
    copy_source_tree,
    quiet_pip_env,
    require_module,
)

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the release checks ``packaging``: ``-m "not packaging"`` skips the builds in a
    quick local run (they take about a minute)."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.packaging)


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    require_module("build")
    source = copy_source_tree(tmp_path_factory.mktemp("source") / "mediaserve")
    out = tmp_path_factory.mktemp("dist")
    check_run([sys.executable, "-m", "build", "--outdir", out, source], env=quiet_pip_env())
    sdists = sorted(out.glob("*.tar.gz"))
    wheels = sorted(out.glob("*.whl"))
    assert len(sdists) == 1, f"expected one sdist in {out}: {sorted(out.iterdir())}"
    assert len(wheels) == 1, f"expected one wheel in {out}: {sorted(out.iterdir())}"
    return Dists(sdist=sdists[0], wheel=wheels[0], source=source)


@pytest.fixture(scope="session")
def wheel_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    base = tmp_path_factory.mktemp("wheel-venv")
    venv = WheelVenv(root=base / "venv", workdir=base / "work")
    venv.workdir.mkdir()
    # The interpreter this venv's own base runs on (never this test run's site-packages).
    check_run([sys.executable, "-m", "venv", venv.root])
    requirement = f"mediaserve[{WHEEL_EXTRAS}] @ {dists.wheel.as_uri()}"
    check_run(
        [venv.python, "-m", "pip", "install", "--quiet", requirement],
        cwd=venv.workdir,
        env=venv.env(),
    )
    return venv
