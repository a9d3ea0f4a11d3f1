"""Run Debian's real Apache httpd on 127.0.0.1 and a free port, with mod_xsendfile.

The caller gives a function ``(port) -> text`` returning the site (a ``<VirtualHost>``, e.g.
``mediaserve config apache --listen PORT``); the harness writes a complete ``httpd.conf``
around it in a fresh 0755 folder -- the modules a reverse proxy with X-Sendfile needs,
``Listen 127.0.0.1:PORT``, pid and logs in that folder -- checks it with ``apache2 -t`` and
runs it in the foreground. Nothing under /etc/apache2 or /var is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .ports import LOOPBACK
from .process import ServerProcess
from .servers import start_with_port_retry

MODULE_DIR = Path("/usr/lib/apache2/modules")
# What the generated config needs, plus dir and autoindex, which a stock Debian install
# enables (and which answer folders with a redirect or a listing unless the config stops them).
MODULES = (
    "mpm_event", "authz_core", "mime", "alias", "headers", "proxy", "proxy_http", "rewrite",
    "xsendfile", "dir", "autoindex",
)  # fmt: skip


class ApacheConfigError(RuntimeError):
    """``apache2 -t`` rejected the configuration."""


def apache_binary() -> str:
    found = shutil.which("apache2", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
    if not found:
        raise FileNotFoundError("apache2 not found: apt-get install apache2")
    if not (MODULE_DIR / "mod_xsendfile.so").exists():
        raise FileNotFoundError("mod_xsendfile missing: apt-get install libapache2-mod-xsendfile")
    return found


def render_httpd_conf(root: Path, port: int, site: str) -> str:
    modules = "\n".join(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in MODULES)
    return f"""# Written by tests/harness/apache.py for one test run.
ServerRoot "{root}"
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
LogLevel warn
Listen {LOOPBACK}:{port}
{modules}
TypesConfig /etc/mime.types
User nobody
Group nogroup
ServerName localhost
Mutex file:{root}
{site}
"""


def start_apache(site: Callable[[int], str], *, timeout: float = 20.0) -> ServerProcess:
    def build(port: int) -> ServerProcess:
        root = Path(tempfile.mkdtemp(prefix="mediaserve-apache-"))
        root.chmod(0o755)
        conf = root / "httpd.conf"
        conf.write_text(render_httpd_conf(root, port, site(port)))
        conf.chmod(0o644)
        check = subprocess.run(
            [apache_binary(), "-t", "-f", str(conf)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if check.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise ApacheConfigError(
                f"apache2 -t rejected the config:\n{check.stderr}{check.stdout}\n"
                f"--- httpd.conf ---\n{render_httpd_conf(root, port, site(port))}"
            )
        return ServerProcess(
            [apache_binary(), "-f", str(conf), "-DFOREGROUND"],
            port=port,
            cwd=root,
            timeout=timeout,
            name="apache2",
            extra_logs=[root / "error.log"],
            cleanup_paths=[root],
        )

    return start_with_port_retry(build)
