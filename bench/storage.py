"""Object-storage benchmarks: redirect and proxy mode against local serving and direct boto3.

    .venv/bin/python bench/storage.py [--seconds 10]

Starts a SeaweedFS (tests/harness/seaweed.py) and the storage tests' Django project
(tests/storage/s3site) under gunicorn (gthread, one worker, 16 threads, pinned to core 0;
wrk and curl pinned to core 1), then measures in one run:

* requests/s for a 10 KiB file: redirect mode, proxy mode, and the same project serving the
  same file from MEDIA_ROOT in-process (the local baseline);
* MiB/s for a 64 MiB object: proxy mode through gunicorn (curl), a direct boto3 GET in this
  process (1 MiB reads), and curl on a presigned URL straight from the store.

SeaweedFS is not pinned: it shares both cores with everything else, as a store on the same
host would. Every response is checked once (status, length) before it is measured.
Results go to docs/benchmarks.md by hand, with the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "storage")]

from harness import (  # noqa: E402
    ServerProcess,
    curl,
    process_group_members,
    start_gunicorn,
    start_seaweedfs,
)

BUCKET = "bench-media"
SMALL = bytes(range(256)) * 40  # 10 KiB
HUGE_SIZE = 64 * 1024 * 1024


def pin(server: ServerProcess, core: int) -> None:
    assert server.pid is not None
    for pid in process_group_members(server.pid):
        subprocess.run(["taskset", "-acp", str(core), str(pid)], capture_output=True, check=False)


def site(env_storage: object, media_root: str) -> ServerProcess:
    env = {
        "DJANGO_SETTINGS_MODULE": "s3site.settings",
        "S3SITE_STORAGE": json.dumps(env_storage),
        "S3SITE_MEDIA_ROOT": media_root,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    server = start_gunicorn(
        "s3site.wsgi:application", env=env, pythonpath=[REPO / "tests" / "storage"],
        worker_class="gthread", threads=16, ready_path="/healthz",
        extra_args=["--access-logfile", "/dev/null"],
    )  # fmt: skip
    pin(server, 0)
    return server


def wrk(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{seconds}s", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    if "Non-2xx or 3xx" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    return float(match.group(1))


def curl_mib_s(url: str, repeat: int = 3) -> float:
    rates = []
    for _ in range(repeat):
        argv = ["taskset", "-c", "1", "curl", "-sS", "-o", "/dev/null",
                "-w", "%{speed_download} %{size_download}", url]  # fmt: skip
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
        assert int(out[1]) == HUGE_SIZE, out
        rates.append(float(out[0]) / 2**20)
    return statistics.median(rates)


def boto3_mib_s(client: object, repeat: int = 3) -> float:
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        body = client.get_object(Bucket=BUCKET, Key="huge.bin")["Body"]  # type: ignore[attr-defined]
        total = 0
        while data := body.read(1 << 20):
            total += len(data)
        assert total == HUGE_SIZE
        rates.append(total / 2**20 / (time.perf_counter() - start))
    return statistics.median(rates)


def boto3_small_per_s(client: object, seconds: float = 5.0) -> float:
    """HEAD + ranged GET of the 10 KiB object in a loop, one thread: the store's own pace
    for what proxy mode does per request."""
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        client.head_object(Bucket=BUCKET, Key="small.bin")  # type: ignore[attr-defined]
        body = client.get_object(Bucket=BUCKET, Key="small.bin", Range="bytes=0-10239")["Body"]  # type: ignore[attr-defined]
        assert len(body.read()) == len(SMALL)
        done += 1
    return done / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    store = start_seaweedfs()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as media:
        try:
            store.create_bucket(BUCKET)
            client = store.client()
            client.put_object(Bucket=BUCKET, Key="small.bin", Body=SMALL)
            client.put_object(Bucket=BUCKET, Key="huge.bin", Body=b"\x5a" * HUGE_SIZE)
            Path(media, "small.bin").write_bytes(SMALL)
            base = {
                "BUCKET": BUCKET, "ENDPOINT_URL": store.endpoint, "REGION": store.region,
                "ACCESS_KEY_ID": store.access_key, "SECRET_ACCESS_KEY": store.secret_key,
                "ADDRESSING_STYLE": "path",
            }  # fmt: skip
            for label, storage in (
                ("local MEDIA_ROOT, Django view (baseline)", None),
                ("redirect mode (302 to presigned URL)", {**base, "MODE": "redirect"}),
                ("proxy mode (plain GET: one GET to the store)", {**base, "MODE": "proxy"}),
            ):
                server = site(storage, media)
                try:
                    check = curl(server.url("/media/small.bin"))
                    expected = 302 if storage and storage["MODE"] == "redirect" else 200
                    if check.status != expected:
                        raise RuntimeError(f"{label}: {check.status}\n{server.logs()[-3000:]}")
                    rate = wrk(server.url("/media/small.bin"), args.seconds)
                    rows.append((f"10 KiB req/s: {label}", f"{rate:,.0f}"))
                    if storage and storage["MODE"] == "proxy":
                        rows.append(
                            ("64 MiB MiB/s: proxy mode via gunicorn (curl)",
                             f"{curl_mib_s(server.url('/media/huge.bin')):.0f}")
                        )  # fmt: skip
                finally:
                    server.stop()
            rows.append(
                ("10 KiB HEAD+GET/s: direct boto3, one thread", f"{boto3_small_per_s(client):,.0f}")
            )
            rows.append(
                ("64 MiB MiB/s: direct boto3 GET (1 MiB reads)", f"{boto3_mib_s(client):.0f}")
            )
            presigned = client.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": "huge.bin"}, ExpiresIn=600
            )
            rows.append(("64 MiB MiB/s: curl on a presigned URL (the store alone)",
                         f"{curl_mib_s(presigned):.0f}"))  # fmt: skip
        finally:
            store.close()
    width = max(len(r[0]) for r in rows)
    print(f"cpus={os.cpu_count()} python={sys.version.split()[0]}")
    for name, value in rows:
        print(f"{name:<{width}}  {value:>10}")


if __name__ == "__main__":
    main()
