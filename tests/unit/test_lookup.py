"""Safe lookup (LocalSource, decode_path, Mount) and the small pure helpers it relies on."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import MediaTree, media_tree
from mediaserve.http.content_types import guess_type
from mediaserve.http.dates import format_http_date, parse_http_date
from mediaserve.http.disposition import content_disposition
from mediaserve.pipeline.mount import Mount
from mediaserve.pipeline.request import decode_path
from mediaserve.sources.base import NotFound, Refused
from mediaserve.sources.local import LocalSource
from unit.support import decide


@pytest.fixture
def tree() -> Iterator[MediaTree]:
    with media_tree() as t:
        yield t


# -- decode_path: percent-decoding happens once, by the server ------------------------------


@pytest.mark.parametrize("raw", [b"/a%2fb", b"/a%2Fb", b"/a%5cb", b"/a%00b"])
def test_encoded_separators_and_nul_are_refused(raw: bytes) -> None:
    with pytest.raises(Refused, match="encoded"):
        decode_path(b"/a/b", raw)


@pytest.mark.parametrize("raw", [b"/%c0%ae%c0%ae/x", b"/%ff", b"/%e2%82"])
def test_invalid_utf8_in_the_raw_path_is_refused(raw: bytes) -> None:
    """Overlong forms like %c0%ae ("." in broken decoders) must never become a dot."""
    with pytest.raises(Refused, match="UTF-8"):
        decode_path(b"/x", raw)


def test_double_encoding_stays_literal() -> None:
    """%252e decodes once to the three characters "%2e", not to "."."""
    assert decode_path(b"/%2e%2e/x", b"/%252e%252e/x") == "/%2e%2e/x"


def test_a_query_string_is_not_part_of_the_path_check() -> None:
    assert decode_path(b"/a.jpg", b"/a.jpg?next=%2f") == "/a.jpg"


# -- LocalSource ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../outside/secret.txt", "'..' segment"),
        ("nested/../../outside/secret.txt", "'..' segment"),
        ("./hello.txt", "'.' segment"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/win.ini", "drive letter"),
        ("c:x", "drive letter"),
        ("nested\\deeper\\doc.txt", "backslash"),
        ("hello.txt\x00.png", "NUL"),
        ("nested//deeper/doc.txt", "empty path segment"),
        (".secret", "dotfile"),
        (".git/config", "dotfile"),
        ("link-outside.txt", "symlink"),
        ("link-outside-dir/secret.txt", "symlink"),
        ("link-inside.txt", "symlink"),  # not followed unless follow_symlinks
    ],
)
def test_refused_names(tree: MediaTree, name: str, reason: str) -> None:
    with pytest.raises(Refused) as info:
        LocalSource(tree.root).open(name)
    assert reason in info.value.reason


@pytest.mark.parametrize("name", ["", "nested", "nested/", "missing.txt", "nested/missing"])
def test_directories_and_missing_files_are_not_found(tree: MediaTree, name: str) -> None:
    with pytest.raises(NotFound):
        LocalSource(tree.root).open(name)


def test_a_fifo_is_refused_without_blocking(tree: MediaTree) -> None:
    os.mkfifo(tree.root / "pipe.jpg")
    with pytest.raises(Refused, match="not a regular file"):
        LocalSource(tree.root).open("pipe.jpg")


def test_follow_symlinks_allows_links_that_stay_inside(tree: MediaTree) -> None:
    source = LocalSource(tree.root, follow_symlinks=True)
    opened = source.open("link-inside.txt")
    try:
        assert os.pread(opened.fd, 100, 0) == tree.files["hello.txt"]
    finally:
        opened.close()
    with pytest.raises(Refused):
        source.open("link-outside.txt")


def test_allow_dotfiles_serves_them(tree: MediaTree) -> None:
    opened = LocalSource(tree.root, allow_dotfiles=True).open(".secret")
    opened.close()


def test_nested_and_unicode_names_open(tree: MediaTree) -> None:
    for name in (tree.nested, tree.unicode_name):
        opened = LocalSource(tree.root).open(name)
        try:
            assert opened.meta.size == len(tree.files[name])
            assert opened.meta.name == name
        finally:
            opened.close()


def test_metadata_and_bytes_come_from_the_same_descriptor(tree: MediaTree) -> None:
    """A file replaced after the lookup: the open descriptor still reads the old file, whose
    size the metadata reports, so headers and body can never disagree."""
    path = tree.root / "swap.txt"
    path.write_bytes(b"old content")
    opened = LocalSource(tree.root).open("swap.txt")
    try:
        replacement = tree.root / "swap.tmp"
        replacement.write_bytes(b"new, longer content")
        replacement.replace(path)
        assert os.pread(opened.fd, 1000, 0) == b"old content"
        assert opened.meta.size == len(b"old content")
    finally:
        opened.close()


def test_a_replaced_root_is_picked_up(tmp_path: Path) -> None:
    """Deploys swap a symlinked root; the cached root descriptor is revalidated."""
    for release in ("a", "b"):
        (tmp_path / release).mkdir()
        (tmp_path / release / "v.txt").write_text(release)
    (tmp_path / "current").symlink_to(tmp_path / "a")
    source = LocalSource(tmp_path / "current")
    source.root_check_interval = 0.0  # type: ignore[attr-defined]
    first = source.open("v.txt")
    first.close()
    (tmp_path / "next").symlink_to(tmp_path / "b")
    (tmp_path / "next").replace(tmp_path / "current")
    second = source.open("v.txt")
    try:
        assert os.pread(second.fd, 10, 0) == b"b"
    finally:
        second.close()


# -- Mount: refusals are 404 and logged with the reason -------------------------------------------


def test_refusals_are_404_and_logged_at_warning(
    tree: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    mount = Mount.create(tree.root, "/media/")
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        outcome = decide(mount, "GET", ".secret", client="203.0.113.5")
    assert (outcome.plan.status, outcome.body, outcome.kind) == (404, None, "refused")
    assert "dotfile" in caplog.text
    assert "203.0.113.5" in caplog.text


def test_missing_files_are_404_and_not_warned(
    tree: MediaTree, caplog: pytest.LogCaptureFixture
) -> None:
    mount = Mount.create(tree.root, "/media/")
    with caplog.at_level(logging.WARNING, logger="mediaserve"):
        outcome = decide(mount, "GET", "missing.jpg")
    assert (outcome.plan.status, outcome.kind) == (404, "missing")
    assert caplog.text == ""


def test_head_never_keeps_the_file_open(tree: MediaTree) -> None:
    mount = Mount.create(tree.root, "/media/")
    outcome = decide(mount, "HEAD", "random.bin")
    assert (outcome.plan.status, outcome.body) == (200, None)


@pytest.mark.parametrize(
    ("path", "name"),
    [("/media/a.jpg", "a.jpg"), ("/media/", ""), ("/media", ""), ("/media-x/a.jpg", None),
     ("/other", None)],
)  # fmt: skip
def test_mount_matches_only_its_prefix(path: str, name: str | None) -> None:
    expected = None if name is None else name.encode()
    assert Mount.create("/srv", "media").match(path.encode()) == expected


# -- content types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", "image/jpeg"), ("a.JPEG", "image/jpeg"), ("a.png", "image/png"),
        ("a.webp", "image/webp"), ("a.avif", "image/avif"), ("a.heic", "image/heic"),
        ("a.gif", "image/gif"), ("a.mp4", "video/mp4"), ("a.3gp", "video/3gpp"),
        ("a.webm", "video/webm"), ("a.mp3", "audio/mpeg"), ("a.aac", "audio/aac"),
        ("a.amr", "audio/amr"), ("a.ogg", "audio/ogg"), ("a.opus", "audio/ogg"),
        ("a.m4a", "audio/mp4"), ("a.pdf", "application/pdf"), ("a.doc", "application/msword"),
        ("a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("a.xls", "application/vnd.ms-excel"),
        ("a.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("a.ppt", "application/vnd.ms-powerpoint"),
        ("a.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        ("a.csv", "text/csv; charset=utf-8"), ("a.txt", "text/plain; charset=utf-8"),
        ("a.zip", "application/zip"), ("a.json", "application/json; charset=utf-8"),
        ("a.unknown", "application/octet-stream"), ("noext", "application/octet-stream"),
    ],
)  # fmt: skip
def test_content_type_table(name: str, expected: str) -> None:
    assert guess_type(name) == expected


def test_content_type_overrides() -> None:
    assert guess_type("m.glb", {"glb": "model/gltf-binary"}) == "model/gltf-binary"


# -- Content-Disposition (RFC 6266, RFC 8187) -----------------------------------------------------


def test_ascii_name_is_quoted() -> None:
    assert content_disposition("attachment", "report.pdf") == 'attachment; filename="report.pdf"'


def test_non_ascii_name_has_an_ascii_fallback_and_filename_star() -> None:
    value = content_disposition("attachment", "relatório ü.pdf")
    assert value.startswith('attachment; filename="relat')
    assert "filename*=UTF-8''relat%C3%B3rio%20%C3%BC.pdf" in value


@pytest.mark.parametrize("name", ['a".pdf', "a\r\nSet-Cookie: x=1.pdf", "a\\b.pdf", "a\x00b"])
def test_quotes_line_breaks_and_backslashes_never_reach_the_header(name: str) -> None:
    value = content_disposition("attachment", name)
    assert "\r" not in value
    assert "\n" not in value
    assert "\x00" not in value
    quoted = value.split('filename="', 1)[1].split('"', 1)[0]
    assert "\\" not in quoted


def test_only_the_last_path_component_is_the_name() -> None:
    assert content_disposition("attachment", "users/42/invoice.pdf").endswith('"invoice.pdf"')


# -- dates (RFC 9110 §5.6.7) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_the_three_date_formats_parse_to_the_same_second(text: str) -> None:
    assert parse_http_date(text) == 784111777


@pytest.mark.parametrize(
    "text", ["", "yesterday", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT",
             "Sun, 29 Feb 1995 00:00:00 GMT", "Sun, 06 Nov 0000 08:49:37 GMT"],
)  # fmt: skip
def test_invalid_dates_are_none(text: str) -> None:
    assert parse_http_date(text) is None


def test_dates_are_formatted_as_imf_fixdate() -> None:
    assert format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"
