"""``mediaserve sync`` against a real SeaweedFS, run as the command a user runs (a subprocess):
byte-exact copies both ways, unchanged files skipped by size and checksum, a run killed
halfway resumed by running it again, --dry-run and --delete, unsafe keys refused, and
failures named with a non-zero exit."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storage_support import HERE

from harness import SeaweedS3

MEDIASERVE = [sys.executable, "-m", "mediaserve.cli", "sync"]


@pytest.fixture
def sync_bucket(seaweed: SeaweedS3, request: pytest.FixtureRequest) -> str:
    """An empty bucket per test (names: 3-63 lowercase letters, digits and hyphens)."""
    name = "sync-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    seaweed.create_bucket(name)
    return name


def run_sync(
    seaweed: SeaweedS3, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEDIASERVE, *args],
        env={**os.environ, **seaweed.env(), **(env or {})},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def make_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def bucket_contents(seaweed: SeaweedS3, bucket: str) -> dict[str, bytes]:
    client = seaweed.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", ()):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


TREE = {
    "hello.txt": b"hello\n",
    "products/42.jpg": bytes(range(256)) * 64,
    "docs/price list 2026 \u2013 \u00e9t\u00e9.pdf": b"%PDF-1.4 unicode and spaces",
    # Above the 8 MiB part size: a multipart upload whose ETag is computed locally.
    "video/clip.webm": os.urandom(9 * 1024 * 1024),
}


def test_upload_is_byte_exact(seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path) -> None:
    make_tree(tmp_path, TREE)
    result = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}/media")
    assert result.returncode == 0, result.stderr
    assert bucket_contents(seaweed, sync_bucket) == {f"media/{k}": v for k, v in TREE.items()}
    assert "uploaded 4 file(s)" in result.stderr
    assert "0 failed" in result.stderr


def test_second_run_skips_unchanged_and_copies_a_same_size_edit(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    """Size alone would miss an edit that keeps the size: the checksum catches it."""
    make_tree(tmp_path, TREE)
    assert run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}").returncode == 0
    (tmp_path / "hello.txt").write_bytes(b"HELLO\n")  # same size, other bytes
    again = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}")
    assert again.returncode == 0, again.stderr
    assert "uploaded 1 file(s)" in again.stderr
    assert "3 unchanged" in again.stderr
    assert "copied hello.txt (checksum differs)" in again.stdout
    assert bucket_contents(seaweed, sync_bucket)["hello.txt"] == b"HELLO\n"


def test_killed_halfway_then_rerun_completes_without_recopying(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    """SIGKILL mid-run (no cleanup at all), then the same command: what arrived is complete
    and skipped, the rest is copied, and the bucket ends equal to the directory."""
    files = {f"batch/{i:03d}.bin": os.urandom(64 * 1024 + i) for i in range(40)}
    make_tree(tmp_path, files)
    proc = subprocess.Popen(
        [*MEDIASERVE, str(tmp_path), f"s3://{sync_bucket}", "--concurrency", "2",
         "--limit-rate", "512K"],
        env={**os.environ, **seaweed.env()},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    client = seaweed.client()
    deadline = time.monotonic() + 60
    arrived = 0
    while time.monotonic() < deadline and proc.poll() is None:
        arrived = client.list_objects_v2(Bucket=sync_bucket).get("KeyCount", 0)
        # At 512 KiB/s the 16th file arrives after 2 s: past the first progress lines.
        if arrived >= 16:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"sync ended before it was killed: {err}"
    partial = bucket_contents(seaweed, sync_bucket)
    assert 16 <= len(partial) < len(files)
    for key, data in partial.items():  # nothing half-written
        assert data == files[key], key
    # The progress line: bytes done, rate and ETA.
    assert re.search(r"KiB / \d+\.\d MiB .*\d+\.\d KiB/s  ETA \d+:\d\d", err), err

    rerun = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}", "--concurrency", "4")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(partial)} unchanged" in rerun.stderr
    assert f"uploaded {len(files) - len(partial)} file(s)" in rerun.stderr
    assert bucket_contents(seaweed, sync_bucket) == files


def test_download_round_trip_is_byte_exact_and_resumable(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    source, back = tmp_path / "source", tmp_path / "back"
    make_tree(source, TREE)
    assert run_sync(seaweed, str(source), f"s3://{sync_bucket}/m").returncode == 0
    # A temporary file from an interrupted download must be cleaned up, not served.
    (back / "video").mkdir(parents=True)
    (back / "video" / ".clip.webm.mediaserve-sync-abc123").write_bytes(b"partial")
    down = run_sync(seaweed, f"s3://{sync_bucket}/m", str(back))
    assert down.returncode == 0, down.stderr
    got = {str(p.relative_to(back)): p.read_bytes() for p in back.rglob("*") if p.is_file()}
    assert got == TREE
    again = run_sync(seaweed, f"s3://{sync_bucket}/m", str(back))
    assert "downloaded 0 file(s)" in again.stderr
    assert "4 unchanged" in again.stderr


def test_dry_run_changes_nothing(seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path) -> None:
    make_tree(tmp_path, TREE)
    result = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}", "--dry-run")
    assert result.returncode == 0
    assert "would copy hello.txt (new)" in result.stdout
    assert bucket_contents(seaweed, sync_bucket) == {}


def test_extra_objects_are_kept_unless_delete_is_given(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    make_tree(tmp_path, {"keep.txt": b"k"})
    seaweed.client().put_object(Bucket=sync_bucket, Key="orphan.txt", Body=b"o")
    kept = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}")
    assert kept.returncode == 0
    assert "1 only at the destination (kept; --delete removes them)" in kept.stderr
    assert "orphan.txt" in bucket_contents(seaweed, sync_bucket)
    deleted = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}", "--delete")
    assert deleted.returncode == 0
    assert bucket_contents(seaweed, sync_bucket) == {"keep.txt": b"k"}


def test_dotfile_keys_are_not_written_and_are_named(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    """A bucket is written by many hands: '.htaccess' or '.env' must not land in MEDIA_ROOT
    (a web server may obey the first, a framework read the second); each is a named
    failure (exit 1). SeaweedFS itself refuses '..' keys and folds '//' and leading '/'
    (other stores do not): the engine's refusal of those is covered in tests/unit."""
    client = seaweed.client()
    for key in ("ok.txt", ".htaccess", "sub/.env"):
        client.put_object(Bucket=sync_bucket, Key=key, Body=b"x")
    target = tmp_path / "media"
    result = run_sync(seaweed, f"s3://{sync_bucket}", str(target))
    assert result.returncode == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["media", "ok.txt"]
    for key in (".htaccess", "sub/.env"):
        assert f"FAILED {key}: unsafe name" in result.stderr, key


