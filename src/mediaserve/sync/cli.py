"""The ``sync`` subcommand: argument parsing, messages and the exit status.

``mediaserve sync DIR s3://bucket[/prefix]`` uploads, ``mediaserve sync s3://... DIR``
downloads. The store is found as boto3 finds it (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, profiles, instance roles), or ``--endpoint-url``.
Under Django (``manage.py mediaserve sync``) both sides default to MEDIA_ROOT and the
bucket of MEDIASERVE["STORAGE"], with that setting's endpoint and credentials.

Exit status: 0 when everything is equal afterwards, 1 when any file failed (each is named
on stderr), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..cli.argtypes import positive
from .engine import Bucket, SyncResult, run_sync

__all__ = ["add_parser", "handle", "parse_target"]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "sync",
        help="copy a media directory to an S3 bucket (or back), resumably",
        description="Make DEST equal to SOURCE: one is a directory, the other s3://BUCKET"
        "[/PREFIX]. Unchanged files (same size and checksum) are skipped, so running it "
        "again resumes an interrupted copy. Nothing is deleted unless --delete.",
    )
    parser.add_argument("source", nargs="?", metavar="SOURCE", help="directory or s3://...")
    parser.add_argument("dest", nargs="?", metavar="DEST", help="directory or s3://...")
    parser.add_argument("--endpoint-url", help="S3 endpoint (MinIO, SeaweedFS, R2...)")
    parser.add_argument("--region", help="bucket region")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change, change nothing"
    )
    parser.add_argument(
        "--delete", action="store_true", help="delete files at DEST that SOURCE does not have"
    )
    parser.add_argument(
        "--concurrency", type=positive, default=4, help="parallel transfers (default 4)"
    )
    parser.add_argument(
        "--limit-rate", type=_rate, default=None, metavar="BYTES",
        help="overall transfer limit per second, e.g. 20M (default: none)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress line, no file list")
    parser.add_argument(
        "--from-bucket",
        action="store_true",
        help="under Django without SOURCE/DEST: download the bucket into MEDIA_ROOT",
    )
    parser.set_defaults(handler=handle)
    return parser


def _rate(text: str) -> int:
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
    number, unit = text.rstrip("KMGkmg"), text[len(text.rstrip("KMGkmg")) :].upper()
    try:
        value = int(float(number) * units[unit])
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (e.g. 500K, 20M)") from None
    if value < 1024:
        raise argparse.ArgumentTypeError("must be at least 1K per second")
    return value


def parse_target(text: str) -> tuple[str, str] | None:
    """``s3://bucket/prefix`` -> (bucket, prefix); None for anything else (a directory)."""
    if not text.startswith("s3://"):
        return None
    bucket, _, prefix = text[5:].partition("/")
    return bucket, prefix.strip("/")


def _fail(message: str) -> int:
    print(f"mediaserve sync: {message}", file=sys.stderr)
    return 2


def _django_defaults(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]] | str:
    """(source, dest, client options) from Django settings, or an error message."""
    try:
        from django.conf import settings

        configured = settings.configured
    except ImportError:
        configured = False
    if not configured:
        return "give SOURCE and DEST (a directory and s3://BUCKET[/PREFIX])"
    from ..django.storage import StorageSettingsError, read_storage

    storage = (getattr(settings, "MEDIASERVE", None) or {}).get("STORAGE")
    root = str(getattr(settings, "MEDIA_ROOT", "") or "")
    if not storage:
        return "MEDIASERVE['STORAGE'] is not set: give SOURCE and DEST, or configure it"
    if not root:
        return "MEDIA_ROOT is not set: give SOURCE and DEST, or set it"
    try:
        values = read_storage(storage)
    except StorageSettingsError as exc:
        return str(exc)
    if values["BACKEND"] != "s3":
        return "sync copies to S3 buckets only (MEDIASERVE['STORAGE']['BACKEND'] is 'django')"
    target = f"s3://{values['BUCKET']}/{values['LOCATION']}".rstrip("/")
    options = {
        "endpoint_url": values["ENDPOINT_URL"],
        "region_name": values["REGION"],
        "aws_access_key_id": values["ACCESS_KEY_ID"],
        "aws_secret_access_key": values["SECRET_ACCESS_KEY"],
        "addressing_style": values["ADDRESSING_STYLE"],
    }
    return (target, root, options) if args.from_bucket else (root, target, options)


