"""Serving a built rendition costs what serving any media file of that size costs.

A rendition lives beside the media (``MEDIA_ROOT/renditions/<preset>/<key>/<name>.<ext>``) and
is served by the same pipeline as every other file, so once built it must not be slower than a
plain file of the same size. This builds the 1024 px JPEG rendition of the source with
mediaserve (``Renditions.build``, as an upload or the command does), copies the same bytes to an
ordinary media path, starts a minimal Django project with mediaserve's WSGI app under gunicorn
(one worker, pinned to core 0) and runs ``wrk`` (pinned to core 1) against both URLs,
alternating, several times. Each URL is checked first (200 and the exact bytes; the rendition
``immutable``): a fast 404 is an error, not a result.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WRK_SCRIPT = REPO / "bench" / "harness" / "wrk_report.lua"
HOST = "127.0.0.1"
#: Serving-cost goal: the rendition's req/s within 10 % of the plain file's (same bytes).
GOAL_RATIO = 0.9


def _pinned(argv: list[str], core: int) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if shutil.which("taskset") else argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _build_rendition(source: Path, media: Path) -> Path:
    """Build the 1024 px JPEG rendition with mediaserve, as the project would (a child
    process under bench.renditions.djsettings); the path of the rendition it wrote."""
    name = "photos/" + source.name
    (media / "photos").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, media / name)
    env = dict(os.environ, RBENCH_MEDIA_ROOT=str(media), PYTHONPATH=str(REPO))
    argv = [sys.executable, "-m", "bench.renditions.child", "mediaserve", "jpeg-1024", name]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"building the rendition failed: {done.stderr[-800:]}")
    return Path(json.loads(done.stdout.strip().splitlines()[-1])["output"])


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, b"", dict(exc.headers)


def _wrk(url: str, seconds: float) -> dict[str, Any]:
    argv = ["wrk", "-t1", "-c8", f"-d{seconds:g}s", "--latency", "-s", str(WRK_SCRIPT), url]
    done = subprocess.run(_pinned(argv, 1), capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    if errors:
        raise RuntimeError(f"wrk saw {errors} errors on {url}: {data}")
    data["req_per_s"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def compare_serving(source: Path, work: Path, *, quick: bool) -> tuple[list[str], dict[str, Any]]:
    """Serve the rendition and a same-size plain file; return report lines and raw numbers."""
    if not shutil.which("wrk"):
        return ["\nserving: skipped (wrk is not installed: apt-get install wrk)"], {}
    media = work / "media"
    rendition = _build_rendition(source, media)
    data = rendition.read_bytes()
    rendition_name = rendition.relative_to(media).as_posix()
    plain_name = "photos/same-size-plain.jpg"
    (media / plain_name).write_bytes(data)
    # The same bytes as deep as the rendition (renditions/<preset>/<key>/photos/x.jpg.jpg): the
    # local source opens each directory of a path (no symlink escapes), so depth alone costs
    # an open and a close per level; this row separates that from the rendition steps.
    deep_name = "archive/2026/" + "k" * 24 + "/photos/same-size-deep.jpg"
    (media / deep_name).parent.mkdir(parents=True)
    (media / deep_name).write_bytes(data)

    port = _free_port()
    # The project's WSGI app (mediaserve's get_wsgi_application) under gunicorn, one worker
    # with threads, as the example deploys it: the rendition goes through RenditionPipeline
    # (name parsing, the immutable mount), the plain file through the media pipeline.
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", "1",
        "--worker-class", "gthread", "--threads", "16", "--chdir", str(REPO),
        "bench.renditions.wsgi:application",
    ]  # fmt: skip
    env = dict(os.environ, RBENCH_MEDIA_ROOT=str(media), PYTHONPATH=str(REPO))
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen(
        _pinned(argv, 0), stdout=log, stderr=subprocess.STDOUT, cwd=work, env=env
    )
    try:
        urls = {
            "rendition": f"http://{HOST}:{port}/media/{rendition_name}",
            "plain file": f"http://{HOST}:{port}/media/{plain_name}",
            "plain file, as deep": f"http://{HOST}:{port}/media/{deep_name}",
        }
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(urls["plain file"])
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(
                        "mediaserve serve did not start: " + (work / "serve.log").read_text()[-800:]
                    ) from None
                time.sleep(0.2)
        headers = {}
        for label, url in urls.items():
            status, body, headers[label] = _get(url)
            if status != 200 or body != data:
                raise RuntimeError(f"{label}: {url} answered {status} with {len(body)} bytes")
        if "immutable" not in headers["rendition"].get("Cache-Control", ""):
            raise RuntimeError(f"the rendition is not immutable: {headers['rendition']}")
        seconds, rounds = (1.0, 2) if quick else (5.0, 5)
        rates: dict[str, list[float]] = {k: [] for k in urls}
        for _ in range(rounds):
            for label, url in urls.items():
                rates[label].append(_wrk(url, seconds)["req_per_s"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratio = med["rendition"] / med["plain file"]
    ratio_deep = med["rendition"] / med["plain file, as deep"]
    verdict = "PASS" if ratio >= GOAL_RATIO else "MISS"
    lines = [
        f"\n### serving the built rendition ({len(data) / 1024:.0f} KB) vs a plain file of the "
        f"same bytes, Django + mediaserve's WSGI app under gunicorn (1 worker, 16 threads), "
        f"wrk -t1 -c8, {rounds}x{seconds:g} s each",
        "",
        "| URL | req/s (median) |",
        "|---|---:|",
        *(f"| {k} (`{urls[k].split(str(port), 1)[1]}`) | {v:.0f} |" for k, v in med.items()),
        "",
        f"- rendition / plain file: {ratio:.2f} (goal ≥ {GOAL_RATIO:g}: {verdict}); "
        f"rendition / plain file as deep: {ratio_deep:.2f}",
    ]
    return lines, {"bytes": len(data), "req_per_s": rates, "ratio": ratio, "ratio_deep": ratio_deep}
