"""The table of what is benchmarked: anchors (reference points) and candidates (mediaserve).

Adding a candidate is adding one :class:`Subject` row: a key, the server kind (see
``servers.LAUNCHERS``), the application to import, and an availability check. A
candidate whose check fails is reported as "unavailable: <reason>" and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.fixtures import remove_tree
from harness.servers import Deployment, ProbeResult, RunContext, server_env

Role = Literal["anchor", "candidate"]
Check = Callable[[RunContext], "str | None"]

BENCH_PREFIX = "/media/"  # matches benchapps._env.MEDIA_PREFIX
FILES = frozenset({"files"})  # serves the benchmark files from disk
CEILING = frozenset({"ceiling"})  # answers every path with the 10 KB body from memory
ASYNC_FILES = frozenset({"files", "async"})  # an async server: the latency scenario
DEFAULT_SERVER = frozenset({"default-server"})  # the large scenario only
SHIPPED = frozenset({"shipped"})  # the example's own start script: the shipped scenario only
VARIANT = frozenset({"variant"})  # the start script with other settings: the servers scenario


def _variant(key: str, label: str, app: str | None = None, **env: str) -> Subject:
    """``example/run.sh`` with other server settings (an anchor: measured once, after)."""
    return Subject(key, label, "anchor", "example-run-sh", app,
                   tags=VARIANT | (CEILING if app else frozenset()),
                   requires=(example_script,), deploy=shipped_deployment,
                   env=tuple(env.items()))  # fmt: skip


def bench_deployment(ctx: RunContext, subject: Subject) -> Deployment:
    """Serve the harness's media directory at /media/ with bench/ and src/ importable.

    A candidate must announce a ``mediaserve`` from ``ctx.src`` (benchapps/witness.py).
    """
    return Deployment(
        app=subject.app,
        root=ctx.media.root,
        url_prefix=BENCH_PREFIX,
        cwd=ctx.bench,
        pythonpath=[ctx.bench, ctx.src],
        imports={"mediaserve": ctx.src} if subject.role == "candidate" else {},
    )


@dataclass(frozen=True)
class Subject:
    key: str
    label: str
    role: Role
    server: str  # key of servers.LAUNCHERS
    app: str | None = None
    tags: frozenset[str] = FILES
    requires: tuple[Check, ...] = ()
    deploy: Callable[[RunContext, Subject], Deployment] = bench_deployment
    notes: str = ""
    # Extra environment for the server (the shipped script's variants: WEB_SERVER, ...).
    env: tuple[tuple[str, str], ...] = ()

    def unavailable(self, ctx: RunContext) -> str | None:
        """Why this subject can't run here, or None."""
        for check in self.requires:
            reason = check(ctx)
            if reason:
                return reason
        return None


# --- availability checks -----------------------------------------------------------------


