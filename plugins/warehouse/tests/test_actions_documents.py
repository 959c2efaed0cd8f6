"""Staff actions and documents."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest

from crm_core.errors import CRMError, NotFoundError, ValidationError
from crm_warehouse.models import BlobRow, DocumentRow

# -- staff actions -------------------------------------------------------------------


def test_log_a_call_against_a_sale_emits_staff_action_logged(warehouse_app, crm_recorder, crm_clock):
    app = warehouse_app(("recorder", crm_recorder))
    api = app.plugin("warehouse")
    sale = api.sales.add("rfq", 8)
    crm_recorder.events.clear()
    yesterday = crm_clock.now() - dt.timedelta(days=1)
    call = api.actions.log(
        "call", sale_id=sale.id, subject="Follow-up", body="Wants a discount", author="maria", occurred_at=yesterday
    )
    assert (call.kind, call.contact_id, call.sale_id, call.author, call.occurred_at, call.logged_at) == (
        "call", 8, sale.id, "maria", yesterday, crm_clock.now(),
    )  # fmt: skip
    [event] = crm_recorder.events
    assert (event.type_name, event.action_id, event.contact_id, event.sale_id, event.kind, event.author, event.actor) == (
        "StaffActionLogged", call.id, 8, sale.id, "call", "maria", "maria",
    )  # fmt: skip
    note = api.actions.log("note", contact_id=8, body="Prefers mornings", author="luis")
    assert [a.id for a in api.actions.list(contact_id=8)] == [note.id, call.id]
    assert [a.id for a in api.actions.list(sale_id=sale.id)] == [call.id]
    assert [a.id for a in api.actions.list(kind="note", author="luis")] == [note.id]
    assert api.actions.get(call.id).body == "Wants a discount"
    assert [e.kind for e in api.timeline(8, kinds=["note"])] == ["note", "note"]


BAD_ACTIONS = [
    (
        {"kind": "fax", "contact_id": 1, "body": "x"},
        ValidationError,
        "kind 'fax' is not one of note, call, meeting, email",
    ),
    ({"kind": "note", "body": "x"}, ValidationError, "against a contact or a sale"),
    ({"kind": "note", "contact_id": 1}, ValidationError, "the note is empty"),
    (
        {"kind": "note", "contact_id": 1, "body": "x", "occurred_at": dt.datetime(2026, 1, 1)},
        ValidationError,
        "aware datetime",
    ),
    (
        {"kind": "call", "contact_id": 1, "body": "x", "occurred_at": dt.datetime(2027, 1, 1, tzinfo=dt.UTC)},
        ValidationError,
        "in the future",
    ),
    ({"kind": "note", "sale_id": 77, "body": "x"}, NotFoundError, "sales record 77 does not exist"),
]


def test_bad_staff_actions_are_refused(warehouse_app):
    app = warehouse_app()
    for kwargs, error, message in BAD_ACTIONS:
        kwargs = dict(kwargs)
        kind = kwargs.pop("kind")
        with pytest.raises(error, match=message):
            app.plugin("warehouse").actions.log(kind, **kwargs)
    assert app.plugin("warehouse").actions.list() == []


# -- documents -----------------------------------------------------------------------


def test_the_same_file_attached_twice_is_stored_once(warehouse_app, crm_recorder, tmp_path):
    app = warehouse_app(("recorder", crm_recorder))
    api = app.plugin("warehouse")
    sale = api.sales.add("quote", 3)
    crm_recorder.events.clear()
    deck = tmp_path / "offer deck.pdf"
    deck.write_bytes(b"%PDF-1.4 slides" * 100)
    sha = hashlib.sha256(deck.read_bytes()).hexdigest()
    first = api.documents.attach(deck, contact_id=3, uploaded_by="maria")
    assert (first.name, first.content_type, first.size, first.sha256, first.uploaded_by, first.deduplicated) == (
        "offer deck.pdf", "application/pdf", 1500, sha, "maria", False,
    )  # fmt: skip
    second = api.documents.attach(deck, sale_id=sale.id, uploaded_by="luis")  # same content, another record
    assert second.id != first.id and second.deduplicated and second.contact_id == 3
    again = api.documents.attach(deck, contact_id=3)  # same content, same record, same name
    assert again.id == first.id
    stored = api.documents.path_of(sha)
    assert stored.read_bytes() == deck.read_bytes()
    assert stored.is_relative_to(tmp_path / "documents")
    with app.activate():
        assert BlobRow.select().count() == 1
        assert DocumentRow.select().count() == 2
    assert api.documents.read_bytes(second.id) == deck.read_bytes()
    assert [d.id for d in api.documents.list(contact_id=3)] == [second.id, first.id]
    assert [e.type_name for e in crm_recorder.events] == ["DocumentAttached", "DocumentAttached"]
    assert crm_recorder.events[0].sha256 == sha and crm_recorder.events[0].size == 1500
    assert [e.kind for e in api.timeline(3, kinds=["document"])] == ["document", "document"]
    assert list((tmp_path / "documents").glob(".upload-*")) == []  # no temporary file left behind


def test_an_open_file_can_be_attached(warehouse_app):
    app = warehouse_app()
    doc = app.plugin("warehouse").documents.attach(io.BytesIO(b"hello"), contact_id=1, name="hello.txt")
    assert (doc.name, doc.content_type, doc.size) == ("hello.txt", "text/plain", 5)


def test_an_oversized_document_is_refused_and_nothing_is_kept(warehouse_app, tmp_path):
    app = warehouse_app(settings={"max_document_mb": 0.001})  # 1,000 bytes
    store = app.plugin("warehouse").documents
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(
        CRMError,
        match=r"big.bin is 1,001 bytes, larger than the limit of 1,000 bytes \(plugins.warehouse.max_document_mb\)",
    ):
        store.attach(big, contact_id=1)
    # a stream is only measured while it is read: refused all the same, its partial copy removed
    with pytest.raises(CRMError, match=r"larger than the limit of 1,000 bytes"):
        store.attach(io.BytesIO(b"x" * 5000), contact_id=1, name="stream.bin")
    assert store.list() == []
    assert [p for p in (tmp_path / "documents").rglob("*") if p.is_file()] == []


class Unreadable(io.RawIOBase):
    name = "broken.pdf"

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise OSError(5, "Input/output error")


def test_an_unreadable_document_is_refused(warehouse_app, tmp_path):
    app = warehouse_app()
    store = app.plugin("warehouse").documents
    with pytest.raises(CRMError, match=r"cannot read .*missing.pdf: no such file"):
        store.attach(tmp_path / "missing.pdf", contact_id=1)
    with pytest.raises(CRMError, match=r"is not a regular file"):
        store.attach(tmp_path, contact_id=1)
    with pytest.raises(CRMError, match=r"cannot read broken.pdf: Input/output error"):
        store.attach(Unreadable(), contact_id=1)
    with pytest.raises(ValidationError, match=r"give contact_id or sale_id"):
        store.attach(io.BytesIO(b"x"), name="x.txt")
    with pytest.raises(NotFoundError, match=r"sales record 5 does not exist"):
        store.attach(io.BytesIO(b"x"), name="x.txt", sale_id=5)
    assert store.list() == []


def test_verify_detects_missing_and_altered_files_and_attaching_again_repairs(warehouse_app, tmp_path):
    app = warehouse_app()
    store = app.plugin("warehouse").documents
    a = store.attach(io.BytesIO(b"first file"), contact_id=1, name="a.txt")
    b = store.attach(io.BytesIO(b"second file"), contact_id=2, name="b.txt")
    c = store.attach(io.BytesIO(b"third file"), contact_id=2, name="c.txt")
    assert store.verify() == (3, [])
    store.path_of(a.sha256).unlink()
    store.path_of(b.sha256).write_bytes(b"tampered")
    checked, problems = store.verify()
    assert checked == 3
    assert sorted((p.sha256, p.problem.split()[0], p.documents) for p in problems) == sorted(
        [(a.sha256, "missing", (a.id,)), (b.sha256, "altered", (b.id,))]
    )
    with pytest.raises(CRMError, match="was altered on disk"):
        store.read_bytes(b.id)
    with pytest.raises(CRMError, match="is missing"):
        store.read_bytes(a.id)
    assert store.read_bytes(c.id) == b"third file"
    store.attach(io.BytesIO(b"first file"), contact_id=1, name="a.txt")  # the original, once more
    assert [p.sha256 for p in store.verify()[1]] == [b.sha256]
    store.attach(io.BytesIO(b"second file"), contact_id=2, name="b.txt")
    assert store.verify() == (3, [])
    assert store.read_bytes(b.id) == b"second file"
