"""The sdist and the wheel: named for the one version, metadata that PyPI accepts, the license,
every file of the package (templates and static files included), and nothing else."""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

import pytest
from packaging_support import (
    Dists,
    check_run,
    copy_source_tree,
    quiet_pip_env,
    require_module,
    source_version,
)

from harness import REPO_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extras install tomli there
    import tomli as tomllib

PACKAGE_DIR = REPO_ROOT / "src" / "mediaserve"


def wheel_names(dists: Dists) -> list[str]:
    with zipfile.ZipFile(dists.wheel) as wheel:
        return wheel.namelist()


def wheel_metadata(dists: Dists) -> tuple[str, Message]:
    version = source_version()
    with zipfile.ZipFile(dists.wheel) as wheel:
        text = wheel.read(f"mediaserve-{version}.dist-info/METADATA").decode()
    return text, HeaderParser().parsestr(text)


def package_files(root: Path) -> set[str]:
    """Every file a user needs from ``src/mediaserve``, as wheel paths (``mediaserve/...``)."""
    return {
        "mediaserve/" + path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in {".pyc", ".pyo"}
    }


# -- the version, spelled once ------------------------------------------------------------------


def test_pyproject_reads_the_version_from_the_package_instead_of_spelling_it() -> None:
    """A second spelling drifts: 0.1.0 stayed in pyproject.toml while __init__ moved on."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "mediaserve.__version__"}


def test_the_built_artifacts_carry_the_packages_version(dists: Dists) -> None:
    version = source_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert dists.sdist.name == f"mediaserve-{version}.tar.gz"
    assert dists.wheel.name == f"mediaserve-{version}-py3-none-any.whl"
    _, metadata = wheel_metadata(dists)
    assert metadata["Version"] == version


# -- metadata PyPI accepts ----------------------------------------------------------------------


def test_twine_check_passes_strictly_on_both_artifacts(dists: Dists) -> None:
    """``--strict`` also fails on warnings, e.g. a README that PyPI would not render."""
    require_module("twine")
    output = check_run(
        [sys.executable, "-m", "twine", "check", "--strict", dists.sdist, dists.wheel],
        env=quiet_pip_env(),
    )
    assert output.count("PASSED") == 2, output


def test_the_license_file_and_expression_are_in_the_wheel(dists: Dists) -> None:
    version = source_version()
    _, metadata = wheel_metadata(dists)
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata["License-File"] == "LICENSE"
    with zipfile.ZipFile(dists.wheel) as wheel:
        shipped = wheel.read(f"mediaserve-{version}.dist-info/licenses/LICENSE")
    assert shipped == (REPO_ROOT / "LICENSE").read_bytes()
    assert b"BSD 3-Clause License" in shipped
    assert b"mediaserve contributors" in shipped


def test_the_readme_is_the_long_description_in_markdown(dists: Dists) -> None:
    text, metadata = wheel_metadata(dists)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert 'pip install "mediaserve[django]"' in text


# -- what the wheel holds -----------------------------------------------------------------------


def test_the_wheel_holds_every_file_of_the_package(dists: Dists) -> None:
    """py.typed, and any template or static file a subpackage brings, not only ``.py``
    files: a file that is missing here is missing for every user."""
    names = set(wheel_names(dists))
    expected = package_files(PACKAGE_DIR)
    assert "mediaserve/py.typed" in expected
    assert expected - names == set()


def test_the_wheel_holds_only_the_package_and_its_metadata(dists: Dists) -> None:
    version = source_version()
    allowed_roots = {"mediaserve", f"mediaserve-{version}.dist-info"}
    names = wheel_names(dists)
    assert {PurePosixPath(name).parts[0] for name in names} == allowed_roots
    for name in names:
        parts = set(PurePosixPath(name).parts)
        assert not parts & {"tests", "bench", "example", "deploy", "docs", "__pycache__"}, name
        assert not name.endswith((".pyc", ".pyo")), name


def test_the_wheel_has_the_command_line_entry_point(dists: Dists) -> None:
    version = source_version()
    with zipfile.ZipFile(dists.wheel) as wheel:
        entry_points = wheel.read(f"mediaserve-{version}.dist-info/entry_points.txt").decode()
    assert "mediaserve = mediaserve.cli:main" in entry_points


def test_package_data_globs_take_future_templates_and_static_files(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The admin health page and the template tags will bring ``templates/`` and ``static/``
    folders: they must land in the wheel without anyone remembering to list them."""
    require_module("build")
    source = copy_source_tree(tmp_path_factory.mktemp("planted") / "mediaserve")
    planted = [
        "src/mediaserve/django/templates/mediaserve/health.html",
        "src/mediaserve/django/templates/admin/mediaserve/change_list.html",
        "src/mediaserve/django/static/mediaserve/health.css",
        "src/mediaserve/django/static/mediaserve/img/ok.svg",
    ]
    for name in planted:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("planted\n")
    out = tmp_path_factory.mktemp("planted-dist")
    check_run([sys.executable, "-m", "build", "--outdir", out, source], env=quiet_pip_env())
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as built:
        names = set(built.namelist())
    for name in planted:
        assert name.removeprefix("src/") in names


# -- what the sdist holds -----------------------------------------------------------------------


def test_the_sdist_holds_the_source_license_changelog_and_docs(dists: Dists) -> None:
    version = source_version()
    top = f"mediaserve-{version}/"
    with tarfile.open(dists.sdist) as sdist:
        names = {name.removeprefix(top) for name in sdist.getnames()}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "mkdocs.yml"):
        assert needed in names
    assert "docs/index.md" in names
    sources = {f"src/{name}" for name in package_files(PACKAGE_DIR)}
    assert sources - names == set()
    for name in names:
        first = PurePosixPath(name).parts[0] if name else ""
        assert first not in {"tests", "bench", "example", ".venv", ".git", ".nox"}, name
        assert "__pycache__" not in name, name
