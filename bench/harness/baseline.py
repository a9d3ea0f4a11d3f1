"""The baseline tree of a ``--baseline REV`` run: ``src/`` and ``example/`` of REV, exported.

``git archive`` writes the two folders into a temporary directory (no worktree, nothing
registered in the repository to clean up); the candidates started for the "before" side
get that ``src/`` (and ``example/``) first on PYTHONPATH, ahead of the editable install.
Only the package and the example project come from REV: the harness, the bench apps, the
files, the servers and the load generators are the same for both sides.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.procs import HarnessError

EXPORTED = ("src", "example")


@dataclass(frozen=True)
class Tree:
    """A tree the candidates can import: ``root/src`` (and ``root/example``)."""

    root: Path
    revision: str  # what the user passed, or "working tree"
    commit: str  # full hash; for the working tree: HEAD, with "+changes" when dirty
    subject: str  # first line of the commit message

    def describe(self) -> str:
        return f"{self.revision} ({self.commit[:12]} {self.subject})"


def _git(repo: Path, *args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise HarnessError("--baseline needs git") from exc
    if out.returncode != 0:
        raise HarnessError(f"git {' '.join(args)}: {out.stderr.strip() or out.returncode}")
    return out.stdout.strip()


def working_tree(repo: Path) -> Tree:
    """The repository as it is on disk (uncommitted changes included)."""
    commit = _git(repo, "rev-parse", "HEAD")
    dirty = bool(_git(repo, "status", "--porcelain", "--", *EXPORTED))
    return Tree(repo, "working tree", commit + ("+changes" if dirty else ""),
                _git(repo, "log", "-1", "--format=%s", "HEAD"))  # fmt: skip


def export(repo: Path, revision: str, parent: Path | None = None) -> Tree:
    """``src/`` and ``example/`` of ``revision`` in a new temporary directory."""
    try:
        commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except HarnessError:
        raise HarnessError(f"--baseline {revision}: not a commit of {repo}") from None
    present = [p for p in EXPORTED if _git(repo, "ls-tree", "--name-only", commit, p)]
    if "src" not in present:
        raise HarnessError(f"--baseline {revision}: {commit[:12]} has no src/ folder")
    root = Path(tempfile.mkdtemp(prefix="mediaserve-bench-baseline-", dir=parent))
    try:
        archive = subprocess.Popen(
            ["git", "-C", str(repo), "archive", "--format=tar", commit, *present],
            stdout=subprocess.PIPE,
        )
        untar = subprocess.run(["tar", "-x", "-C", str(root)], stdin=archive.stdout, check=False)
        assert archive.stdout is not None
        archive.stdout.close()
        if archive.wait() != 0 or untar.returncode != 0:
            raise HarnessError(f"--baseline {revision}: git archive | tar failed")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    subject = _git(repo, "log", "-1", "--format=%s", commit)
    return Tree(root, revision, commit, subject)


def remove(tree: Tree) -> None:
    shutil.rmtree(tree.root, ignore_errors=True)
