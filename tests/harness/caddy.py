"""Run Debian's real Caddy on 127.0.0.1 and a free port, from a Caddyfile written per test.

The caller gives a function ``(port) -> Caddyfile text`` (a site block that listens on
that port, e.g. the output of ``mediaserve config caddy --listen 127.0.0.1:PORT``); the
harness prepends the global options a test run needs (no admin endpoint, no automatic
HTTPS, data and config folders inside the run's own folder), checks it with
``caddy validate`` and runs ``caddy run``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .process import ServerProcess
from .servers import start_with_port_retry

GLOBAL_OPTIONS = """\
{
    admin off
    auto_https off
}

"""


class CaddyConfigError(RuntimeError):
    """``caddy validate`` rejected the Caddyfile."""


def caddy_binary() -> str:
    found = shutil.which("caddy", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
    if not found:
        raise FileNotFoundError("caddy not found: apt-get install caddy")
    return found


def validate_caddyfile(path: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [caddy_binary(), "validate", "--adapter", "caddyfile", "--config", str(path)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise CaddyConfigError(
            f"caddy validate rejected {path}:\n{(result.stderr + result.stdout)[-3000:]}\n"
            f"--- Caddyfile ---\n{path.read_text()}"
        )


def start_caddy(site: Callable[[int], str], *, timeout: float = 20.0) -> ServerProcess:
    def build(port: int) -> ServerProcess:
        root = Path(tempfile.mkdtemp(prefix="mediaserve-caddy-"))
        root.chmod(0o755)
        caddyfile = root / "Caddyfile"
        caddyfile.write_text(GLOBAL_OPTIONS + site(port))
        env = {**os.environ, "XDG_DATA_HOME": str(root / "data"),
               "XDG_CONFIG_HOME": str(root / "config"), "HOME": str(root)}  # fmt: skip
        try:
            validate_caddyfile(caddyfile, env)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return ServerProcess(
            [caddy_binary(), "run", "--adapter", "caddyfile", "--config", str(caddyfile)],
            port=port,
            env=env,
            cwd=root,
            timeout=timeout,
            name="caddy",
            cleanup_paths=[root],
        )

    return start_with_port_retry(build)
