"""The files every server serves, in one world-readable temporary directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class BenchFile:
    name: str
    size: int


SMALL = BenchFile("small.bin", 10 * KIB)
SLICE = BenchFile("slice.bin", 1 * MIB)
LARGE = BenchFile("large.bin", 100 * MIB)
HUGE = BenchFile("huge.bin", 1 * GIB)  # only while the memory scenario runs
ALWAYS = (SMALL, SLICE, LARGE)


def _write(path: Path, size: int) -> None:
    """Write ``size`` pseudo-random bytes (a random MiB repeated) and make it world-readable."""
    block = os.urandom(min(size, MIB))
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n
    path.chmod(0o644)


@dataclass
class MediaDir:
    """A temporary media root. nginx workers run as another user, hence 0755/0644."""

    root: Path
    files: dict[str, BenchFile] = field(default_factory=dict)

    @classmethod
    def create(cls, parent: Path | None = None) -> MediaDir:
        root = Path(tempfile.mkdtemp(prefix="mediaserve-bench-", dir=parent))
        root.chmod(0o755)
        media = cls(root)
        for f in ALWAYS:
            media.add(f)
        return media

    def add(self, f: BenchFile) -> None:
        if f.name not in self.files:
            _write(self.root / f.name, f.size)
            self.files[f.name] = f

    def add_copy(self, name: str, source: Path) -> None:
        """Put a copy of ``source`` (a real file, e.g. a seeded product image) in as ``name``."""
        if name not in self.files:
            shutil.copyfile(source, self.root / name)
            (self.root / name).chmod(0o644)
            self.files[name] = BenchFile(name, (self.root / name).stat().st_size)

    def remove(self, f: BenchFile) -> None:
        if self.files.pop(f.name, None) is not None:
            (self.root / f.name).unlink(missing_ok=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.files.clear()

    def mirror_into(self, target: Path) -> None:
        """Put every current file into ``target`` (hard links, or copies across devices)."""
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o755)
        for name in self.files:
            src, dst = self.root / name, target / name
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
                dst.chmod(0o644)


def remove_tree(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)
