"""Access.restricted_prefixes(): the one answer to "which folders are private", asked by the
proxy config, the system checks and the doctor instead of each reading ACCESS itself."""

from __future__ import annotations

import pytest

from mediaserve.access import Access, Signer

SIGNER = Signer("k" * 32)


def restricted(rules: dict[str, str]) -> tuple[str, ...]:
    return Access(rules, signer=SIGNER).restricted_prefixes()


def test_everything_public_restricts_nothing() -> None:
    assert restricted({"thumbs/": "public", "": "public"}) == ()


def test_private_and_signed_prefixes_are_both_restricted() -> None:
    assert restricted({"invoices/": "private", "whatsapp/": "signed", "thumbs/": "public"}) == (
        "invoices/",
        "whatsapp/",
    )


@pytest.mark.parametrize("spelling", ["Invoices", "/INVOICES/", " invoices/ ", "invoices"])
def test_prefixes_come_in_the_form_access_compares_them(spelling: str) -> None:
    """Case-folded with one trailing slash, whatever the settings wrote: a caller that
    compares names with them must agree with policy_for(), which folds case."""
    assert restricted({spelling: "private"}) == ("invoices/",)


def test_a_prefix_names_a_directory_not_a_string_start() -> None:
    """'invoices' covers invoices/a.pdf, not invoices-2024/: the slash is part of the answer."""
    prefixes = restricted({"invoices": "private"})
    assert not any("invoices-2024/a.pdf".startswith(p) for p in prefixes)
    assert any("invoices/a.pdf".startswith(p) for p in prefixes)


def test_a_prefix_inside_a_restricted_one_is_covered_by_it() -> None:
    assert restricted({"invoices/": "private", "invoices/2024/": "signed"}) == ("invoices/",)


def test_a_public_sub_prefix_stays_inside_its_restricted_parent() -> None:
    """The longest prefix re-opens invoices/public/, but routing it to the application is
    safe (it answers publicly); cutting a hole in the list is not needed and easy to get wrong."""
    access = Access({"invoices/": "private", "invoices/public/": "public"}, signer=SIGNER)
    assert access.policy_for("invoices/public/a.pdf") == "public"
    assert access.restricted_prefixes() == ("invoices/",)


def test_a_restricted_prefix_inside_a_public_one_is_listed() -> None:
    assert restricted({"": "public", "shop/": "public", "shop/private/": "private"}) == (
        "shop/private/",
    )


def test_the_empty_prefix_means_every_name_and_covers_the_rest() -> None:
    assert restricted({"": "private", "thumbs/": "public", "invoices/": "signed"}) == ("",)


def test_every_name_under_a_restricted_prefix_is_not_public_unless_reopened() -> None:
    """The contract the callers rely on: outside every listed prefix, a name is public."""
    rules = {"a/": "private", "a/pub/": "public", "a/pub/x/": "signed", "B/c/": "private"}
    access = Access(rules, signer=SIGNER)
    prefixes = access.restricted_prefixes()
    for name in ("a/1", "a/pub/2", "a/pub/x/3", "b/c/4", "B/C/5", "b/6", "z/7", "A/8"):
        inside = any(name.casefold().startswith(p) for p in prefixes)
        if not inside:
            assert access.policy_for(name) == "public", name
