"""``target``: every delivery path in ``targets.TARGETS``, each started once per module over
one media tree holding the suite's extra files (signed/, private/, uploads with script)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import MediaTree, media_tree, png_bytes
from security.probes import HOSTILE_NAMES
from security.targets import TARGETS, Target, running

#: name -> bytes of the files the suite adds to the harness's sample tree.
EXTRA_FILES = {
    "signed/doc.pdf": b"%PDF-1.4 signed document",
    "private/doc.pdf": b"%PDF-1.4 private document",
    "public/doc.pdf": b"%PDF-1.4 public document",
    "signed/relatório de vendas ü.pdf": b"%PDF-1.4 signed, with a non-ASCII name",
    "uploads/evil.html": (
        b"<!doctype html><title>evil</title><script>"
        b"var x = new XMLHttpRequest(); x.open('GET', '/beacon?html', false); x.send();"
        b"</script><p>uploaded page</p>"
    ),
    "uploads/evil.svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>'
        b"var x = new XMLHttpRequest(); x.open('GET', '/beacon?svg', false); x.send();"
        b'</script><rect width="10" height="10"/></svg>'
    ),
}


@pytest.fixture(scope="module")
def sec_tree() -> Iterator[MediaTree]:
    with media_tree() as tree:
        hostile = {name: b"<svg/>" for name in HOSTILE_NAMES}
        for name, data in {**EXTRA_FILES, "uploads/photo.png": png_bytes(32, 24),
                           **hostile}.items():  # fmt: skip
            path = tree.root / name
            path.parent.mkdir(mode=0o755, exist_ok=True)
            path.parent.chmod(0o755)
            path.write_bytes(data)
            path.chmod(0o644)
            tree.files[name] = data
        yield tree


@pytest.fixture(scope="module", params=sorted(TARGETS))
def target(request: pytest.FixtureRequest, sec_tree: MediaTree) -> Iterator[Target]:
    with running(request.param, sec_tree) as running_target:
        yield running_target
