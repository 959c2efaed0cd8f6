"""Files held for the desk's import wizard, the mapping file it writes, and what a file holds before an import."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from crm_contacts.importpreview import FileRefused, preview
from crm_contacts.mapping import LAYOUTS, load_mapping_file, mapping_file_text, parse_target, target_text
from crm_core.errors import NotFoundError, PermissionDenied

CSV = b"first_name,email\nAna,ana@example.com\n"


@pytest.mark.parametrize(
    "written", ["first_name", "email", "email_3:home", "phone_2.type", "street", "address_2:home.city", "custom.x y"]
)
def test_a_target_is_written_as_parse_target_reads_it(written: str) -> None:
    target = parse_target(written)
    assert parse_target(target_text(target)) == target
    assert target_text(None) == "-"


def test_every_known_layouts_targets_survive_the_round_trip() -> None:
    for table, _markers in LAYOUTS.values():
        for text in table.values():
            target = parse_target(text)
            assert target is None or parse_target(target_text(target)) == target, text


def test_the_mapping_file_is_read_back_whatever_the_headers(tmp_path: Any) -> None:
    columns = {'Name "quoted"': "display_name", "Back\\slash": "-", "Tab\there": "custom.note", "Ñandú": "email_1"}
    path = tmp_path / "map.toml"
    path.write_text(mapping_file_text(columns, delimiter="\t", encoding="cp1252"), encoding="utf-8")
    loaded = load_mapping_file(path)
    assert loaded == {"columns": columns, "delimiter": "\t", "encoding": "cp1252"}


def test_a_held_file_is_its_owners_never_listed_as_an_import_and_expires(
    contacts_app: Any, crm_user: Any, crm_clock: Any
) -> None:
    crm = contacts_app()
    crm_user(crm, name="ana", roles=["admin"])
    crm_user(crm, name="bea", roles=["manager"])
    crm_user(crm, name="sam", roles=["sales"])
    contacts = crm.plugin("contacts")
    with crm.as_user("ana"):
        held = contacts.hold_import(CSV, name="p.csv", fmt="csv", options={"encoding": "utf-8-sig"})
        assert held.rows_total == 1 and held.data == CSV and contacts.import_runs() == []
        changed = contacts.change_held_import(held.id, {"encoding": "utf-8-sig", "match_on": ["email"]})
        assert changed.options == {"encoding": "utf-8-sig", "match_on": ["email"]}
    with crm.as_user("bea"), pytest.raises(NotFoundError):
        contacts.held_import(held.id)
    with crm.as_user("sam"), pytest.raises(PermissionDenied):
        contacts.hold_import(CSV, name="p.csv", fmt="csv")
    with crm.as_user("ana"):
        dry = contacts.submit_held_import(held.id, dry_run=True)
        assert dry.dry_run and contacts.held_import(held.id).id == held.id  # still held after a dry run
        with pytest.raises(NotFoundError):
            contacts.import_run(held.id)  # a held file is not an import
        later = contacts.hold_import(CSV, name="q.csv", fmt="csv")
    crm_clock.advance(dt.timedelta(days=1, minutes=1))
    with crm.as_user("ana"):
        fresh = contacts.hold_import(CSV, name="r.csv", fmt="csv")
    contacts.run_imports()  # the worker deletes the held files older than a day
    with crm.as_user("ana"):
        for gone in (held.id, later.id):
            with pytest.raises(NotFoundError):
                contacts.held_import(gone)
        assert contacts.held_import(fresh.id).file_name == "r.csv"
        assert [r.id for r in contacts.import_runs()] == [dry.id]


def test_a_utf16_file_is_read_by_its_byte_order_mark_and_a_chosen_encoding_that_fails_says_where() -> None:
    shown = preview("first_name\tlast_name\nJosé\tNúñez\n".encode("utf-16"), "p.txt")
    assert (shown.encoding, shown.delimiter, shown.sample) == ("utf-16", "\t", (("José", "Núñez"),))
    with pytest.raises(FileRefused) as refused:
        preview("first_name\nAna\nJosé\n".encode("cp1252"), "p.csv", encoding="utf-8-sig")
    assert refused.value.problem == "encoding" and refused.value.params["line"] == 3