def test_names_colliding_after_normalisation_fail_by_name(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    make_tree(tmp_path, {"caf\u00e9.txt": b"nfc", "cafe\u0301.txt": b"nfd", "ok.txt": b"ok"})
    result = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}")
    assert result.returncode == 1
    assert "collides with" in result.stderr
    assert "2 failed" in result.stderr
    assert bucket_contents(seaweed, sync_bucket) == {"ok.txt": b"ok"}


def test_missing_bucket_is_a_clear_error(seaweed: SeaweedS3, tmp_path: Path) -> None:
    result = run_sync(seaweed, str(tmp_path), "s3://no-such-bucket-here")
    assert result.returncode == 2
    assert "bucket 'no-such-bucket-here' does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_credentials_name_the_setting_not_the_secret(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    secret = "definitely-wrong-secret"
    result = run_sync(
        seaweed, str(tmp_path), f"s3://{sync_bucket}", env={"AWS_SECRET_ACCESS_KEY": secret}
    )
    assert result.returncode == 2
    assert "AWS_SECRET_ACCESS_KEY" in result.stderr
    assert secret not in result.stderr + result.stdout


def test_two_directories_is_a_usage_error(seaweed: SeaweedS3, tmp_path: Path) -> None:
    result = run_sync(seaweed, str(tmp_path), str(tmp_path))
    assert result.returncode == 2
    assert "the other s3://BUCKET" in result.stderr


def test_management_command_syncs_media_root_to_the_storage_bucket(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    """manage.py mediaserve sync: MEDIA_ROOT and MEDIASERVE['STORAGE'] are the defaults."""
    make_tree(tmp_path, {"a.txt": b"from media root"})
    storage = {
        "BUCKET": sync_bucket, "LOCATION": "site", "ENDPOINT_URL": seaweed.endpoint,
        "REGION": seaweed.region, "ACCESS_KEY_ID": seaweed.access_key,
        "SECRET_ACCESS_KEY": seaweed.secret_key, "ADDRESSING_STYLE": "path",
    }  # fmt: skip
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "s3site.settings",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "S3SITE_STORAGE": json.dumps(storage),
        "S3SITE_MEDIA_ROOT": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "mediaserve", "sync", "--quiet"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert bucket_contents(seaweed, sync_bucket) == {"site/a.txt": b"from media root"}


def test_delete_spares_objects_of_refused_source_names(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    """Two local names that collide after NFC are refused, not absent: --delete must not
    take the bucket's existing copy away."""
    seaweed.client().put_object(Bucket=sync_bucket, Key="caf\u00e9.txt", Body=b"keep me")
    make_tree(tmp_path, {"caf\u00e9.txt": b"nfc", "cafe\u0301.txt": b"nfd"})
    result = run_sync(seaweed, str(tmp_path), f"s3://{sync_bucket}", "--delete")
    assert result.returncode == 1
    assert bucket_contents(seaweed, sync_bucket) == {"caf\u00e9.txt": b"keep me"}


def test_download_delete_removes_only_files_the_bucket_lacks(
    seaweed: SeaweedS3, sync_bucket: str, tmp_path: Path
) -> None:
    """Back from the bucket with --delete: local extras go, dotfiles (never listed) stay."""
    seaweed.client().put_object(Bucket=sync_bucket, Key="kept.txt", Body=b"kept")
    make_tree(tmp_path, {"kept.txt": b"kept", "stale.txt": b"old", ".env": b"SECRET=1"})
    result = run_sync(seaweed, f"s3://{sync_bucket}", str(tmp_path), "--delete")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "kept.txt"]
    assert "deleted stale.txt" in result.stdout