def python_probe(
    ctx: RunContext, key: str, code: str, cwd: Path, pythonpath: list[Path]
) -> ProbeResult:
    """Run ``code`` in the venv Python (cached per ``key`` and tree); a failure keeps the last
    error line."""
    key = f"{key}@{ctx.src}"
    cached = ctx.probe_cache.get(key)
    if cached is not None:
        return cached
    dep = Deployment(app=None, root=ctx.media.root, url_prefix="/", cwd=cwd, pythonpath=pythonpath)
    try:
        out = subprocess.run(
            [str(ctx.python), "-c", code],
            cwd=cwd,
            env=server_env(ctx, dep),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if out.returncode == 0:
            result = ProbeResult(True, out.stdout)
        else:
            lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
            result = ProbeResult(False, lines[-1].strip() if lines else f"exit {out.returncode}")
    except subprocess.TimeoutExpired:
        result = ProbeResult(False, "import took longer than 120 s")
    ctx.probe_cache[key] = result
    return result


def needs_tool(name: str) -> Check:
    def check(ctx: RunContext) -> str | None:
        found = (ctx.venv_bin / name).exists() or shutil.which(name) is not None
        return None if found else f"{name} is not installed"

    return check


def needs_import(module: str, attribute: str | None = None) -> Check:
    """The venv can import ``module`` (and it has ``attribute``) with src/ on the path."""
    target = f"{module}.{attribute}" if attribute else module
    code = f"import {module}" + (f"; {target}" if attribute else "")

    def check(ctx: RunContext) -> str | None:
        result = python_probe(ctx, f"import:{target}", code, ctx.bench, [ctx.bench, ctx.src])
        return None if result.ok else f"cannot use {target}: {result.detail}"

    return check


# --- the example Django project ------------------------------------------------------------

_EXAMPLE_PROBE = """
import importlib, json, sys
module, _, attr = sys.argv[1].partition(":")
getattr(importlib.import_module(module), attr or "application")
from django.conf import settings
print(json.dumps({"media_root": str(settings.MEDIA_ROOT), "media_url": settings.MEDIA_URL}))
"""


def _example_media(ctx: RunContext) -> ProbeResult:
    ex = ctx.example
    code = f"import sys; sys.argv[1:] = [{ex.wsgi!r}]\n{_EXAMPLE_PROBE}"
    return python_probe(ctx, "example", code, ex.directory, [ex.directory, ctx.src])


def example_available(ctx: RunContext) -> str | None:
    if not ctx.example.directory.is_dir():
        return f"example directory {ctx.example.directory} does not exist"
    result = _example_media(ctx)
    if not result.ok:
        return f"example project ({ctx.example.wsgi}) does not start: {result.detail}"
    info = json.loads(result.detail.strip().splitlines()[-1])
    if not str(info["media_url"]).startswith("/") or not info["media_root"]:
        return f"example MEDIA_URL/MEDIA_ROOT not servable locally: {info}"
    return None


def example_deployment(ctx: RunContext, subject: Subject) -> Deployment:
    """Mirror the benchmark files into a fresh folder under the example's MEDIA_ROOT."""
    ex = ctx.example
    info = json.loads(_example_media(ctx).detail.strip().splitlines()[-1])
    sub = ex.media_subdir.strip("/")
    folder = f"bench-{uuid.uuid4().hex[:8]}"
    base = Path(info["media_root"]) / sub if sub else Path(info["media_root"])
    if not base.is_absolute():
        base = ex.directory / base
    target = base / folder
    created = target  # remove the highest folder this run created
    while not created.parent.exists():
        created = created.parent
    ctx.media.mirror_into(target)
    url = "/" + "/".join(p for p in (str(info["media_url"]).strip("/"), sub, folder) if p) + "/"
    # benchapps.example_app imports ex.wsgi and hands the server that very object, after
    # naming the mediaserve and the project package it imported (benchapps/witness.py).
    package = ex.wsgi.partition(":")[0].partition(".")[0]
    return Deployment(
        app="benchapps.example_app:application",
        root=target,
        url_prefix=url,
        cwd=ex.directory,
        pythonpath=[ex.directory, ctx.src, ctx.bench],
        env={**ex.env, "BENCH_EXAMPLE_WSGI": ex.wsgi},
        cleanup=lambda: remove_tree(created),
        imports={"mediaserve": ctx.src}
        | ({package: ex.directory} if (ex.directory / package).exists() else {}),
    )


def shipped_deployment(ctx: RunContext, subject: Subject) -> Deployment:
    """The example as ``scripts/example.sh`` starts it (``example/run.sh``: its server, workers,
    threads and access log), with the benchmark files in a folder of its MEDIA_ROOT.

    ``ceiling-shipped`` runs the same script with ``WSGI_APP`` pointed at the bare ceiling app:
    the server's own cost under the very same command line. A baseline tree's script that
    knows no ``WSGI_APP`` runs the example itself, so no import witness is asked for here:
    ``PYTHONPATH`` puts the tree's src/ first.
    """
    ex = ctx.example
    # One var directory per tree for the whole run: run.sh migrates and seeds it once (every
    # step is idempotent), each server gets its own folder of benchmark files in its media.
    var = ctx.workdir / f"example-var-{hashlib.sha1(str(ex.directory).encode()).hexdigest()[:8]}"
    folder = f"bench-{subject.key}-{uuid.uuid4().hex[:6]}"
    target = var / "media" / folder
    ctx.media.mirror_into(target)
    env = {
        "HOST": "127.0.0.1", "EXAMPLE_VAR_DIR": str(var), "SEED_COUNT": "2", "MEDIA_ROOT": "",
        "PUBLIC_BASE_URL": "", "EXAMPLE_PYTHON": str(ctx.python), "ADMIN_PASSWORD": "",
    }  # fmt: skip
    if subject.app:
        env["WSGI_APP"] = subject.app
    env.update(subject.env)
    return Deployment(
        app=subject.app,
        root=target,
        url_prefix=f"/media/{folder}/",
        cwd=ex.directory,
        pythonpath=[ctx.src, ex.directory, ctx.bench],
        env=env,
        cleanup=lambda: remove_tree(target),
        ready_timeout=240.0,
        script=ex.directory / "run.sh",
    )


def example_script(ctx: RunContext) -> str | None:
    script = ctx.example.directory / "run.sh"
    return None if script.is_file() else f"{script} does not exist"


CEILING_APP = "benchapps.ceiling:app"

# --- the table -----------------------------------------------------------------------------

HAS_GUNICORN = needs_tool("gunicorn")
HAS_GRANIAN = needs_tool("granian")
HAS_UVICORN = needs_tool("uvicorn")
HAS_NGINX = needs_tool("nginx")
HAS_MEDIASERVE_WSGI = needs_import("mediaserve", "WSGIMedia")
HAS_MEDIASERVE_ASGI = needs_import("mediaserve", "ASGIMedia")
HAS_MEDIASERVE_CLI = needs_import("mediaserve.cli", "main")

SUBJECTS: tuple[Subject, ...] = (
    # Anchors ---------------------------------------------------------------------------
    Subject("nginx", "nginx sendfile (1 worker)", "anchor", "nginx",
            tags=FILES | {"reference"}, requires=(HAS_NGINX,)),
    Subject("django-serve", "Django static.serve @gunicorn", "anchor", "gunicorn",
            "benchapps.django_wsgi:application",
            requires=(HAS_GUNICORN, needs_import("django"))),
    Subject("whitenoise", "WhiteNoise WSGI @gunicorn", "anchor", "gunicorn",
            "benchapps.whitenoise_app:app",
            requires=(HAS_GUNICORN, needs_import("whitenoise"))),
    Subject("ceiling-gunicorn", "bare-WSGI ceiling @gunicorn", "anchor", "gunicorn",
            "benchapps.ceiling:app", tags=CEILING, requires=(HAS_GUNICORN,)),
    Subject("ceiling-granian", "bare-WSGI ceiling @granian", "anchor", "granian-wsgi",
            "benchapps.ceiling:app", tags=CEILING, requires=(HAS_GRANIAN,)),
    Subject("filewsgi-granian", "minimal open+fstat WSGI app @granian", "anchor",
            "granian-wsgi", "benchapps.filewsgi:app", requires=(HAS_GRANIAN,)),
    # Candidates ------------------------------------------------------------------------
    Subject("ms-serve", "mediaserve serve --server granian", "candidate", "mediaserve-cli",
            tags=ASYNC_FILES, requires=(HAS_MEDIASERVE_CLI, HAS_GRANIAN)),
    Subject("ms-serve-gunicorn", "mediaserve serve --server gunicorn", "candidate",
            "mediaserve-cli-gunicorn", requires=(HAS_MEDIASERVE_CLI, HAS_GUNICORN)),
    # The default server (auto) picks gunicorn for this tree (mostly 100 MiB by bytes), so it
    # runs in the large scenario only, where issue 16 asks for the default's CPU per GB.
    Subject("ms-serve-default", "mediaserve serve (default --server)", "candidate",
            "mediaserve-cli-default", tags=DEFAULT_SERVER,
            requires=(HAS_MEDIASERVE_CLI, HAS_GRANIAN, HAS_GUNICORN)),
    Subject("ms-wsgi-gunicorn", "WSGIMedia @gunicorn", "candidate", "gunicorn",
            "benchapps.mediaserve_wsgi:app", requires=(HAS_GUNICORN, HAS_MEDIASERVE_WSGI)),
    Subject("ms-wsgi-granian", "WSGIMedia @granian", "candidate", "granian-wsgi",
            "benchapps.mediaserve_wsgi:app", requires=(HAS_GRANIAN, HAS_MEDIASERVE_WSGI)),
    Subject("ms-asgi-uvicorn", "ASGIMedia @uvicorn", "candidate", "uvicorn",
            "benchapps.mediaserve_asgi:app", tags=ASYNC_FILES,
            requires=(HAS_UVICORN, HAS_MEDIASERVE_ASGI)),
    Subject("ms-asgi-granian", "ASGIMedia @granian-asgi", "candidate", "granian-asgi",
            "benchapps.mediaserve_asgi:app", tags=ASYNC_FILES,
            requires=(HAS_GRANIAN, HAS_MEDIASERVE_ASGI)),
    Subject("example-gunicorn", "example project media @gunicorn", "candidate", "gunicorn",
            requires=(HAS_GUNICORN, example_available), deploy=example_deployment),
    Subject("example-granian", "example project media @granian", "candidate", "granian-wsgi",
            requires=(HAS_GRANIAN, example_available), deploy=example_deployment),
    # The deployment as shipped (scripts/example.sh -> example/run.sh), and its server's own
    # ceiling under the same command line; only the "shipped" scenario runs them.
    Subject("example-shipped", "example as shipped (example/run.sh)", "candidate",
            "example-run-sh", tags=SHIPPED, requires=(example_script, example_available),
            deploy=shipped_deployment),
    Subject("ceiling-shipped", "bare-WSGI ceiling @example/run.sh", "anchor", "example-run-sh",
            "benchapps.ceiling:app", tags=SHIPPED | CEILING, requires=(example_script,),
            deploy=shipped_deployment),
    # Where the shipped deployment's time goes (the "servers" scenario): the example and the
    # bare ceiling under each server setting run.sh offers. 0.2's shipped set-up is the first.
    _variant("gthread-2x8-log", "example @gunicorn 2x8 threads, access log", None,
             WEB_SERVER="gunicorn", WEB_WORKERS="2", WEB_THREADS="8", ACCESS_LOG="1"),
    _variant("gthread-2x8-log-ceiling", "ceiling @gunicorn 2x8 threads, access log",
             CEILING_APP, WEB_SERVER="gunicorn", WEB_WORKERS="2", WEB_THREADS="8",
             ACCESS_LOG="1"),
    _variant("gthread-1x8", "example @gunicorn 1x8 threads", None, WEB_SERVER="gunicorn",
             WEB_WORKERS="1", WEB_THREADS="8"),
    _variant("gthread-1x8-ceiling", "ceiling @gunicorn 1x8 threads", CEILING_APP,
             WEB_SERVER="gunicorn", WEB_WORKERS="1", WEB_THREADS="8"),
    _variant("gthread-1x32", "example @gunicorn 1x32 threads", None, WEB_SERVER="gunicorn",
             WEB_WORKERS="1", WEB_THREADS="32"),
    _variant("granian-2-log", "example @granian 2 workers, access log", None,
             ACCESS_LOG="1"),
    _variant("granian-2-log-ceiling", "ceiling @granian 2 workers, access log", CEILING_APP,
             ACCESS_LOG="1"),
    _variant("granian-1", "example @granian 1 worker", None, WEB_WORKERS="1"),
    _variant("granian-1-ceiling", "ceiling @granian 1 worker", CEILING_APP, WEB_WORKERS="1"),
)  # fmt: skip

BY_KEY = {s.key: s for s in SUBJECTS}


def environment_summary(ctx: RunContext) -> dict[str, str]:
    """Versions of everything measured, for the report."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        "for d in ('django', 'gunicorn', 'granian', 'uvicorn', 'uvloop', 'httptools',"
        " 'whitenoise'):\n"
        "    try: out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError: out[d] = 'not installed'\n"
        "try:\n"
        "    import mediaserve; out['mediaserve'] = mediaserve.__file__\n"
        "except Exception as e: out['mediaserve'] = f'unavailable: {e}'\n"
        "print(json.dumps(out))\n"
    )
    result = python_probe(ctx, "versions", code, ctx.bench, [ctx.bench, ctx.src])
    info: dict[str, str] = json.loads(result.detail) if result.ok else {"error": result.detail}
    for tool, args, word in (("nginx", ["-v"], 2), ("wrk", ["-v"], 1), ("curl", ["-V"], 1)):
        try:
            out = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
            info[tool] = (out.stdout + out.stderr).split()[word].removeprefix("nginx/")
        except (OSError, IndexError):
            info[tool] = "not installed"
    info["kernel"] = os.uname().release
    info["cpus"] = str(os.cpu_count())
    return info
