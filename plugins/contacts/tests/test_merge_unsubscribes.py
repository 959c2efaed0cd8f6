"""A merge keeps every wish not to be mailed, and an unmerge puts the lists back as they were (issue 12, finding 9).

Each test runs on SQLite, and on PostgreSQL and MariaDB when the test
databases are configured (see crm_core.testing).
"""

from __future__ import annotations

from typing import Any

import pytest

from crm_core.errors import ValidationError


@pytest.fixture
def app(contacts_app, crm_recorder):
    return contacts_app(("recorder", crm_recorder))


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def _memberships(app: Any) -> list[tuple[Any, ...]]:
    from crm_contacts.models import ListMember

    with app.activate():
        return sorted(
            ListMember.select(
                ListMember.id,
                ListMember.mailing_list,
                ListMember.contact,
                ListMember.added_at,
                ListMember.unsubscribed_at,
            ).tuples()
        )


def _audience(book: Any, source: str) -> list[int]:
    return [card.id for card in book.audience(source)]


def _two(book: Any) -> tuple[Any, Any]:
    survivor = book.create(first_name="Ana", last_name="García", email="ana@example.com")
    merged = book.create(first_name="Ana", last_name="Garcia", email="agarcia@work.example")
    return survivor, merged


def test_a_list_the_merged_contact_left_stays_left_for_the_survivor(app, book, crm_clock):
    survivor, merged = _two(book)
    other = book.create(first_name="Luis", email="luis@example.com")
    book.create_list("news")
    book.create_list("offers")
    book.add_to_list("news", [survivor.id, merged.id, other.id])
    book.add_to_list("offers", [survivor.id, merged.id])
    crm_clock.advance(days=1)
    book.unsubscribe(merged.id, "news", channel="self-service")
    before = _memberships(app)
    assert _audience(book, "news") == [survivor.id, other.id]

    book.merge(survivor.id, merged.id)
    # the same person asked not to get "news": the survivor no longer gets it
    assert _audience(book, "news") == [other.id]
    assert book.audience_report("news") == {"included": 1, "do_not_contact": 0, "unsubscribed": 1, "no_address": 0}
    states = {m.contact_id: m.state for m in book.list_members("news")}
    assert states[survivor.id] == "unsubscribed"
    # a list neither left is untouched
    assert _audience(book, "offers") == [survivor.id]

    book.unmerge(merged.id)
    assert _memberships(app) == before
    assert _audience(book, "news") == [survivor.id, other.id]


def test_a_list_only_the_merged_contact_was_on_moves_with_its_unsubscribe(app, book):
    survivor, merged = _two(book)
    book.create_list("news")
    book.add_to_list("news", [merged.id])
    book.unsubscribe(merged.id, "news")
    before = _memberships(app)
    book.merge(survivor.id, merged.id)
    assert _audience(book, "news") == []
    assert {m.contact_id: m.state for m in book.list_members("news")} == {survivor.id: "unsubscribed"}
    book.unmerge(merged.id)
    assert _memberships(app) == before


def test_do_not_contact_survives_the_merge_and_the_unmerge_restores_each(app, book):
    survivor, merged = _two(book)
    book.create_list("news")
    book.add_to_list("news", [survivor.id, merged.id])
    book.unsubscribe(merged.id)  # do-not-contact
    book.merge(survivor.id, merged.id)
    assert book.get(survivor.id).do_not_contact and _audience(book, "news") == []
    book.unmerge(merged.id)
    assert not book.get(survivor.id).do_not_contact and book.get(merged.id).do_not_contact
    assert _audience(book, "news") == [survivor.id]


def test_the_survivors_own_unsubscribe_is_kept_by_merge_and_unmerge(app, book):
    survivor, merged = _two(book)
    book.create_list("news")
    book.add_to_list("news", [survivor.id, merged.id])
    book.unsubscribe(survivor.id, "news")
    before = _memberships(app)
    book.merge(survivor.id, merged.id)
    assert _audience(book, "news") == []
    book.unmerge(merged.id)
    assert _memberships(app) == before
    assert _audience(book, "news") == [merged.id]


def test_an_unsubscribe_through_the_merged_contact_reaches_the_survivor(app, book):
    """An old mailing's link names the merged contact: while merged, it unsubscribes the survivor, and nothing undoes that."""
    survivor, merged = _two(book)
    book.create_list("news")
    book.create_list("offers")
    book.add_to_list("news", [survivor.id, merged.id])
    book.add_to_list("offers", [merged.id])
    book.merge(survivor.id, merged.id)
    assert _audience(book, "news") == [survivor.id] and _audience(book, "offers") == [survivor.id]

    assert book.unsubscribe(merged.id, "news", channel="self-service") is True
    assert book.unsubscribe(merged.id, "offers", channel="self-service") is True
    assert _audience(book, "news") == [] and _audience(book, "offers") == []
    assert book.unsubscribe(merged.id, "news") is False  # already so
    book.create_list("other")
    with pytest.raises(ValidationError, match="not on the list"):
        book.unsubscribe(merged.id, "other")

    book.unmerge(merged.id)
    # a wish not to be mailed is never undone by an unmerge: both stay unsubscribed
    assert _audience(book, "news") == [] and _audience(book, "offers") == []
    assert {m.contact_id: m.state for m in book.list_members("news")} == {
        survivor.id: "unsubscribed",
        merged.id: "unsubscribed",
    }


def test_do_not_contact_through_the_merged_contact_outlives_the_unmerge(app, book):
    survivor, merged = _two(book)
    book.merge(survivor.id, merged.id)
    assert book.unsubscribe(merged.id, channel="self-service") is True
    assert book.get(survivor.id).do_not_contact
    book.unmerge(merged.id)
    assert book.get(survivor.id).do_not_contact and book.get(merged.id).do_not_contact


def test_the_event_names_the_survivor(app, book, crm_recorder):
    survivor, merged = _two(book)
    book.create_list("news")
    book.add_to_list("news", [survivor.id, merged.id])
    book.merge(survivor.id, merged.id)
    book.unsubscribe(merged.id, "news", channel="self-service")
    events = [e for e in crm_recorder.events if e.type_name == "ContactUnsubscribed"]
    assert [(e.contact_id, e.channel) for e in events] == [(survivor.id, "self-service")]
