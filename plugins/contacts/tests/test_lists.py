"""Mailing lists, segments, audiences, unsubscribes and do-not-contact."""

from __future__ import annotations

import pytest

from crm_core.errors import NotFoundError, ValidationError


@pytest.fixture
def app(contacts_app, crm_recorder):
    return contacts_app(("recorder", crm_recorder))


@pytest.fixture
def book(app):
    return app.plugin("contacts")


@pytest.fixture
def people(book):
    return {
        "ana": book.create(
            first_name="Ana",
            email="ana@example.com",
            addresses=[{"street": "Mayor 1", "city": "Madrid", "postal_code": "28001", "country": "ES"}],
            region="Centro",
        ),
        "ben": book.create(first_name="Ben", email="ben@example.com", region="Centro"),
        "cai": book.create(first_name="Cai", phone="+34612345678", region="Centro"),
        "dan": book.create(first_name="Dan", email="dan@example.com", do_not_contact=True, region="Centro"),
        "eva": book.create(first_name="Eva", email="eva@example.com", region="Norte"),
    }


def test_static_list_audience_honours_every_flag(book, people, crm_recorder):
    info = book.create_list("newsletter", "Monthly news")
    assert info.name == "newsletter"
    assert book.add_to_list("newsletter", [p.id for p in people.values()]) == 5
    assert book.add_to_list("newsletter", [people["ana"].id]) == 0  # already there
    assert book.unsubscribe(people["ben"].id, "newsletter", channel="self-service") is True
    assert book.unsubscribe(people["ben"].id, "newsletter") is False
    book.delete(people["eva"].id)
    assert [c.display_name for c in book.audience("newsletter")] == ["Ana"]
    assert book.audience_report("newsletter") == {
        "included": 1,
        "do_not_contact": 1,
        "unsubscribed": 1,
        "no_address": 1,
    }
    assert [c.display_name for c in book.audience("newsletter", "post")] == ["Ana"]
    assert book.audience_report("newsletter", "post") == {
        "included": 1,
        "do_not_contact": 1,
        "unsubscribed": 1,
        "no_address": 1,
    }
    unsub = [e for e in crm_recorder.events if e.type_name == "ContactUnsubscribed"]
    assert [(e.contact_id, e.list_id, e.channel) for e in unsub] == [(people["ben"].id, info.id, "self-service")]
    (listed,) = book.lists()
    assert (listed.members, listed.unsubscribed) == (4, 1)
    assert book.resubscribe(people["ben"].id, "newsletter") is True
    assert "Ben" in [c.display_name for c in book.audience("newsletter")]


def test_global_unsubscribe_sets_do_not_contact(book, people, crm_recorder):
    book.create_list("all")
    book.add_to_list("all", [people["ana"].id])
    assert book.unsubscribe(people["ana"].id) is True
    assert book.get(people["ana"].id).do_not_contact is True
    assert list(book.audience("all")) == []
    event = [e for e in crm_recorder.events if e.type_name == "ContactUnsubscribed"][-1]
    assert event.list_id is None and event.contact_id == people["ana"].id
    assert book.unsubscribe(people["ana"].id) is False


def test_segment_is_evaluated_when_used(book, people):
    book.create_segment("centro", {"region": "Centro"}, "Everyone in Centro")
    assert [c.display_name for c in book.audience("centro")] == ["Ana", "Ben"]
    assert book.audience_report("centro") == {"included": 2, "do_not_contact": 1, "unsubscribed": 0, "no_address": 1}
    later = book.create(first_name="Fay", email="fay@example.com", region="Centro")
    assert later.id in [c.id for c in book.audience("segment:centro")]
    (seg,) = book.segments()
    assert seg.filters == {"region": "Centro"}
    book.delete_segment("centro")
    with pytest.raises(NotFoundError, match="no mailing list or segment named 'centro'"):
        list(book.audience("centro"))


def test_bad_list_and_segment_input(book, people):
    book.create_list("news")
    with pytest.raises(ValidationError, match="already exists"):
        book.create_list("news")
    with pytest.raises(ValidationError, match="lists and segments share names"):
        book.create_segment("news", {"region": "Centro"})
    with pytest.raises(ValidationError, match="unknown filter 'colour'"):
        book.create_segment("s", {"colour": "red"})
    with pytest.raises(ValidationError, match="needs at least one filter"):
        book.create_segment("s", {})
    with pytest.raises(NotFoundError, match="no mailing list named 'nope'"):
        book.add_to_list("nope", [people["ana"].id])
    with pytest.raises(NotFoundError, match="no contact with id 999"):
        book.add_to_list("news", [people["ana"].id, 999])
    assert book.lists()[0].members == 0  # nothing half-added
    with pytest.raises(ValidationError, match="medium 'fax'"):
        book.audience_report("news", "fax")
    with pytest.raises(ValidationError, match="is not on the list"):
        book.unsubscribe(people["ana"].id, "news")


def test_remove_and_delete_list(book, people):
    book.create_list("tmp")
    book.add_to_list("tmp", [people["ana"].id, people["ben"].id])
    assert book.remove_from_list("tmp", [people["ana"].id]) == 1
    assert book.delete_list("tmp") == 1
    assert book.lists() == []
    assert book.get(people["ben"].id).deleted_at is None
