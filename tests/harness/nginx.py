"""Run Debian's real nginx on 127.0.0.1 and a free port, from a config written per test.

:func:`start_nginx` writes a *complete* ``nginx.conf`` into a fresh world-readable (0755)
folder: ``daemon off;``, the pid file, error and access logs and every temp path live in
that folder, and nothing under /etc/nginx or /var is written. ``nginx -t`` checks it first,
and a rejected config raises :class:`NginxConfigError` quoting nginx's complaint and the
numbered config. Started as root, nginx runs its workers as ``nobody``: whatever it must read
(the media root and every folder above it) needs world-readable modes, which
:func:`harness.media.make_media_tree` gives.

What the caller provides is either

* a ``str``: the *inside* of a ``server {}`` block (``location``s, ``root``...); the harness
  adds ``listen 127.0.0.1:PORT;`` and ``server_name localhost;``; or
* a callable ``(NginxSite) -> str`` returning the inside of the ``http {}`` block, for
  upstreams, several servers, or directives that need the port or the folder. It must
  ``listen`` on ``site.listen`` itself.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .ports import LOOPBACK
from .process import ServerProcess
from .servers import start_with_port_retry

#: Where Debian's nginx-common ships the MIME map.
MIME_TYPES = Path("/etc/nginx/mime.types")
#: The site Debian's and Ubuntu's nginx enable on install (sites-enabled/default links to it).
DEBIAN_DEFAULT_SITE = Path("/etc/nginx/sites-available/default")
# Its directives, for a machine without the file (comments left out).
_DEBIAN_DEFAULT_FALLBACK = """\
server {
\tlisten 80 default_server;
\tlisten [::]:80 default_server;
\troot /var/www/html;
\tindex index.html index.htm index.nginx-debian.html;
\tserver_name _;
\tlocation / {
\t\ttry_files $uri $uri/ =404;
\t}
}
"""


class NginxConfigError(RuntimeError):
    """``nginx -t`` rejected the generated configuration."""


@dataclass(frozen=True)
class NginxSite:
    """What a config builder needs to know: the port and the folder nginx runs in."""

    port: int
    root: Path
    host: str = LOOPBACK

    @property
    def listen(self) -> str:
        """The ``listen`` directive for this site, e.g. ``listen 127.0.0.1:41234;``."""
        return f"listen {self.host}:{self.port};"


NginxConf = str | Callable[[NginxSite], str]


def nginx_binary() -> str:
    """Path of the nginx binary (``/usr/sbin`` is not on every user's PATH)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    found = shutil.which("nginx", path=path)
    if not found:
        raise FileNotFoundError("nginx not found: apt-get install nginx-light")
    return found


@functools.cache
def _compiled_temp_paths() -> tuple[str, ...]:
    """The ``*_temp_path`` directives this nginx build knows (modules can be compiled out)."""
    out = subprocess.run([nginx_binary(), "-V"], capture_output=True, text=True, check=False)
    build = out.stdout + out.stderr
    directives = ["client_body_temp_path", "proxy_temp_path"]
    for module in ("fastcgi", "uwsgi", "scgi"):
        if f"--without-http_{module}_module" not in build:
            directives.append(f"{module}_temp_path")
    return tuple(directives)


def render_nginx_conf(
    conf: NginxConf, site: NginxSite, *, http_extra: str = "", worker_processes: int = 1
) -> str:
    """The full ``nginx.conf`` text for ``conf`` (see the module docstring) at ``site``."""
    root = site.root
    temp_paths = "\n".join(
        f"    {directive} {root}/tmp/{directive.removesuffix('_temp_path')};"
        for directive in _compiled_temp_paths()
    )
    mime = f"include {MIME_TYPES};" if MIME_TYPES.exists() else "types { text/html html; }"
    if callable(conf):
        servers = conf(site)
    else:
        servers = f"server {{\n    {site.listen}\n    server_name localhost;\n{_indent(conf)}\n}}"
    return f"""# Written by tests/harness/nginx.py for one test run.
daemon off;
master_process on;
worker_processes {worker_processes};
pid {root}/nginx.pid;
error_log {root}/error.log notice;

events {{
    worker_connections 256;
}}

http {{
    {mime}
    default_type application/octet-stream;
    access_log {root}/access.log;
{temp_paths}
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 15;
{_indent(http_extra)}
{_indent(servers)}
}}
"""


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else line for line in text.splitlines())


def _numbered(text: str) -> str:
    return "\n".join(f"{i:4d}  {line}" for i, line in enumerate(text.splitlines(), 1))


def check_nginx_conf(conf_path: Path, root: Path) -> None:
    """Run ``nginx -t`` on ``conf_path``; :class:`NginxConfigError` with the reason if rejected."""
    result = subprocess.run(
        [nginx_binary(), "-t", "-q", "-p", f"{root}/", "-c", str(conf_path),
         "-e", str(root / "error.log")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise NginxConfigError(
            f"nginx -t rejected {conf_path}:\n{(result.stderr + result.stdout).strip()}\n"
            f"--- nginx.conf ---\n{_numbered(conf_path.read_text())}"
        )


def start_nginx(
    conf: NginxConf,
    *,
    http_extra: str = "",
    worker_processes: int = 1,
    env: Mapping[str, str] | None = None,
    timeout: float = 15.0,
    ready_path: str | None = None,
) -> ServerProcess:
    """Write a full nginx.conf for ``conf``, check it with ``nginx -t``, run nginx in front.

    Returns the started server; ``.logs()`` holds nginx's output, ``error.log`` and
    ``access.log``; the folder (``.cleanup_paths[0]``) goes away on ``stop()``.
    """

    def build(port: int) -> ServerProcess:
        root = Path(tempfile.mkdtemp(prefix="mediaserve-nginx-"))
        root.chmod(0o755)  # mkdtemp makes 0700; workers run as another user
        (root / "tmp").mkdir(mode=0o755)
        site = NginxSite(port=port, root=root)
        conf_path = root / "nginx.conf"
        conf_path.write_text(
            render_nginx_conf(conf, site, http_extra=http_extra, worker_processes=worker_processes)
        )
        conf_path.chmod(0o644)
        try:
            check_nginx_conf(conf_path, root)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return ServerProcess(
            [nginx_binary(), "-p", f"{root}/", "-c", str(conf_path), "-e", str(root / "error.log")],
            port=port,
            env={**os.environ, **(env or {})},
            cwd=root,
            ready_url=ready_path,
            timeout=timeout,
            name="nginx",
            extra_logs=[root / "error.log", root / "access.log"],
            cleanup_paths=[root],
        )

    return start_with_port_retry(build)


def stock_default_site(listen: str) -> str:
    """Debian's stock default site, as installed, listening on ``listen`` (e.g.
    ``127.0.0.1:41234`` or ``127.0.0.1:41234 ssl``) instead of port 80: its IPv4 ``listen``
    keeps ``default_server``, its IPv6 one is left out (loopback tests use IPv4 only)."""
    text = (
        DEBIAN_DEFAULT_SITE.read_text()
        if DEBIAN_DEFAULT_SITE.exists()
        else _DEBIAN_DEFAULT_FALLBACK
    )
    lines = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["listen"] and words[1].startswith("["):
            continue
        if words[:1] == ["listen"] and words[1].rstrip(";") == "80":
            indent = line[: len(line) - len(line.lstrip())]
            rest = ";" if words[1].endswith(";") else " " + " ".join(words[2:])
            line = f"{indent}listen {listen}{rest}"
        lines.append(line)
    return "\n".join(lines) + "\n"
