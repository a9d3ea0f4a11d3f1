"""Real servers serving one media tree, started once per module and shared by its tests.

``served`` is parametrized over every way mediaserve runs without Django (see
``matrix_support.SERVERS``). A test that takes ``served`` runs once per server; pytest orders
the tests so each server starts once per module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from matrix_support import BIG, BIG_SIZE, SERVERS, SIZED_FILES, VIDEO, Served, start_server

from harness import MediaTree, make_video, media_tree


@pytest.fixture(scope="module")
def served_tree() -> Iterator[MediaTree]:
    """The harness's sample tree plus sized files, a short WebM video and a big sparse file."""
    with media_tree() as tree:
        for index, (name, size) in enumerate(SIZED_FILES.items()):
            path = tree.root / name
            path.parent.mkdir(mode=0o755, exist_ok=True)
            path.parent.chmod(0o755)
            data = bytes((i * 7 + index) % 251 for i in range(size))
            path.write_bytes(data)
            path.chmod(0o644)
            tree.files[name] = data
        video = make_video(tree.root / VIDEO, seconds=3)
        video.parent.chmod(0o755)
        tree.files[VIDEO] = video.read_bytes()
        big = tree.root / BIG
        big.parent.mkdir(mode=0o755)
        big.parent.chmod(0o755)
        with big.open("wb") as f:
            f.truncate(BIG_SIZE)  # sparse: no disk blocks, zeros at memory speed
        big.chmod(0o644)
        yield tree


@pytest.fixture(scope="module", params=SERVERS)
def served(request: pytest.FixtureRequest, served_tree: MediaTree) -> Iterator[Served]:
    server = start_server(request.param, served_tree.root)
    try:
        yield Served(request.param, server, served_tree)
    finally:
        server.stop()
