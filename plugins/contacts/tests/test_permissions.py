"""Every public method of ``ContactsAPI`` checks its permission, and listings carry the reader's scope in SQL.

The office: sara and sam sell (built-in ``sales``: their own contacts), sue
supports team north with sara (``support``: the team's contacts), olga may
do everything with contacts but only to her own (a configured role), nob
holds no role. Each seller owns a set of :class:`Targets`; ``nadie`` is a
contact nobody owns.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from crm_contacts.api import ContactsAPI
from crm_core.errors import PermissionDenied, ValidationError

SETTINGS = {
    "contacts": {
        "default_region": "ES",
        "self_service": {"secret": "a-test-secret-of-enough-length", "mode": "review"},
    }
}
OWN_CONTACTS_ROLE = {"name": "own-contacts", "permissions": ["contacts.*"], "scopes": {"contacts.contact": "own"}}


@attrs.define
class Targets:
    """One owner's contacts, each made for the calls that need one."""

    owner: str
    contact: int  # live, with an e-mail and an address, tagged vip, on the list "news"
    dup: int  # a second card of the same person (to merge into ``contact``)
    deleted: int  # deleted (to restore)
    delete_me: int
    erasable: int
    survivor: int  # ``merged`` was merged into it
    merged: int
    pending: int  # a queued self-service change of ``contact`` (to approve)
    refused: int  # another one (to reject)
    token: str  # an unused update link of ``contact``

    def live(self) -> set[int]:
        return {self.contact, self.dup, self.delete_me, self.erasable, self.survivor}

    def every(self) -> set[int]:
        return self.live() | {self.deleted, self.merged}


@attrs.define
class Office:
    app: Any
    api: ContactsAPI
    mine: Targets  # sara's
    other: Targets  # sam's
    olgas: Targets
    nadie: int


def _targets(api: ContactsAPI, owner: str, phone: str) -> Targets:
    first = owner.capitalize()

    def person(tag: str, **fields: Any) -> int:
        return api.create(first_name=first, last_name=f"Cliente {tag}", owner=owner, **fields).id

    contact = api.create(
        first_name=first,
        last_name="Cliente",
        email=f"{owner}@example.com",
        phone=phone,
        owner=owner,
        tags=["vip"],
        addresses=[{"street": "Calle Mayor 1", "city": "Madrid"}],
    ).id
    dup = api.create(first_name=first, last_name="Cliente", phone=phone, owner=owner).id
    deleted = person("borrado")
    api.delete(deleted)
    survivor = person("superviviente", email=f"{owner}.s@example.com")
    merged = person("fusionado", email=f"{owner}.m@example.com")
    api.merge(survivor, merged)
    api.add_to_list("news", [contact])
    queued = [api.issue_update_link(contact, ["phones"]) for _ in range(2)]
    pending, refused = (api.submit_update(link.token, {"phones": ["+34699999999"]}).pending_id for link in queued)
    assert pending is not None and refused is not None
    return Targets(
        owner=owner,
        contact=contact,
        dup=dup,
        deleted=deleted,
        delete_me=person("a borrar"),
        erasable=person("a olvidar"),
        survivor=survivor,
        merged=merged,
        pending=pending,
        refused=refused,
        token=api.issue_update_link(contact, ["emails"]).token,
    )


@pytest.fixture
def office(contacts_app: Callable[..., Any], crm_user: Callable[..., Any]) -> Office:
    app = contacts_app(settings=SETTINGS, core={"roles": [OWN_CONTACTS_ROLE]})
    crm_user(app, name="sara", roles=["sales"], teams=["north"])
    crm_user(app, name="sam", roles=["sales"], teams=["south"])
    crm_user(app, name="sue", roles=["support"], teams=["north"])
    crm_user(app, name="olga", roles=["own-contacts"])
    crm_user(app, name="nob", roles=[])
    api = app.plugin("contacts")
    api.create_list("news")
    api.create_segment("vips", {"tag": ["vip"]})
    mine, other, olgas = (_targets(api, name, f"+3461234560{n}") for n, name in enumerate(("sara", "sam", "olga")))
    nadie = api.create(first_name="Nadie", last_name="Cliente", tags=["vip"]).id
    api.add_to_list("news", [nadie])
    return Office(app, api, mine, other, olgas, nadie)


