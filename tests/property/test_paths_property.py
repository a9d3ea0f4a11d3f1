"""No request path, however encoded, serves anything but a regular file inside the root.

The tree (harness.media) has a secret next to the root, a dotfile inside it, and symlinks that
point out of the root (a file and a directory) and one that stays inside. Paths are generated
from the pieces attackers combine (dot segments, encoded slashes and dots, backslashes, NULs,
overlong UTF-8, fullwidth dots, drive letters, the link names) and sent through WSGIMedia the
way a server delivers them: PATH_INFO percent-decoded once into latin-1, RAW_URI as sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import MediaTree, media_tree
from mediaserve import ServeOptions, WSGIMedia
from unit.support import call_wsgi, environ

PIECES = [
    "..", ".", "%2e", "%2E%2e", "%2f", "%2F", "%5c", "\\", "%00", "%c0%ae", "%e0%80%ae",
    "%ef%bc%8e", "\uff0e", "%252e", "/", "//", "C:", "outside", "secret.txt", ".secret",
    "link-outside.txt", "link-outside-dir", "link-inside.txt", "nested", "deeper", "doc.txt",
    "hello.txt", "%20", "é", "%c3%a9", "%ff", "~", "..%2f", ";", "%3b",
]  # fmt: skip


@pytest.fixture(scope="module")
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        yield t


def _serve(app: WSGIMedia, raw: str) -> tuple[int, bytes]:
    path_info = unquote_to_bytes(raw.split("?", 1)[0]).decode("latin-1")
    result = call_wsgi(app, environ(path_info, RAW_URI=raw.encode().decode("latin-1")))
    return result.code, result.body


@pytest.mark.parametrize("follow_symlinks", [False, True])
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=8), slash=st.booleans())
def test_nothing_outside_the_root_is_ever_served(
    tree: MediaTree, follow_symlinks: bool, pieces: list[str], slash: bool
) -> None:
    app = WSGIMedia(
        tree.root, prefix="/media/", options=ServeOptions(follow_symlinks=follow_symlinks)
    )
    raw = "/media/" + ("/" if slash else "").join(pieces)
    status, body = _serve(app, raw)
    assert status in (200, 404), (raw, status)
    assert tree.outside_secret not in body, raw
    assert tree.files[".secret"] not in body, raw
    if status == 200:
        # What was served is one of the regular files under the root, whole.
        assert body in tree.files.values(), raw
