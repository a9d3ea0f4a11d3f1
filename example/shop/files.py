"""File-system helpers with modes that do not depend on the process umask (no Django imports)."""

from __future__ import annotations

from pathlib import Path

DIR_MODE = 0o755


def ensure_dir(path: Path) -> None:
    """Create `path` and missing parents as 0755 whatever the umask; leave existing ones alone.

    A umask of 077 would otherwise make them 0700, which a proxy or sidecar running as another
    user cannot enter to read media.
    """
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        directory.chmod(DIR_MODE)