# -- the table of calls ------------------------------------------------------------

#: calls on one contact (or change, or merge) of ``t``: refused out of the user's scope
RECORD: dict[str, Callable[[ContactsAPI, Targets], Any]] = {
    "get": lambda api, t: api.get(t.contact),
    "card": lambda api, t: api.card(t.contact),
    "email_addresses": lambda api, t: api.email_addresses(t.contact),
    "lists_of": lambda api, t: api.lists_of(t.contact),
    "update": lambda api, t: api.update(t.contact, notes="called"),
    "tag": lambda api, t: api.tag([t.contact], add=["called"]),
    "delete": lambda api, t: api.delete(t.delete_me),
    "restore": lambda api, t: api.restore(t.deleted),
    "unsubscribe": lambda api, t: api.unsubscribe(t.contact, "news"),
    "resubscribe": lambda api, t: api.resubscribe(t.contact, "news"),
    "add_to_list": lambda api, t: api.add_to_list("news", [t.dup]),
    "merge": lambda api, t: api.merge(t.contact, t.dup),
    "unmerge": lambda api, t: api.unmerge(t.merged),
    "issue_update_link": lambda api, t: api.issue_update_link(t.contact),
    "revoke_update_links": lambda api, t: api.revoke_update_links(t.contact),
    "pending_update": lambda api, t: api.pending_update(t.pending),
    "approve_update": lambda api, t: api.approve_update(t.pending),
    "reject_update": lambda api, t: api.reject_update(t.refused),
    "export_personal_data": lambda api, t: api.export_personal_data(t.contact),
    "erase": lambda api, t: api.erase(t.erasable),
}


def _csv_ids(api: ContactsAPI) -> set[int]:
    out = io.StringIO()
    api.export_csv(out)
    rows = out.getvalue().splitlines()[1:]
    return {int(row.split(",", 1)[0].rsplit(":", 1)[-1]) for row in rows}


def _vcard_count(o: Office) -> int:
    return o.api.export_vcard(io.StringIO())


def _all_ids(o: Office) -> list[int]:
    return sorted(o.mine.every() | o.other.every() | o.olgas.every() | {o.nadie})


