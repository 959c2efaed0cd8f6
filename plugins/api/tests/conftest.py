"""A small plugin made in the tests ("notes") contributes a resource; the API serves it.

Notes have an owner (a user name), so the scopes of the tokens' users show
in listings, counts and single reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import peewee
import pytest

from crm_core.errors import NotFoundError, ValidationError
from crm_core.storage import Model, UTCDateTimeField
from crm_hookspecs.records import (
    ApiOperation,
    ApiPage,
    ApiParam,
    ApiRequest,
    ApiResource,
    PermissionSpec,
    RecordTypeSpec,
)


class NoteRow(Model):
    id = peewee.AutoField()
    text = peewee.CharField(max_length=200)
    owner = peewee.CharField(max_length=150, null=True)
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "notes_note"


@attrs.frozen
class Note:
    """A note: its text and who owns it."""

    id: int
    text: str
    owner: str | None
    updated_at: dt.datetime


@attrs.frozen
class NoteInput:
    """The fields of a new note."""

    text: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 200, "pattern": "[0-9A-Za-z]"}})
    owner: str | None = None


def _note(row: NoteRow) -> Note:
    return Note(row.id, row.text, row.owner, row.updated_at)


class NotesAPI:
    """What a plugin's API object does: check, and list in scope in SQL."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm

    def _query(self) -> Any:
        return self.crm.authz.restrict(NoteRow.select(), "notes.read", NoteRow.owner, owner_is="name")

    def list(self, *, after: int = 0, limit: int = 50, text: str | None = None, descending: bool = False) -> list[Note]:
        with self.crm.activate():
            query = self._query()
            if text:
                query = query.where(NoteRow.text.contains(text))
            if descending:
                query = query.order_by(NoteRow.id.desc())
                if after:
                    query = query.where(NoteRow.id < after)
            else:
                query = query.order_by(NoteRow.id).where(NoteRow.id > after)
            return [_note(r) for r in query.limit(limit)]

    def count(self, text: str | None = None) -> int:
        with self.crm.activate():
            query = self._query()
            if text:
                query = query.where(NoteRow.text.contains(text))
            return int(query.count())

    def get(self, note_id: int) -> Note:
        with self.crm.activate():
            row = NoteRow.get_or_none(NoteRow.id == note_id)
        if row is None:
            raise NotFoundError(f"no note {note_id}")
        self.crm.authz.require("notes.read", record_owner=row.owner)
        return _note(row)

    def create(self, text: str, owner: str | None = None) -> Note:
        self.crm.authz.require("notes.create")
        if not any(ch.isalnum() for ch in text):
            raise ValidationError("a note needs some text")
        user = self.crm.current_user
        owner = owner or (user.name if user else None)
        with self.crm.transaction():
            row = NoteRow.create(text=text, owner=owner, updated_at=self.crm.clock.now())
        return _note(row)

    def update(self, note_id: int, text: str) -> Note:
        note = self.get(note_id)
        self.crm.authz.require("notes.edit", record_owner=note.owner)
        with self.crm.transaction():
            NoteRow.update(text=text, updated_at=self.crm.clock.now()).where(NoteRow.id == note_id).execute()
        return self.get(note_id)

    def delete(self, note_id: int) -> None:
        note = self.get(note_id)
        self.crm.authz.require("notes.edit", record_owner=note.owner)
        with self.crm.transaction():
            NoteRow.delete().where(NoteRow.id == note_id).execute()


def _api(crm: Any) -> NotesAPI:
    return crm.plugin("notes")


def _list(crm: Any, request: ApiRequest) -> ApiPage:
    api = _api(crm)
    descending = request.sort == "-id"
    items = api.list(
        after=request.cursor or 0, limit=request.limit, text=request.query.get("text"), descending=descending
    )
    total = api.count(request.query.get("text")) if request.count else None
    return ApiPage(items, items[-1].id if len(items) == request.limit else None, total)


def _create(crm: Any, request: ApiRequest) -> Note:
    body = request.body
    if not isinstance(body.get("text"), str):
        raise ValidationError("text must be a string")
    return _api(crm).create(body["text"], body.get("owner"))


def _patch(crm: Any, request: ApiRequest) -> Note:
    return _api(crm).update(request.path["id"], request.body["text"])


