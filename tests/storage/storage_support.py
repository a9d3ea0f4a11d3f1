"""Helpers for the storage tests: the sample objects, the STORAGE setting for a SeaweedFS,
and the ``s3site`` Django project under a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import SeaweedS3, ServerProcess, start_gunicorn, start_uvicorn

HERE = Path(__file__).parent
BUCKET = "media-tests"
UNICODE_KEY = "dir/café menu \u2013 ü.txt"  # spaces, é, an en dash, ü
#: The app's location in front of offload mode: nginx announces that it acts on
#: X-Accel-Redirect (without the header the app streams the object itself).
OFFLOADING_APP = """location /media/ {{
    proxy_pass {url};
    proxy_set_header X-Mediaserve-Offload x-accel-redirect;
}}
"""

#: Object name -> exact bytes, uploaded once per session.
OBJECTS: dict[str, bytes] = {
    "hello.txt": b"hello from the bucket\n",
    # ~3 MiB, not a multiple of the 64 KiB chunk: several reads, a partial last one.
    "big.bin": bytes(range(256)) * (3 * 4096 + 7),
    UNICODE_KEY: "spaces and unicode in the key: é \u2013 ü\n".encode(),
    "page.html": b"<script>alert(1)</script>",
    "empty.txt": b"",
}


def storage_setting(store: SeaweedS3, **overrides: Any) -> dict[str, Any]:
    """MEDIASERVE["STORAGE"] for ``store`` and :data:`BUCKET`, with ``overrides``."""
    return {
        "BACKEND": "s3",
        "BUCKET": BUCKET,
        "ENDPOINT_URL": store.endpoint,
        "REGION": store.region,
        "ACCESS_KEY_ID": store.access_key,
        "SECRET_ACCESS_KEY": store.secret_key,
        "ADDRESSING_STYLE": "path",
        **overrides,
    }


def start_site(
    storage: dict[str, Any],
    *,
    asgi: bool = False,
    wrapped: bool = False,
    access: dict[str, str] | None = None,
) -> ServerProcess:
    """The ``s3site`` Django project configured with ``storage``: under gunicorn (gthread)
    for WSGI, uvicorn for ASGI. ``wrapped``: through mediaserve's WSGI/ASGI wrappers with no
    media URL pattern, so media are answered before Django runs."""
    env = {
        "DJANGO_SETTINGS_MODULE": "s3site.settings",
        "S3SITE_STORAGE": json.dumps(storage),
        # No AWS config files from the developer's home: only the settings name the store.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "S3SITE_ACCESS": json.dumps(access or {}),
    }
    module = "s3site.wrapped" if wrapped else ("s3site.asgi" if asgi else "s3site.wsgi")
    attribute = ("asgi" if asgi else "wsgi") if wrapped else "application"
    if asgi:
        return start_uvicorn(f"{module}:{attribute}", env=env, pythonpath=[HERE],
                             ready_path="/healthz")  # fmt: skip
    return start_gunicorn(
        f"{module}:{attribute}", env=env, pythonpath=[HERE],
        worker_class="gthread", threads=4, ready_path="/healthz",
    )  # fmt: skip