#: listings, searches, counts and exports: ``(call, what a reader who sees ``visible`` must get)``
LISTING: dict[str, tuple[Callable[[Office], Any], Callable[[Office, set[int]], Any]]] = {
    "search": (
        lambda o: (lambda p: (p.total, {c.id for c in p.cards}))(o.api.search(limit=100)),
        lambda o, seen: (len(seen & _live(o)), seen & _live(o)),
    ),
    "iter_ids": (lambda o: [i for page in o.api.iter_ids() for i in page], lambda o, seen: sorted(seen & _live(o))),
    "cards": (lambda o: [c.id for c in o.api.cards(_all_ids(o))], lambda o, seen: sorted(seen)),
    "records": (lambda o: sorted(o.api.records(_all_ids(o))), lambda o, seen: sorted(seen)),
    "export_csv": (lambda o: _csv_ids(o.api), lambda o, seen: seen & _live(o)),
    "export_vcard": (_vcard_count, lambda o, seen: len(seen & _live(o))),
    "lists": (
        lambda o: [(i.name, i.members) for i in o.api.lists()],
        lambda o, seen: [("news", len(seen & _on_news(o)))],
    ),
    "list_members": (
        lambda o: {m.contact_id for m in o.api.list_members("news")},
        lambda o, seen: seen & _on_news(o),
    ),
    "audience": (lambda o: {c.id for c in o.api.audience("vips")}, lambda o, seen: seen & _vips(o)),
    "audience_report": (
        lambda o: o.api.audience_report("news")["included"],
        lambda o, seen: len(seen & _on_news(o) - {o.nadie}),
    ),
    "import_list_members": (
        lambda o: (
            o.api.import_list_members(
                "news", [f"{t.owner}@example.com" for t in (o.mine, o.other, o.olgas)], all_or_nothing=True
            ).written
        ),
        lambda o, seen: not ({o.mine.contact, o.other.contact, o.olgas.contact} - seen),
    ),
    "find_duplicates": (
        lambda o: {(p.first_id, p.second_id) for p in o.api.find_duplicates()},
        lambda o, seen: {(t.contact, t.dup) for t in (o.mine, o.other, o.olgas) if t.contact in seen},
    ),
    "scan_duplicates": (
        lambda o: o.api.scan_duplicates().total,
        lambda o, seen: sum(t.contact in seen for t in (o.mine, o.other, o.olgas)),
    ),
    "merges": (
        lambda o: {m["merged_id"] for m in o.api.merges()},
        lambda o, seen: {t.merged for t in (o.mine, o.other, o.olgas) if t.survivor in seen},
    ),
    "pending_updates": (
        lambda o: {p.id for p in o.api.pending_updates()},
        lambda o, seen: {p for t in (o.mine, o.other, o.olgas) if t.contact in seen for p in (t.pending, t.refused)},
    ),
    "distribution_list": (
        lambda o: o.api.distribution_list("news", io.StringIO()).written,
        lambda o, seen: len(seen & _on_news(o) - {o.nadie}),
    ),
    "labels_csv": (
        lambda o: o.api.labels_csv("vips", io.StringIO()).written,
        lambda o, seen: len(seen & _vips(o) - {o.nadie}),
    ),
}


def _live(o: Office) -> set[int]:
    return o.mine.live() | o.other.live() | o.olgas.live() | {o.nadie}


def _on_news(o: Office) -> set[int]:
    return {o.mine.contact, o.other.contact, o.olgas.contact, o.nadie}


def _vips(o: Office) -> set[int]:
    return {o.mine.contact, o.other.contact, o.olgas.contact}


#: calls that need a permission but act on no one contact
OTHER: dict[str, Callable[[Office, Any], Any]] = {
    "create": lambda o, tmp: o.api.create(first_name="Nueva", last_name="Persona"),
    "create_list": lambda o, tmp: o.api.create_list("otra"),
    "delete_list": lambda o, tmp: o.api.delete_list("otra"),
    "remove_from_list": lambda o, tmp: o.api.remove_from_list("news", []),
    "create_segment": lambda o, tmp: o.api.create_segment("madrid", {"city": "Madrid"}),
    "segment": lambda o, tmp: o.api.segment("vips"),
    "segments": lambda o, tmp: o.api.segments(),
    "delete_segment": lambda o, tmp: o.api.delete_segment("madrid"),
    "labels_pdf": lambda o, tmp: o.api.labels_pdf("vips", tmp / "labels.pdf"),
    "import_csv": lambda o, tmp: o.api.import_csv(io.StringIO("first_name,last_name\nIma,Portada\n")),
    "import_vcard": lambda o, tmp: o.api.import_vcard(_vcard_file(tmp)),
    "submit_import": lambda o, tmp: o.api.submit_import(b"first_name,last_name\nIma,Cola\n", name="a.csv", fmt="csv"),
    "run_imports": lambda o, tmp: o.api.run_imports(),
    "hold_import": lambda o, tmp: o.api.hold_import(b"first_name,last_name\nIma,Retenida\n", name="h.csv", fmt="csv"),
    "held_import": lambda o, tmp: o.api.held_import(_held(o)),
    "change_held_import": lambda o, tmp: o.api.change_held_import(_held(o), {"match_on": ["email"]}),
    "submit_held_import": lambda o, tmp: o.api.submit_held_import(_held(o), dry_run=True),
    "release_held_import": lambda o, tmp: o.api.release_held_import(_held(o)),
}


