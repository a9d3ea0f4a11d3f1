"""``mediaserve sign``: the printed URL opens a signed file on a running server; without the
key in the environment it says how to provide it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness import MediaTree, curl
from security.targets import SIGNING_KEY, Target, running


@pytest.fixture(scope="module")
def plain(sec_tree: MediaTree) -> Iterator[Target]:
    with running("wsgi", sec_tree) as target:
        yield target


def sign(*args: str, key: str | None = SIGNING_KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MEDIASERVE_SIGNING_KEY"}
    if key is not None:
        env["MEDIASERVE_SIGNING_KEY"] = key
    argv = [sys.executable, "-m", "mediaserve.cli", "sign", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)


def test_the_printed_url_opens_the_signed_file(plain: Target, sec_tree: MediaTree) -> None:
    result = sign("signed/doc.pdf", "--expires", "60")
    assert result.returncode == 0, result.stderr
    response = curl(plain.url(result.stdout.strip()))
    assert (response.status, response.body) == (200, sec_tree.files["signed/doc.pdf"])


def test_a_url_bound_to_head_does_not_download(plain: Target) -> None:
    url = plain.url(sign("signed/doc.pdf", "--method", "HEAD").stdout.strip())
    assert curl("-I", url).status == 200
    assert curl(url).status == 404


def test_without_the_key_it_says_how_to_set_it() -> None:
    result = sign("signed/doc.pdf", key=None)
    assert result.returncode == 2
    assert "MEDIASERVE_SIGNING_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
