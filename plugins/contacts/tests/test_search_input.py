"""Bad input to show and search: ids past 64 bits, huge texts, LIKE wildcards, e-mail fragments, huge pages.

Each gets a clear error or its documented meaning, never "unexpected … please
report it", on every backend (LIKE escaping differs between them).
"""

from __future__ import annotations

import pytest

from crm_core.errors import NotFoundError, ValidationError
from crm_core.ids import MAX_ID

HUGE = 10**23


@pytest.fixture
def book(contacts_app):
    book = contacts_app().plugin("contacts")
    book.create(first_name="Ana", last_name="García", email="ana@example.com")
    book.create(first_name="Bo", last_name="100% Pure", email="bo@example.org")
    book.create(first_name="Cy", last_name="snake_case")
    book.create(first_name="Di", last_name="Back\\slash")
    return book


def names(page) -> list[str]:
    return [c.display_name for c in page.cards]


def test_like_wildcards_are_searched_as_themselves(book):
    assert names(book.search("%")) == ["Bo 100% Pure"]
    assert names(book.search("_")) == ["Cy snake_case"]
    assert names(book.search("\\")) == ["Di Back\\slash"]
    assert names(book.search(name="0%")) == ["Bo 100% Pure"]
    assert names(book.search("e_c")) == ["Cy snake_case"]
    assert book.search("a%a").total == 0
    assert names(book.search("garcía")) == ["Ana García"]  # plain text still finds a part of a name


def test_an_e_mail_search_is_exact(book):
    assert names(book.search("ANA@example.com")) == ["Ana García"]
    for fragment in ("@", "@example.com", "ana@"):
        with pytest.raises(ValidationError, match="has an @ but is not a whole e-mail address; e-mail search is exact"):
            book.search(fragment)
    assert book.search("nobody@example.com").total == 0


def test_a_huge_search_text_is_refused_by_name(book):
    with pytest.raises(ValidationError, match="filter query: 100000 characters is too long; search with up to 300"):
        book.search("a" * 100_000)
    with pytest.raises(ValidationError, match="filter name: 100000 characters is too long"):
        book.search(name="%" * 100_000)
    assert book.search("a" * 300).total == 0
    # the exact filters are bounded by what they can be, and the error does not repeat the 100,000 characters
    for key, limit in (("email", 254), ("phone", 50)):
        with pytest.raises(
            ValidationError, match=f"filter {key}: 100000 characters is too long; search with up to {limit}$"
        ):
            book.search(**{key: "a" * 100_000})


def test_paging_is_bounded(book):
    for kwargs, message in [
        ({"limit": 10**9}, "limit must be a whole number from 1 to 10000"),
        ({"limit": 0}, "limit must be a whole number from 1 to 10000"),
        ({"offset": HUGE}, f"offset must be a whole number from 0 to {MAX_ID}"),
        ({"offset": -1}, "offset must be a whole number from 0"),
    ]:
        with pytest.raises(ValidationError, match=message):
            book.search(**kwargs)
    assert book.search(limit=10_000).total == 4
    assert book.search(offset=MAX_ID).cards == []


def test_ids_past_64_bits_are_not_found(book):
    with pytest.raises(NotFoundError, match=f"no contact with id {HUGE}"):
        book.get(HUGE)
    with pytest.raises(NotFoundError, match=f"no contact with id {HUGE}"):
        book.card(HUGE)
    assert book.cards([HUGE, -1, 1]) == [book.card(1)]
    with pytest.raises(NotFoundError):
        book.update(HUGE, status="customer")
    with pytest.raises(ValidationError, match="filter organization_id .* is not an id"):
        book.search(organization_id=HUGE)


def test_the_cli_gives_one_clear_line(book, crm_cli):
    app = book.crm
    cases = [
        (["contacts", "show", str(HUGE)], f"Invalid value for 'CONTACT_ID': {HUGE} is not in the range 1<=x<={MAX_ID}"),
        (["contacts", "search", "--organization", str(HUGE)], "Invalid value for '--organization'"),
        (
            ["contacts", "search", "x", "--limit", str(10**9)],
            "Invalid value for '--limit': 1000000000 is not in the range 1<=x<=10000",
        ),
        (["contacts", "list", "--offset", str(HUGE)], "Invalid value for '--offset'"),
        (["contacts", "search", "a" * 100_000], "filter query: 100000 characters is too long"),
        (["contacts", "search", "@"], "e-mail search is exact"),
        (["contacts", "merges", str(HUGE)], "Invalid value for '[CONTACT_ID]'"),
    ]
    for args, message in cases:
        result = crm_cli.invoke(args, app=app)
        assert result.exit_code != 0 and message in result.output, (args[:2], result.output[-300:])
        assert "unexpected" not in result.output and "Traceback" not in result.output
    result = crm_cli.invoke(["contacts", "search", "%", "--format", "csv"], app=app)
    assert result.exit_code == 0 and result.output.count("\n") == 2 and "100% Pure" in result.output