def _client(options: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    style = options.pop("addressing_style", None) or "auto"
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": style},
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=64,
        # Content-MD5 is sent explicitly; the newer default CRC trailers are not understood
        # by every S3-compatible store.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    clean = {k: v for k, v in options.items() if v}
    return boto3.session.Session().client("s3", config=config, **clean)


def handle(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {}
    if args.source is None or args.dest is None:
        if args.source is not None:
            return _fail("give both SOURCE and DEST")
        defaults = _django_defaults(args)
        if isinstance(defaults, str):
            return _fail(defaults)
        args.source, args.dest, options = defaults
    if args.endpoint_url:
        options["endpoint_url"] = args.endpoint_url
    if args.region:
        options["region_name"] = args.region
    src_bucket, dst_bucket = parse_target(args.source), parse_target(args.dest)
    if (src_bucket is None) == (dst_bucket is None):
        return _fail("one of SOURCE and DEST must be a directory, the other s3://BUCKET[/PREFIX]")
    upload = dst_bucket is not None
    target = dst_bucket if dst_bucket is not None else src_bucket
    assert target is not None
    root = os.path.abspath(args.source if upload else args.dest)
    if upload and not os.path.isdir(root):
        return _fail(f"{args.source!r} is not a directory")
    if not upload and os.path.exists(root) and not os.path.isdir(root):
        return _fail(f"{args.dest!r} exists and is not a directory")
    if not target[0]:
        return _fail("s3:// needs a bucket name: s3://BUCKET[/PREFIX]")
    try:
        client = _client(dict(options))
    except ImportError:
        return _fail("needs boto3: pip install 'mediaserve[s3]'")
    bucket = Bucket(target[0], target[1], client)
    problem = _check_bucket(bucket)
    if problem:
        return _fail(problem)
    quiet = args.quiet
    try:
        result = run_sync(
            root,
            bucket,
            upload_direction=upload,
            dry_run=args.dry_run,
            delete=args.delete,
            concurrency=args.concurrency,
            rate=args.limit_rate,
            progress_out=None if quiet or args.dry_run else sys.stderr,
            log=(lambda line: None) if quiet else (lambda line: print(line, flush=True)),
        )
    except KeyboardInterrupt:
        print("\nmediaserve sync: interrupted; run it again to resume", file=sys.stderr)
        return 130
    _summary(result, args.dry_run, upload)
    return 1 if result.failed else 0


def _check_bucket(bucket: Bucket) -> str | None:
    """A clear message for the usual first-run mistakes, before any file is touched."""
    try:
        bucket.client.head_bucket(Bucket=bucket.name)
    except Exception as exc:
        response = getattr(exc, "response", None)
        status = 0
        if isinstance(response, dict):
            status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        if status == 404:
            return f"bucket {bucket.name!r} does not exist (create it first, or fix the name)"
        if status in (401, 403):
            return (
                f"the store refused the credentials for bucket {bucket.name!r} (HTTP {status}): "
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or "
                "MEDIASERVE['STORAGE']['ACCESS_KEY_ID'] / ['SECRET_ACCESS_KEY']"
            )
        kind = type(exc).__name__
        if kind in ("NoCredentialsError", "PartialCredentialsError"):
            return "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        return f"cannot reach the store: {kind}: {first} (check --endpoint-url)"
    return None


def _summary(result: SyncResult, dry_run: bool, upload: bool) -> None:
    verb = "would copy" if dry_run else ("uploaded" if upload else "downloaded")
    mib = result.bytes_copied / (1024 * 1024)
    rate = mib / result.seconds if result.seconds > 0 else 0.0
    parts = [
        f"{verb} {len(result.copied)} file(s) ({mib:.1f} MiB",
    ]
    parts[0] += f", {rate:.1f} MiB/s)" if not dry_run else ")"
    parts.append(f"{result.skipped} unchanged")
    if result.deleted:
        parts.append(f"{'would delete' if dry_run else 'deleted'} {len(result.deleted)}")
    if result.extra:
        parts.append(f"{len(result.extra)} only at the destination (kept; --delete removes them)")
    parts.append(f"{len(result.failed)} failed")
    print("mediaserve sync: " + ", ".join(parts), file=sys.stderr, flush=True)
    for name, reason in sorted(result.failed.items()):
        print(f"  FAILED {name}: {reason}", file=sys.stderr)