def _held(o: Office) -> int:
    """A file held for the acting user, made through the service (which checks nothing): the call then checks."""
    from crm_contacts.imports import Imports

    user = o.app.current_user
    data = b"first_name,last_name\nIma,Retenida\n"
    return Imports(o.app).hold(data, name="h.csv", fmt="csv", options={}, user=user.name if user else None).id


#: names, not rows: a report asks for them before it checks the sources' permissions
OPEN = {"reporting_tables"}
#: a user's own queued imports: anyone sees theirs (and only theirs), so no permission is asked
OPEN |= {"import_run", "import_runs", "import_problems"}

#: the customer's calls: the signed link is the permission, whoever runs them
TOKEN: dict[str, Callable[[ContactsAPI, Targets], Any]] = {
    "inspect_update_token": lambda api, t: api.inspect_update_token(t.token),
    "preview_update": lambda api, t: api.preview_update(t.token, {"emails": ["nuevo@example.com"]}),
    "submit_update": lambda api, t: api.submit_update(t.token, {"emails": ["nuevo@example.com"]}),
}


def _vcard_file(tmp: Any) -> Any:
    path = tmp / "one.vcf"
    path.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Tarjeta;Vera;;;\r\nFN:Vera Tarjeta\r\nEND:VCARD\r\n")
    return path


def test_every_public_method_is_in_the_table():
    public = {name for name, _ in inspect.getmembers(ContactsAPI, inspect.isfunction) if not name.startswith("_")}
    tabled = set(RECORD) | set(LISTING) | set(OTHER) | set(TOKEN) | OPEN
    assert public - tabled == set(), "add the new methods to a table of calls in this file"
    assert tabled - public == set()


# -- (2) a user with no role ------------------------------------------------------


def test_a_user_with_no_role_may_call_nothing(office, tmp_path):
    o = office
    with o.app.as_user("nob"):
        for record_call in RECORD.values():
            with pytest.raises(PermissionDenied, match="'nob' may not contacts"):
                record_call(o.api, o.other)
        for listing, _ in LISTING.values():
            with pytest.raises(PermissionDenied, match="'nob' may not contacts"):
                listing(o)
        for other_call in OTHER.values():
            with pytest.raises(PermissionDenied, match="'nob' may not contacts"):
                other_call(o, tmp_path)
        # table names are open; the customer's link needs no staff permission
        assert o.api.reporting_tables() == {"contacts": "contacts_contact"}
        assert o.api.inspect_update_token(o.other.token).contact_id == o.other.contact
        assert o.api.submit_update(o.other.token, {"emails": ["sam.nuevo@example.com"]}).status == "pending"


# -- (3) sellers on another seller's contacts ---------------------------------------


@pytest.mark.parametrize("user", ["sara", "olga"])
def test_a_seller_may_not_touch_another_sellers_contact(office, user):
    o = office
    with o.app.as_user(user):
        for name, call in RECORD.items():
            with pytest.raises(PermissionDenied, match=f"'{user}' may not contacts") as denied:
                call(o.api, o.other)
            if user == "olga":  # she holds every contacts permission: the scope refuses
                assert "owned by 'sam'" in str(denied.value), name


def test_an_out_of_scope_card_is_denied_not_missing(office):
    o = office
    with o.app.as_user("sara"), pytest.raises(PermissionDenied, match="owned by 'sam'"):
        o.api.card(o.other.contact)
    with o.app.as_user("sara"), pytest.raises(PermissionDenied, match="owned by nobody"):
        o.api.card(o.nadie)


def test_the_own_scope_may_do_everything_to_her_own_contacts(office):
    o = office
    with o.app.as_user("olga"):
        for call in RECORD.values():
            call(o.api, o.olgas)
    assert o.api.get(o.olgas.erasable).erased_at is not None
    assert o.api.get(o.olgas.contact).notes == "called"


