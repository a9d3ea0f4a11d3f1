"""Serving a built rendition costs what serving any media file of that size costs.

A rendition lives beside the media (``MEDIA_ROOT/renditions/<preset>/<key>/<name>.<ext>``) and
is served by the same pipeline as every other file, so once built it must not be slower than a
plain file of the same size. This builds the 1024 px JPEG rendition of the source with
mediaserve (Pillow when mediaserve's renditions are not importable), copies the same bytes to
an ordinary media path, starts ``mediaserve serve`` (one worker, pinned to core 0) on the media
root and runs ``wrk`` (pinned to core 1) against both URLs, alternating, several times. Each
URL is checked first (200 and the exact length): a fast 404 is an error, not a result.
"""

from __future__ import annotations

import io
import json
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


def _rendition_bytes(source: Path) -> tuple[bytes, str]:
    """The 1024 px JPEG rendition and where the store would keep it (relative name)."""
    try:
        from mediaserve.renditions import Preset, render

        preset = Preset("bench-jpeg-1024", 1024, 1024, formats=("jpeg",), quality=85)
        data: bytes = render(source, preset, "jpeg").data
        try:
            from mediaserve.renditions import digest_of, rendition_key

            key = rendition_key(digest_of(source.read_bytes()), preset, source.name)
        except ImportError:
            key = "unkeyed"
        return data, f"renditions/{preset.name}/{key}/{source.name}.jpg"
    except ImportError:
        from PIL import Image, ImageOps

        with Image.open(source) as im:
            im.draft("RGB", (1024, 1024))
            im.thumbnail((1024, 1024))
            image = ImageOps.exif_transpose(im).convert("RGB")
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=85)
        return buf.getvalue(), f"renditions/pillow-fallback/{source.name}.jpg"


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback only)
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
    data, rendition_name = _rendition_bytes(source)
    (media / rendition_name).parent.mkdir(parents=True, exist_ok=True)
    (media / rendition_name).write_bytes(data)
    plain_name = "photos/same-size-plain.jpg"
    (media / plain_name).parent.mkdir(parents=True, exist_ok=True)
    (media / plain_name).write_bytes(data)

    port = _free_port()
    # The console script, as a user runs it (`pip install mediaserve[serve]` puts it beside python).
    cli = Path(sys.executable).with_name("mediaserve")
    argv = [
        str(cli), "serve", str(media), "--host", HOST, "--port", str(port), "--workers", "1",
        "--prefix", "/media/",
    ]  # fmt: skip
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen(_pinned(argv, 0), stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        urls = {
            "rendition": f"http://{HOST}:{port}/media/{rendition_name}",
            "plain file": f"http://{HOST}:{port}/media/{plain_name}",
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
        for label, url in urls.items():
            status, body, _ = _get(url)
            if status != 200 or body != data:
                raise RuntimeError(f"{label}: {url} answered {status} with {len(body)} bytes")
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
    verdict = "PASS" if ratio >= GOAL_RATIO else "MISS"
    lines = [
        f"\n### serving the built rendition ({len(data) / 1024:.0f} KB) vs a plain file of the "
        f"same bytes, `mediaserve serve` 1 worker, wrk -t1 -c8, {rounds}×{seconds:g} s each",
        "",
        "| URL | req/s (median) |",
        "|---|---:|",
        *(f"| {k} (`{urls[k].split(str(port), 1)[1]}`) | {v:.0f} |" for k, v in med.items()),
        "",
        f"- rendition / plain file: {ratio:.2f} (goal ≥ {GOAL_RATIO:g}: {verdict})",
    ]
    return lines, {"bytes": len(data), "req_per_s": rates, "ratio": ratio}
