"""Storage tests: a real SeaweedFS (S3 gateway) for the session and a bucket of sample
objects; helpers live in ``storage_support``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from storage_support import BUCKET, OBJECTS

from harness import SeaweedS3, start_seaweedfs


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    store = start_seaweedfs()
    yield store
    store.close()


@pytest.fixture(scope="session")
def bucket(seaweed: SeaweedS3) -> dict[str, bytes]:
    """The bucket with :data:`OBJECTS` in it (private: reading needs a signature)."""
    seaweed.create_bucket(BUCKET)
    client = seaweed.client()
    for key, data in OBJECTS.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=data)
    return dict(OBJECTS)