@pytest.mark.parametrize("name", sorted(LISTING))
def test_listings_hold_exactly_the_users_contacts(office, name):
    o = office
    listing, expected = LISTING[name]
    user, seen = ("olga", o.olgas.every())
    if name not in ("distribution_list", "labels_csv", "find_duplicates", "scan_duplicates", "pending_updates"):
        with o.app.as_user("sara"):
            assert listing(o) == expected(o, o.mine.every()), f"{name} as sara"
    with o.app.as_user(user):
        assert listing(o) == expected(o, seen), f"{name} as {user}"


def test_a_sellers_list_and_search_pages_and_counts_are_right(office):
    o = office
    with o.app.as_user("sara"):
        page = o.api.search(limit=2, offset=0)
        assert page.total == len(o.mine.live()) and len(page.cards) == 2
        rest = o.api.search(limit=2, offset=4)
        assert rest.total == len(o.mine.live()) and len(rest.cards) == 1
        assert o.api.search(email="sam@example.com").total == 0
        assert o.api.search("Sam").total == 0
        assert [i for i in o.api.lists() if i.name == "news"][0].members == 1
        assert o.api.cards([o.other.contact, o.mine.contact]) == [o.api.card(o.mine.contact)]
        # a member out of scope is refused, and nothing is added
        with pytest.raises(PermissionDenied, match="owned by 'sam'"):
            o.api.add_to_list("news", [o.mine.dup, o.other.dup])
    assert o.mine.dup not in {m.contact_id for m in o.api.list_members("news")}


# -- (4) the support team ------------------------------------------------------------


def test_support_sees_the_contacts_of_their_team(office):
    o = office
    with o.app.as_user("sue"):
        assert o.api.search(limit=100).total == len(o.mine.live())
        assert o.api.card(o.mine.contact).owner == "sara"
        assert o.api.update(o.mine.contact, notes="from support").notes == "from support"
        with pytest.raises(PermissionDenied, match="owned by 'sam'"):
            o.api.card(o.other.contact)
        assert [c.id for c in o.api.cards(_all_ids(o))] == sorted(o.mine.every())
        # support adds contacts (owned by sue) but deletes none
        added = o.api.create(first_name="Soporte", last_name="Nuevo")
        assert added.owner == "sue"
        with pytest.raises(PermissionDenied, match="may not contacts.delete"):
            o.api.delete(o.mine.delete_me)


# -- (5) the system -------------------------------------------------------------------


def test_the_system_does_everything(office, tmp_path):
    o = office
    seen = o.mine.every() | o.other.every() | o.olgas.every() | {o.nadie}
    for name, (listing, expected) in LISTING.items():
        if name == "import_list_members":
            assert listing(o) is True
        else:
            assert listing(o) == expected(o, seen), name
    for token_call in TOKEN.values():  # before revoke_update_links withdraws the link
        token_call(o.api, o.other)
    for call in RECORD.values():
        call(o.api, o.other)
    for other_call in OTHER.values():
        other_call(o, tmp_path)
    assert o.api.get(o.other.erasable).erased_at is not None


# -- owners ----------------------------------------------------------------------------


def test_owners_are_users_once_users_exist(office):
    o = office
    with o.app.as_user("sara"):
        mine = o.api.create(first_name="Sin", last_name="Dueño")
        given = o.api.create(first_name="Con", last_name="Dueño", owner="SAM")
    assert (mine.owner, given.owner) == ("sara", "sam")
    with pytest.raises(ValidationError, match="owner 'pepe' is not a CRM user.*crm users add pepe"):
        o.api.create(first_name="Mal", last_name="Dueño", owner="pepe")
    with pytest.raises(ValidationError, match="owner 'pepe'"):
        o.api.update(mine.id, owner="pepe")
    report = o.api.import_csv(io.StringIO("first_name,last_name,owner\nUno,Bien,Sara\nDos,Mal,pepe\n"))
    assert report.created == 1 and [(e.line, e.field) for e in report.errors] == [(3, "owner")]
    assert o.api.search("Uno Bien").cards[0].owner == "sara"


