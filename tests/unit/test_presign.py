"""The fast SigV4 presigner gives exactly botocore's URL: same shape, same signature.

botocore's clock is frozen so both sign the same instant; the redirect tests then prove
the URLs against a real store (SeaweedFS checks every signature)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from unittest import mock

import pytest

boto3 = pytest.importorskip("boto3")
botocore_auth = pytest.importorskip("botocore.auth")
from botocore.config import Config  # noqa: E402

from mediaserve.sources.presign import Presigner  # noqa: E402

MOMENT = datetime.datetime(2026, 11, 25, 12, 0, 0)


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
        return MOMENT

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
        return MOMENT.replace(tzinfo=tz) if tz else MOMENT


@pytest.fixture
def frozen() -> Iterator[None]:
    with mock.patch.object(botocore_auth.datetime, "datetime", _FrozenDatetime):
        yield


KEYS = ["a.jpg", "products/42 large.jpg", "dir/caf\u00e9 menu \u2013 \u00fc.txt",
        "odd/+=&?#%~!*'().txt", "x" * 300]  # fmt: skip


@pytest.mark.parametrize(
    ("endpoint", "style", "token"),
    [
        ("http://127.0.0.1:9000", "path", None),
        ("https://s3.eu-west-1.amazonaws.com", "virtual", None),
        ("https://storage.example.com", "path", "session-token/with+special=chars"),
    ],
)
def test_presigned_urls_equal_botocores(
    frozen: None, endpoint: str, style: str, token: str | None
) -> None:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG",
        aws_session_token=token, region_name="eu-west-1",
    )  # fmt: skip
    client = session.client(
        "s3", endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )  # fmt: skip
    presigner = Presigner(client, "media", session.get_credentials())
    now = MOMENT.replace(tzinfo=datetime.timezone.utc)
    for key in KEYS:
        for method, operation in (("GET", "get_object"), ("HEAD", "head_object")):
            expected = client.generate_presigned_url(
                operation, Params={"Bucket": "media", "Key": key}, ExpiresIn=300
            )
            ours = presigner.url(key, 300, now=now, method=method)
            assert ours == expected, (method, key)
