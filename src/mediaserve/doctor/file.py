"""Hop ``file``: the bytes on disk under MEDIA_ROOT.

Checks that the file exists, is not empty, is readable by a process running as another user
(a proxy worker, a sidecar container: file o+r, every folder above it o+x), and that its
first bytes match its extension. The facts gathered here (size, checksum, sniffed type) are
what later hops compare the served bodies with.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..http.content_types import guess_type
from .magic import base_type, image_size, same_family, sniffed_type
from .report import Finding

__all__ = ["FileFacts", "inspect_file", "resolve_name"]

HOP = "file"
#: Files larger than this are not checksummed (size and type are still compared).
CHECKSUM_LIMIT = 128 * 1024 * 1024


@dataclass
class FileFacts:
    path: Path
    size: int
    mode: int
    sha256: str | None
    head: bytes
    sniffed: str | None
    expected: str
    image_size: tuple[int, int] | None
    #: ``(folder, mode)`` of each folder above the file another user cannot enter.
    closed_dirs: list[tuple[Path, int]] = field(default_factory=list)

    @property
    def world_readable(self) -> bool:
        return bool(self.mode & stat.S_IROTH) and not self.closed_dirs


def resolve_name(root: Path, name: str) -> Path | str:
    """The path of ``name`` under ``root``, or why it is refused (it escapes the root)."""
    if not name or name.startswith(("/", "\\")) or "\x00" in name:
        return f"{name!r} is not a relative media name"
    if ".." in name.replace("\\", "/").split("/"):
        return f"{name!r} escapes MEDIA_ROOT ({root}) with '..'"
    path = root / name
    try:
        real = path.resolve()
        real_root = root.resolve()
    except (OSError, RuntimeError) as exc:
        return f"{name!r} cannot be resolved: {exc}"
    if real != real_root and real_root not in real.parents:
        return f"{name!r} leads outside MEDIA_ROOT ({root}) to {real} (a symlink?)"
    return path


def _closed_dirs(path: Path) -> list[tuple[Path, int]]:
    closed: list[tuple[Path, int]] = []
    for folder in path.parents:
        try:
            mode = folder.stat().st_mode
        except OSError:
            continue
        if not mode & stat.S_IXOTH:
            closed.append((folder, stat.S_IMODE(mode)))
    return closed


def inspect_file(root: Path, name: str) -> tuple[FileFacts | None, list[Finding]]:
    """Facts about ``name`` under ``root`` (None when there is no usable file) and findings."""
    resolved = resolve_name(root, name)
    if isinstance(resolved, str):
        return None, [
            Finding(
                HOP,
                "fail",
                resolved,
                [f"MEDIA_ROOT: {root}"],
                "Use the name as stored in the FileField (relative to MEDIA_ROOT).",
            )
        ]
    path = resolved
    try:
        st = path.stat()
    except FileNotFoundError:
        existing = next((p for p in path.parents if p.exists()), root)
        return None, [
            Finding(
                HOP,
                "fail",
                f"no such file under MEDIA_ROOT: {path}",
                [f"MEDIA_ROOT: {root}", f"nearest existing folder: {existing}"],
                "Check the name and that this process sees the same media volume as the app "
                "that saved it (docker compose: mount the same volume at MEDIA_ROOT in every "
                "service).",
            )
        ]
    except OSError as exc:
        return None, [Finding(HOP, "fail", f"cannot stat {path}: {exc.strerror}", [], "")]
    if not stat.S_ISREG(st.st_mode):
        return None, [Finding(HOP, "fail", f"{path} is not a regular file", [], "")]
    mode = stat.S_IMODE(st.st_mode)
    digest = hashlib.sha256() if st.st_size <= CHECKSUM_LIMIT else None
    head = b""
    findings: list[Finding] = []
    try:
        with open(path, "rb") as handle:
            head = handle.read(524289)
            if digest is not None:
                digest.update(head)
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    except OSError as exc:
        findings.append(
            Finding(
                HOP,
                "fail",
                f"this user cannot read {path}: {exc.strerror}",
                [f"mode {mode:04o}, owner uid {st.st_uid}"],
                f"chmod 644 {path}",
            )
        )
    expected = base_type(guess_type(name))
    sniffed = sniffed_type(head) if head else None
    facts = FileFacts(
        path=path,
        size=st.st_size,
        mode=mode,
        sha256=digest.hexdigest() if digest is not None and not findings else None,
        head=head,
        sniffed=sniffed,
        expected=expected,
        image_size=image_size(head),
        closed_dirs=_closed_dirs(path),
    )
    evidence = [f"{path}: {st.st_size} bytes, mode {mode:04o}, uid {st.st_uid}"]
    if st.st_size == 0:
        findings.append(
            Finding(
                HOP,
                "fail",
                "the file is empty (0 bytes)",
                evidence,
                "Upload it again; look for a failed or interrupted upload that left an "
                "empty file behind.",
            )
        )
    if not mode & stat.S_IROTH:
        findings.append(
            Finding(
                HOP,
                "warn",
                f"mode {mode:04o}: only its owner can read it; a proxy or sidecar running as "
                "another user gets 403",
                evidence,
                f"chmod 644 {path}\n"
                "and in settings.py, so new uploads are readable too:\n"
                "  FILE_UPLOAD_PERMISSIONS = 0o644\n"
                "  FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o755",
            )
        )
    if path.is_symlink():
        findings.append(
            Finding(
                HOP,
                "warn",
                f"the file is a symlink to {os.readlink(path)}: mediaserve refuses symlinks "
                "unless MEDIASERVE['FOLLOW_SYMLINKS'] is set (and nginx may have "
                "disable_symlinks on)",
                evidence,
                "Store the file itself under MEDIA_ROOT, or set "
                "MEDIASERVE = {'FOLLOW_SYMLINKS': True} (targets must stay inside MEDIA_ROOT).",
            )
        )
    if facts.closed_dirs:
        shown = [f"{folder}: mode {m:04o}" for folder, m in facts.closed_dirs]
        findings.append(
            Finding(
                HOP,
                "warn",
                "a folder above the file cannot be entered by other users (needs o+x)",
                shown,
                "chmod o+x " + " ".join(str(folder) for folder, _ in facts.closed_dirs),
            )
        )
    if sniffed and not same_family(expected, sniffed):
        findings.append(
            Finding(
                HOP,
                "fail",
                f"the bytes are {sniffed} but the name says {expected}",
                [*evidence, f"first bytes: {head[:16]!r}"],
                "Store the file under the extension of what it is (or convert it); consumers "
                "such as Meta check the bytes, not the name.",
            )
        )
    if not findings:
        detail = f"{st.st_size} bytes, mode {mode:04o}"
        if sniffed:
            detail += f", bytes are {sniffed}"
        if facts.image_size:
            detail += f", {facts.image_size[0]}x{facts.image_size[1]} px"
        findings.append(Finding(HOP, "pass", detail, [str(path)]))
    return facts, findings