def test_an_import_by_a_user_owns_what_it_adds(office):
    o = office
    with o.app.as_user("olga"):
        report = o.api.import_csv(io.StringIO("first_name,last_name,email\nIsa,Importada,isa@example.com\n"))
        assert report.created == 1
        assert o.api.search(email="isa@example.com").cards[0].owner == "olga"


def test_before_any_user_exists_the_owner_is_free_text(contacts_app):
    app = contacts_app(settings=SETTINGS)
    record = app.plugin("contacts").create(first_name="Libre", last_name="Texto", owner="María (ventas)")
    assert record.owner == "María (ventas)"


def test_events_name_the_acting_user(contacts_app, crm_user, crm_recorder):
    app = contacts_app(("recorder", crm_recorder), settings=SETTINGS)
    crm_user(app, name="sara", roles=["sales"])
    api = app.plugin("contacts")
    with app.as_user("sara"):
        contact = api.create(first_name="Eva", last_name="Evento")
        api.update(contact.id, notes="hola")
    api.update(contact.id, notes="adiós", actor="script")
    assert [(e.type_name, e.actor) for e in crm_recorder.events if e.type_name.startswith("Contact")] == [
        ("ContactCreated", "sara"),
        ("ContactChanged", "sara"),
        ("ContactChanged", "script"),
    ]


# -- the CLI ---------------------------------------------------------------------------


def test_the_cli_refuses_in_one_line_with_exit_code_6(office, crm_cli):
    o = office
    denied = crm_cli.invoke(["--as", "sara", "contacts", "show", str(o.other.contact)], app=o.app)
    assert denied.exit_code == 6, denied.output
    assert "user 'sara' may not contacts.read this contacts.contact record (owned by 'sam')" in denied.output
    assert "Traceback" not in denied.output and len(denied.output.strip().splitlines()) == 1
    erased = crm_cli.invoke(["--as", "nob", "contacts", "list"], app=o.app)
    assert erased.exit_code == 6 and "'nob' may not contacts.read" in erased.output
    listed = crm_cli.invoke(["--as", "sara", "contacts", "list", "--format", "csv"], app=o.app)
    assert listed.exit_code == 0
    assert len(listed.output.strip().splitlines()) == 1 + len(o.mine.live())
    assert "sam" not in listed.output


def test_cli_changes_are_the_acting_users(contacts_app, crm_user, crm_recorder, crm_cli):
    app = contacts_app(("recorder", crm_recorder), settings=SETTINGS)
    crm_user(app, name="sara", roles=["sales"])
    added = crm_cli.invoke(["--as", "SARA", "contacts", "add", "--first-name", "Cli", "--last-name", "Ente"], app=app)
    assert added.exit_code == 0, added.output
    contact = app.plugin("contacts").search("Cli Ente").cards[0]
    assert contact.owner == "sara"
    # with no user acting, $CRM_USER is still the recorded actor, with a deprecation note
    edited = crm_cli.invoke(["contacts", "edit", str(contact.id), "--notes", "x"], app=app, env={"CRM_USER": "old"})
    assert edited.exit_code == 0 and "$CRM_USER is deprecated" in edited.output
    assert [(e.type_name, e.actor) for e in crm_recorder.events if e.type_name.startswith("Contact")] == [
        ("ContactCreated", "sara"),
        ("ContactChanged", "old"),
    ]


def test_a_scoped_export_shows_nothing_of_other_contacts(office):
    o = office
    o.api.update(o.other.contact, custom={"secreto": "x"}, phones=["+34611111111", "+34622222222", "+34633333333"])
    with o.app.as_user("sara"):
        out = io.StringIO()
        assert o.api.export_csv(out) == len(o.mine.live())
    header = out.getvalue().splitlines()[0].split(",")
    assert "custom.secreto" not in header and "phone_2" not in header
    assert "sam" not in out.getvalue() and "+3461234560" + "1" not in out.getvalue()
    everything = io.StringIO()
    o.api.export_csv(everything)
    assert {"custom.secreto", "phone_3"} <= set(everything.getvalue().splitlines()[0].split(","))