def _delete(crm: Any, request: ApiRequest) -> None:
    _api(crm).delete(request.path["id"])


NOTE_OPERATIONS = [
    ApiOperation(
        "GET",
        "/notes",
        _list,
        "notes.list",
        summary="List notes",
        returns=Note,
        paginated=True,
        filters=[ApiParam("text", "Only notes containing this text.")],
        sorts=["id"],
        permission="notes.read",
    ),
    ApiOperation(
        "POST",
        "/notes",
        _create,
        "notes.create",
        summary="Add a note",
        returns=Note,
        body=NoteInput,
        status=201,
        location="notes.get",
        permission="notes.create",
    ),
    ApiOperation(
        "GET",
        "/notes/{id:int}",
        lambda crm, request: _api(crm).get(request.path["id"]),
        "notes.get",
        summary="Read a note",
        returns=Note,
        permission="notes.read",
    ),
    ApiOperation(
        "PATCH",
        "/notes/{id:int}",
        _patch,
        "notes.update",
        summary="Change a note",
        returns=Note,
        body=NoteInput,
        etag_from="notes.get",
        permission="notes.edit",
    ),
    ApiOperation(
        "DELETE",
        "/notes/{id:int}",
        _delete,
        "notes.delete",
        summary="Delete a note",
        etag_from="notes.get",
        permission="notes.edit",
    ),
]


def notes_permissions() -> list[Any]:
    return [
        RecordTypeSpec("notes.note", "A note; its owner is the user who wrote it."),
        PermissionSpec("notes.read", "Read notes.", record_type="notes.note"),
        PermissionSpec("notes.create", "Add notes."),
        PermissionSpec("notes.edit", "Change notes.", record_type="notes.note"),
    ]


@pytest.fixture
def notes_plugin(crm_plugin):
    return crm_plugin(
        "notes",
        crm_permissions=notes_permissions,
        crm_plugin_api=lambda crm: NotesAPI(crm),
        crm_api_resources=lambda crm: [ApiResource("notes", "Notes of the test plugin.", NOTE_OPERATIONS)],
    )


class Office:
    """The app, its Flask test client and a token per user."""

    def __init__(self, crm: Any, app: Any, tokens: dict[str, str]) -> None:
        self.crm = crm
        self.app = app
        self.client = app.test_client()
        self.tokens = tokens

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}

    def get(self, path: str, user: str = "ana", **headers: str) -> Any:
        return self.client.get(path, headers=self.headers(user, **headers))

    def post(self, path: str, body: Any, user: str = "ana", **headers: str) -> Any:
        return self.client.post(path, json=body, headers=self.headers(user, **headers))

    def patch(self, path: str, body: Any, user: str = "ana", **headers: str) -> Any:
        return self.client.patch(path, json=body, headers=self.headers(user, **headers))

    def delete(self, path: str, user: str = "ana", **headers: str) -> Any:
        return self.client.delete(path, headers=self.headers(user, **headers))


@pytest.fixture
def office_factory(crm_factory, notes_plugin, crm_user):
    def make(api_settings: dict[str, Any] | None = None) -> Office:
        from crm_api import create_app

        crm = crm_factory(plugins=["api", notes_plugin], settings={"api": api_settings or {}})
        with crm.activate():
            crm.database.create_tables([NoteRow])
        crm_user(crm, name="ana", roles=["sales"], teams=["north"])
        crm_user(crm, name="bea", roles=["sales"], teams=["north"])
        crm_user(crm, name="boss", roles=["manager"])
        crm_user(crm, name="viewer", roles=["read-only"])
        crm_user(crm, name="nobody", roles=[])
        tokens = {
            name: crm.authz.tokens.create(name, f"{name}'s integration").text
            for name in ("ana", "bea", "boss", "viewer", "nobody")
        }
        tokens["ana-read"] = crm.authz.tokens.create("ana", "read only", scopes=["notes.read"]).text
        with crm.transaction():
            for i in range(1, 8):
                NoteRow.create(text=f"ana note {i}", owner="ana", updated_at=crm.clock.now())
            for i in range(1, 4):
                NoteRow.create(text=f"bea note {i}", owner="bea", updated_at=crm.clock.now())
        app = create_app(crm)
        app.testing = True
        return Office(crm, app, tokens)

    return make


@pytest.fixture
def office(office_factory):
    return office_factory()
