"""Name search by word prefix (``contacts_word``): what it finds, and that it stays in step with the names."""

from __future__ import annotations

import io

import pytest

from crm_contacts.words import name_words


@pytest.fixture
def app(contacts_app):
    return contacts_app()


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def names(page) -> list[str]:
    return [c.display_name for c in page.cards]


def test_the_words_of_a_name_and_of_its_punctuated_parts():
    assert name_words("ana garcia-lopez ana garcia-lopez") == {"ana", "garcia-lopez", "-lopez", "lopez"}
    assert name_words("bo 100% pure") == {"bo", "100%", "%", "pure"}
    assert name_words("") == set()


def test_every_word_typed_starts_a_word_of_the_name_in_any_order_accents_and_case_ignored(book):
    book.create(first_name="José", last_name="Núñez Álvarez")
    book.create(first_name="Josefa", last_name="Ruiz")
    book.create(first_name="Ana", last_name="García-López")
    assert names(book.search("jose")) == ["José Núñez Álvarez", "Josefa Ruiz"]
    assert names(book.search("JOSÉ")) == ["José Núñez Álvarez", "Josefa Ruiz"]
    assert names(book.search("alv nu")) == ["José Núñez Álvarez"]  # two words, in any order
    assert names(book.search(name="Núñez José")) == ["José Núñez Álvarez"]
    assert names(book.search("lopez")) == ["Ana García-López"]  # a part after a hyphen
    assert names(book.search("garcia-l")) == ["Ana García-López"]
    assert names(book.search("jose ruiz alvarez")) == []  # every word must be found
    assert names(book.search("arez")) == []  # the start of a word, not the middle of one
    # two typed words may start the same word of the name (each contact once, and counted once)
    assert names(book.search("jo jose")) == ["José Núñez Álvarez", "Josefa Ruiz"]
    assert book.search("jo jose", count=True).total == 2
    assert book.search("jose nu alvarez", limit=1, count=1).total == 1
    gone = book.search("josefa ruiz").cards[0]
    book.delete(gone.id, actor="test")
    assert names(book.search("jo jos")) == ["José Núñez Álvarez"]  # a deleted contact is not found


def test_a_renamed_contact_is_found_by_its_new_name_only(book):
    c = book.create(first_name="Marta", last_name="Soler")
    book.update(c.id, last_name="Vidal")
    assert names(book.search("vidal")) == ["Marta Vidal"]
    assert names(book.search("soler")) == []


def test_merged_and_erased_contacts_are_not_found_by_their_old_names(app, book):
    keep = book.create(first_name="Luis", last_name="Prieto", email="luis@example.com")
    gone = book.create(first_name="Luisito", last_name="Pereda", email="luisito@example.com")
    book.merge(keep.id, gone.id, actor="test")
    assert names(book.search("pereda")) == []
    assert names(book.search("luis")) == ["Luis Prieto"]
    book.unmerge(gone.id, actor="test")
    assert names(book.search("pereda")) == ["Luisito Pereda"]
    book.erase(gone.id, actor="test")
    assert names(book.search("pereda", include_deleted=True)) == []
    from crm_contacts.models import ContactWord

    with app.activate():
        assert ContactWord.select().where(ContactWord.contact == gone.id).count() == 0


def test_imported_contacts_are_found_and_a_reimport_renames_them(book):
    csv_text = "External,First,Last\nx1,Íñigo,Olaberría\nx2,Pau,Serra\n"
    mapping = {"External": "external_id", "First": "first_name", "Last": "last_name"}
    book.import_csv(io.StringIO(csv_text), mapping=mapping, source_name="people.csv", match_on=["external_id"])
    assert names(book.search("inigo olab")) == ["Íñigo Olaberría"]
    renamed = "External,First,Last\nx2,Pau,Riera\n"
    book.import_csv(io.StringIO(renamed), mapping=mapping, source_name="again.csv", match_on=["external_id"])
    assert names(book.search("riera")) == ["Pau Riera"]
    assert names(book.search("serra")) == []


def test_the_search_page_runs_as_many_statements_in_a_small_book_as_in_a_larger_one(app, book):
    from crm_core.testing import statements

    def count() -> int:
        with statements(app) as sql:
            book.search("gar", limit=5, count=10_000)  # more than a page both times: the capped count runs
        return len(sql)

    for n in range(6):
        book.create(first_name=f"Gara{n}", last_name="García", email=f"g{n}@example.com")
    small = count()
    for n in range(6, 120):
        book.create(first_name=f"Gara{n}", last_name="García", email=f"g{n}@example.com", tags=["t"])
    assert count() == small
