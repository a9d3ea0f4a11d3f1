"""The documentation site (mkdocs.yml over docs/) builds with warnings as errors, and the
build really fails on a broken link, a missing anchor or a page the nav forgets; the links
of the repository's own Markdown files (README, CONTRIBUTING...) into docs/ resolve too."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from packaging_support import require_module, run

from harness import REPO_ROOT

DOCS = REPO_ROOT / "docs"

#: Markdown link targets: [text](target) and [text](target "title"), not images' data URIs.
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def mkdocs_build(project: Path, site: Path, *, strict_flag: bool = True) -> tuple[int, str]:
    """``mkdocs build`` of ``project``/mkdocs.yml into ``site``: exit code and output."""
    require_module("mkdocs")
    argv = [sys.executable, "-m", "mkdocs", "build", "-f", project / "mkdocs.yml"]
    argv += ["--site-dir", site, *(["--strict"] if strict_flag else [])]
    result = run(argv, cwd=project)
    return result.returncode, result.stdout


@pytest.fixture
def docs_copy(tmp_path: Path) -> Path:
    """mkdocs.yml and docs/ in a scratch folder, to break on purpose. The broken copies are
    built *without* ``--strict``: mkdocs.yml's own ``strict: true`` must be enough, so a
    contributor's plain ``mkdocs build`` fails the same way CI does."""
    shutil.copy2(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    return tmp_path


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    code, output = mkdocs_build(REPO_ROOT, tmp_path / "site")
    assert code == 0, output
    assert "WARNING" not in output, output
    assert (tmp_path / "site" / "index.html").is_file()
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).with_suffix("")
        built = (
            relative.parent / "index.html"
            if relative.name in {"index", "README"}
            else relative / "index.html"
        )
        assert (tmp_path / "site" / built).is_file(), f"{page} was not built"


def test_a_broken_link_fails_the_build(docs_copy: Path) -> None:
    page = docs_copy / "docs" / "install.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    code, output = mkdocs_build(docs_copy, docs_copy / "site", strict_flag=False)
    assert code != 0
    assert "no-such-page.md" in output


def test_a_link_to_a_missing_anchor_fails_the_build(docs_copy: Path) -> None:
    page = docs_copy / "docs" / "install.md"
    page.write_text(page.read_text() + "\nSee [in-process](deployment.md#no-such-heading).\n")
    code, output = mkdocs_build(docs_copy, docs_copy / "site", strict_flag=False)
    assert code != 0
    assert "#no-such-heading" in output


def test_a_link_out_of_the_docs_folder_fails_the_build(docs_copy: Path) -> None:
    """A relative link to the repository (../bench/README.md) works on GitHub but is a dead
    link on the site: link to the repository's URL instead."""
    page = docs_copy / "docs" / "install.md"
    page.write_text(page.read_text() + "\nSee [the benchmarks](../bench/README.md).\n")
    code, output = mkdocs_build(docs_copy, docs_copy / "site", strict_flag=False)
    assert code != 0
    assert "../bench/README.md" in output


def test_a_page_left_out_of_the_nav_fails_the_build(docs_copy: Path) -> None:
    (docs_copy / "docs" / "left-out-of-nav.md").write_text("# Left out\n")
    code, output = mkdocs_build(docs_copy, docs_copy / "site", strict_flag=False)
    assert code != 0
    assert "left-out-of-nav.md" in output


# -- the repository's own Markdown files ---------------------------------------------------------


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading, where the README is read: link syntax and
    punctuation dropped, lowercase, each space a '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    found: set[str] = set()
    fenced = False
    for line in markdown.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.add(slug(match.group(2)))
    return found


def local_links(markdown: Path) -> list[str]:
    links: list[str] = []
    fenced = False
    for line in markdown.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            links += [t for t in _LINK.findall(line) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]
    return links


@pytest.mark.parametrize(
    "name", ["README.md", "CONTRIBUTING.md", "ARCHITECTURE.md", "CHANGELOG.md"]
)
def test_links_from_the_repositorys_markdown_resolve(name: str) -> None:
    source = REPO_ROOT / name
    broken: list[str] = []
    for link in local_links(source):
        path, _, fragment = link.partition("#")
        target = (source.parent / path).resolve() if path else source
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif fragment and target.suffix == ".md" and fragment not in anchors(target):
            broken.append(f"{link}: no heading #{fragment} in {target.relative_to(REPO_ROOT)}")
    assert broken == [], f"{name} has broken links"


def test_the_slug_rule_matches_the_sites_anchors() -> None:
    """A heading has one anchor on GitHub and on the site (MkDocs' toc), so a link into
    docs/ from the README works in both places (headings without doubled separators)."""
    from markdown.extensions.toc import slugify

    for heading in ("In-process", "Which server, and why granian by default", "Proxy offload"):
        assert slug(heading) == slugify(heading, "-")
