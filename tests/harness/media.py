r"""Sample media trees and files for tests, readable by nginx's unprivileged workers.

:func:`make_media_tree` lays out::

    BASE/                      0755
      media/                   the media root (MediaTree.root)
        hello.txt              small text
        random.bin             1 MiB of seeded random bytes (the same every run)
        image.png              a 16x16 PNG
        café menu \u2013 ü.txt      spaces and non-ASCII (é, an en dash, ü) in the name
        nested/deeper/doc.txt  a nested folder
        .secret                a dotfile
        link-inside.txt  ->    hello.txt (relative symlink that stays inside the root)
        link-outside.txt ->    BASE/outside/secret.txt (symlink escaping the root)
        link-outside-dir ->    BASE/outside (folder symlink escaping the root)
      outside/secret.txt       must never be served

Folders are 0755 and files 0644, so a server running as another user can read them (a
``mktemp -d`` folder is 0700, and nginx answers 403 under it).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

UNICODE_NAME = "café menu \u2013 ü.txt"  # spaces, é, an en dash, ü


@dataclass(frozen=True)
class MediaTree:
    """Where the sample files are, and what each holds (for byte-exact assertions)."""

    base: Path
    root: Path
    outside: Path
    #: Path relative to ``root`` (as a URL would name it, unquoted) -> exact content, for every
    #: regular file under the root, symlinks excluded.
    files: dict[str, bytes] = field(default_factory=dict)

    text: str = "hello.txt"
    binary: str = "random.bin"
    image: str = "image.png"
    unicode_name: str = UNICODE_NAME
    nested: str = "nested/deeper/doc.txt"
    dotfile: str = ".secret"
    symlink_inside: str = "link-inside.txt"
    symlink_outside: str = "link-outside.txt"
    symlink_outside_dir: str = "link-outside-dir"
    outside_secret: bytes = b"outside the media root: must never be served\n"

    def path(self, name: str) -> Path:
        return self.root / name

    def content(self, name: str) -> bytes:
        return self.files[name]


def png_bytes(
    width: int = 16, height: int = 16, rgb: tuple[int, int, int] = (200, 30, 60)
) -> bytes:
    """A valid RGB PNG of one colour, written with the standard library only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    path.write_bytes(data)
    path.chmod(0o644)


def make_media_tree(base: Path) -> MediaTree:
    """Create the sample tree under ``base`` (created if needed, made 0755); see module doc."""
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    root = base / "media"
    outside = base / "outside"
    for folder in (root, outside):
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)

    files = {
        "hello.txt": b"hello, media\n",
        "random.bin": random.Random(20240601).randbytes(1024 * 1024),
        "image.png": png_bytes(),
        UNICODE_NAME: "Spaces and unicode: café, ü, \u2013.\n".encode(),
        "nested/deeper/doc.txt": b"a file two folders down\n",
        ".secret": b"SECRET_KEY=dotfiles-are-private\n",
    }
    for name, data in files.items():
        _write(root / name, data)
    for folder in (root / "nested", root / "nested/deeper"):
        folder.chmod(0o755)
    tree = MediaTree(base=base, root=root, outside=outside, files=files)
    _write(outside / "secret.txt", tree.outside_secret)

    (root / tree.symlink_inside).symlink_to("hello.txt")
    (root / tree.symlink_outside).symlink_to(outside / "secret.txt")
    (root / tree.symlink_outside_dir).symlink_to(outside, target_is_directory=True)
    return tree


@contextlib.contextmanager
def media_tree() -> Iterator[MediaTree]:
    """A fresh sample tree in a world-readable temp folder, removed afterwards.

    (pytest's ``tmp_path`` sits under a 0700 folder, which nginx's workers cannot enter.)
    """
    base = Path(tempfile.mkdtemp(prefix="mediaserve-media-"))
    try:
        yield make_media_tree(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def ffmpeg_binary() -> str:
    """System ffmpeg, else the one the ``imageio-ffmpeg`` wheel ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg  # type: ignore[import-untyped]

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def make_video(path: Path, *, seconds: float = 4.0, size: str = "320x240") -> Path:
    """Encode a test-pattern WebM (VP8) with a keyframe each second, so seeks are cheap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={size}:rate=25",
         "-c:v", "libvpx", "-b:v", "300k", "-g", "25", "-an", str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    path.chmod(0o644)
    return path
