"""Hypothesis fuzzing of what this suite adds in front of the lookup: the access decision and
signature parsing, the client address behind proxies, upload sniffing and safe names.

(The lookup and the header parsers are fuzzed in tests/property and, against running
servers, in tests/integration/test_attacks.py.)
"""

from __future__ import annotations

import contextlib
import ipaddress
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mediaserve.access import Access, BadSignature, Signer
from mediaserve.ratelimit import client_address, parse_networks
from mediaserve.uploads import check_upload, safe_name, sniff

SIGNER = Signer("fuzz-key", clock=lambda: 1_750_000_000.0)
ACCESS = Access({"signed/": "signed", "private/": "private"}, signer=SIGNER)

_query_piece = st.sampled_from(
    ["expires=", "signature=", "method=", "&", "=", "1750000060", "GET", "HEAD", "%", "%00",
     "%ff", "+", ";", "9" * 30, "-1", "AAAA", "é", "\x00", "expires", "signature"]
)  # fmt: skip
# Well-formed parameters with arbitrary values reach the MAC comparison, not just the parser.
_wellformed = st.builds(
    "expires={}&method={}&signature={}".format,
    st.one_of(st.just("1750000060"), st.text("0123456789", min_size=1, max_size=12)),
    st.one_of(st.sampled_from(["", "GET", "HEAD"]), st.text(max_size=5)),
    st.text(max_size=50),
)
_query = st.one_of(
    st.lists(_query_piece, max_size=12).map("".join), st.text(max_size=80), _wellformed
)
_name = st.one_of(
    st.sampled_from(["signed/doc.pdf", "SIGNED/doc.pdf", "Signed/x", "private/a", "public/a"]),
    st.text(max_size=40),
    st.text(max_size=20).map(lambda t: "signed/" + t),
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(name=_name, query=_query, method=st.sampled_from(["GET", "HEAD"]))
def test_verify_only_ever_raises_bad_signature(name: str, query: str, method: str) -> None:
    with contextlib.suppress(BadSignature):
        SIGNER.verify(name, query, method)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(name=_name, query=_query, method=st.sampled_from(["GET", "HEAD"]))
@example(name="signed/doc.pdf", query="expires=1750000060&signature=", method="GET")
@example(name="signed/doc.pdf", query="expires=1750000060&signature=%C3%A9", method="GET")
def test_no_forged_query_admits_a_signed_name(name: str, query: str, method: str) -> None:
    """Without the key no query string opens a signed name (a forged MAC would have to be
    guessed); private names without a request are never admitted either, only deferred."""
    verdict = ACCESS.decide(method, name, query)
    if ACCESS.policy_for(name) == "signed":
        assert verdict.outcome == "deny"
    elif ACCESS.policy_for(name) == "private":
        assert verdict.outcome == "defer"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(name=st.text(max_size=40), expires_in=st.integers(1, 10**8))
def test_every_name_round_trips_through_its_own_signature(name: str, expires_in: int) -> None:
    SIGNER.verify(name, SIGNER.query(name, expires_in=expires_in), "GET")


_ip = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["127.0.0.1", "10.1.2.3", "unknown", "", " ", "[::1]:80", "1.2.3.4:5"]),
    st.text(max_size=15),
)
TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(remote=_ip, hops=st.lists(_ip, max_size=5))
def test_client_address_is_the_peer_or_an_address_it_forwarded(
    remote: str, hops: list[str]
) -> None:
    """Never raises; an untrusted peer is always its own address; what a trusted peer yields
    is either itself or a well-formed address from the header."""
    forwarded = ", ".join(hops)
    found = client_address(remote, forwarded, TRUSTED)
    peer = client_address(remote, None, TRUSTED)
    try:
        trusted_peer = any(ipaddress.ip_address(peer) in net for net in TRUSTED)
    except ValueError:
        trusted_peer = False
    if not trusted_peer:
        assert found == peer
    else:
        assert found == peer or ipaddress.ip_address(found)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(head=st.binary(max_size=64), name=st.text(max_size=30), size=st.integers(0, 10**9))
def test_upload_checks_are_total(head: bytes, name: str, size: int) -> None:
    sniff(head)
    _kind, problem = check_upload(name, head, size)
    assert problem is None or problem.message


@settings(max_examples=400, deadline=None, derandomize=True)
@given(name=st.text(max_size=300))
def test_safe_names_have_no_path_no_dotfile_and_are_nfc(name: str) -> None:
    stored = safe_name(name)
    assert stored
    assert "/" not in stored
    assert "\\" not in stored
    assert not stored.startswith(".")
    assert stored not in (".", "..")
    assert unicodedata.is_normalized("NFC", stored)
    assert len(stored.encode("utf-8")) <= 247
    assert not any(unicodedata.category(ch)[0] == "C" for ch in stored)
