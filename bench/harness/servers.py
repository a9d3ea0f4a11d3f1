"""How each server is launched, started, checked for readiness and stopped.

One launcher per server kind builds the command line; :func:`running` starts it pinned
to the server core, waits until it answers HTTP, and always stops it afterwards.
Every server gets one worker process: the server side owns exactly one core, where
more workers would only add context switches (see bench/README.md).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import procs
from harness.fixtures import MediaDir
from harness.loadgen import fetch_head

HOST = "127.0.0.1"
READY_TIMEOUT = 45.0


@dataclass(frozen=True)
class ExampleConfig:
    """Where the example Django project lives and how to start it (all configurable)."""

    directory: Path
    wsgi: str  # module:attribute, imported with ``directory`` as the working directory
    media_subdir: str  # sub-folder of MEDIA_ROOT/MEDIA_URL holding public media
    env: dict[str, str]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str  # stdout on success, the reason on failure


@dataclass
class RunContext:
    """Everything a run shares: paths, the media directory, tuning choices."""

    repo: Path
    venv_bin: Path
    workdir: Path  # logs and generated configs
    media: MediaDir
    example: ExampleConfig
    gunicorn_worker: str = "gthread"
    gunicorn_threads: int = 16
    server_core: int = 0
    client_core: int = 1
    download_rate: str | None = "50M"  # curl --limit-rate of each long download
    probe_cache: dict[str, ProbeResult] = field(default_factory=dict)
    # The tree whose src/ (and, by default, example/) the candidates import: the repository
    # itself, or a --baseline export. The harness and bench apps always come from ``repo``.
    tree: Path | None = None

    @property
    def bench(self) -> Path:
        return self.repo / "bench"

    @property
    def src(self) -> Path:
        return (self.tree or self.repo) / "src"

    @property
    def python(self) -> Path:
        return self.venv_bin / "python"

    def tool(self, name: str) -> str:
        """A console script from the virtualenv, else from PATH."""
        candidate = self.venv_bin / name
        return str(candidate) if candidate.exists() else name


@dataclass
class Deployment:
    """What one server runs and where the benchmark files are under it."""

    app: str | None  # module:attribute for Python servers
    root: Path  # directory holding the benchmark files
    url_prefix: str  # URL path of that directory, with slashes on both ends
    cwd: Path
    pythonpath: list[Path]
    env: dict[str, str] = field(default_factory=dict)
    cleanup: Callable[[], None] = lambda: None
    # module -> directory its file must be under, as the server announces it in its log
    # (benchapps/witness.py). Empty for the anchors, which import no mediaserve.
    imports: dict[str, Path] = field(default_factory=dict)
    # Seconds until the server must answer (example/run.sh migrates and seeds first).
    ready_timeout: float = 45.0
    # The command for the "example-run-sh" launcher (the example's own script).
    script: Path | None = None


Launcher = Callable[[RunContext, Deployment, int], list[str]]


def _nginx(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
    prefix = ctx.workdir / f"nginx-{port}"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    # worker_processes 1: the server side owns one core (taskset -c 0); more workers on
    # that core would only add context switches. sendfile + tcp_nopush as in production.
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {HOST}:{port};
        location {dep.url_prefix} {{ alias {dep.root}/; }}
    }}
}}
"""
    )
    return ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]


