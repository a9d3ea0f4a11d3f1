"""The media tree every proxy test serves: the harness's sample tree plus the proxy files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from proxy_support import add_proxy_files

from harness import MediaTree, media_tree


@pytest.fixture(scope="module")
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        add_proxy_files(t)
        yield t