def _gunicorn(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
    argv = [ctx.tool("gunicorn"), "--bind", f"{HOST}:{port}", "--workers", "1"]
    argv += ["--worker-class", ctx.gunicorn_worker]
    if ctx.gunicorn_worker == "gthread":
        argv += ["--threads", str(ctx.gunicorn_threads)]
    argv += ["--no-control-socket", "--log-level", "warning", "--chdir", str(dep.cwd)]
    return [*argv, _app(dep)]


def _granian(interface: str) -> Launcher:
    def launch(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
        return [
            ctx.tool("granian"), "--interface", interface, "--host", HOST, "--port", str(port),
            "--workers", "1", "--no-access-log", "--log-level", "warning",
            "--working-dir", str(dep.cwd), _app(dep),
        ]  # fmt: skip

    return launch


def _uvicorn(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
    # No --workers: a single process (uvicorn then runs no supervisor). uvloop and
    # httptools are used when installed (bench/requirements.txt), as in production.
    return [
        ctx.tool("uvicorn"), "--host", HOST, "--port", str(port), "--no-access-log",
        "--log-level", "warning", "--app-dir", str(dep.cwd), _app(dep),
    ]  # fmt: skip


def mediaserve_cli(ctx: RunContext) -> list[str]:
    """The ``mediaserve`` command as its console script runs it, naming the tree it imported
    (benchapps/ms_cli.py); works whether the package lays out ``cli.py`` or ``cli/``."""
    return [str(ctx.python), "-m", "benchapps.ms_cli"]


def _mediaserve_serve_default(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
    """``mediaserve serve`` with no --server: the default (``auto`` since 0.3: chosen from the
    tree's file sizes; granian before)."""
    return [
        *mediaserve_cli(ctx), "serve", str(dep.root), "--host", HOST, "--port", str(port),
        "--workers", "1", "--prefix", dep.url_prefix,
    ]  # fmt: skip


def _mediaserve_serve(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
    return [*_mediaserve_serve_default(ctx, dep, port), "--server", "granian"]


def _mediaserve_serve_gunicorn(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
    return [
        *_mediaserve_serve_default(ctx, dep, port), "--server", "gunicorn",
        "--threads", str(ctx.gunicorn_threads),
    ]  # fmt: skip


def _example_run_sh(ctx: RunContext, dep: Deployment, port: int) -> list[str]:
    """The example exactly as ``scripts/example.sh`` runs it: ``example/run.sh`` (its server,
    workers, threads and access log), on this port and a temporary var directory."""
    if dep.script is None:
        raise procs.HarnessError("example-run-sh needs the script to run")
    dep.env["PORT"] = str(port)
    return ["bash", str(dep.script)]


def _app(dep: Deployment) -> str:
    if not dep.app:
        raise procs.HarnessError("this server needs an application (module:attribute)")
    return dep.app


LAUNCHERS: dict[str, Launcher] = {
    "nginx": _nginx,
    "gunicorn": _gunicorn,
    "granian-wsgi": _granian("wsgi"),
    "granian-asgi": _granian("asgi"),
    "uvicorn": _uvicorn,
    "mediaserve-cli": _mediaserve_serve,
    "mediaserve-cli-default": _mediaserve_serve_default,
    "mediaserve-cli-gunicorn": _mediaserve_serve_gunicorn,
    "example-run-sh": _example_run_sh,
}


@dataclass
class RunningServer:
    key: str
    proc: subprocess.Popen[bytes]
    port: int
    command: str
    log_path: Path
    deployment: Deployment
    imports: dict[str, str] = field(default_factory=dict)  # module -> file, from the log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port}{self.deployment.url_prefix}{name}"


def server_env(ctx: RunContext, dep: Deployment) -> dict[str, str]:
    env = dict(os.environ)
    path = [str(p) for p in dep.pythonpath]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["BENCH_MEDIA_ROOT"] = str(dep.root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(dep.env)
    return env


@contextmanager
def running(ctx: RunContext, key: str, server: str, dep: Deployment) -> Iterator[RunningServer]:
    """Start ``server`` for ``dep``, wait until it answers, yield it, then stop it."""
    port = procs.free_port()
    log_path = ctx.workdir / f"{key}-{port}.log"
    try:
        argv = LAUNCHERS[server](ctx, dep, port)  # may set environment (PORT) in dep.env
        proc = procs.spawn(
            argv, log_path=log_path, cwd=dep.cwd, env=server_env(ctx, dep), core=ctx.server_core
        )
        try:
            srv = RunningServer(
                key, proc, port, shlex.join(procs.pinned(argv, ctx.server_core)), log_path, dep
            )
            _wait_ready(srv)
            srv.imports = _check_imports(srv)
            yield srv
        finally:
            procs.stop(proc)
    finally:
        dep.cleanup()


def _wait_ready(srv: RunningServer) -> None:
    deadline = time.monotonic() + max(READY_TIMEOUT, srv.deployment.ready_timeout)
    url = srv.url("small.bin")
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            raise procs.HarnessError(
                f"{srv.key} exited with status {srv.proc.returncode} during start-up "
                f"({srv.command}):\n{procs.log_tail(srv.log_path)}"
            )
        if fetch_head(url, timeout=1.0) is not None:
            return
        time.sleep(0.1)
    raise procs.HarnessError(
        f"{srv.key} did not answer on port {srv.port} within "
        f"{max(READY_TIMEOUT, srv.deployment.ready_timeout):.0f}s "
        f"({srv.command}):\n{procs.log_tail(srv.log_path)}"
    )


WITNESS = "BENCH_IMPORT"  # benchapps.witness.PREFIX (the harness doesn't import the apps)
WITNESS_TIMEOUT = 5.0


def announced_imports(log_path: Path) -> dict[str, set[str]]:
    """module -> every file the server's processes announced for it (benchapps/witness.py)."""
    found: dict[str, set[str]] = {}
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        if not line.startswith(WITNESS + " "):
            continue
        for word in line.split()[1:]:
            name, sep, where = word.partition("=")
            if sep and name != "pid":
                found.setdefault(name, set()).add(where)
    return found


def _check_imports(srv: RunningServer) -> dict[str, str]:
    """The files the server imported for ``deployment.imports``; a HarnessError unless every
    module was announced and every announcement lies under its expected directory."""
    wanted = srv.deployment.imports
    if not wanted:
        return {}
    deadline = time.monotonic() + WITNESS_TIMEOUT
    found = announced_imports(srv.log_path)
    while any(m not in found for m in wanted) and time.monotonic() < deadline:
        time.sleep(0.1)
        found = announced_imports(srv.log_path)
    problems, seen = [], {}
    for module, directory in wanted.items():
        files = sorted(found.get(module, ()))
        if not files:
            problems.append(f"{module}: no {WITNESS} line in {srv.log_path}")
            continue
        wrong = [f for f in files if not _under(Path(f), directory)]
        if wrong:
            problems.append(f"{module} from {', '.join(wrong)}, expected under {directory}")
        seen[module] = files[0] if len(files) == 1 else ", ".join(files)
    if problems:
        raise procs.HarnessError(f"{srv.key} runs the wrong code: " + "; ".join(problems))
    return seen


def _under(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True
