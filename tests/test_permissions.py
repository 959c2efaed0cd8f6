"""Roles, permissions and scopes: the ``crm_permissions`` hook, ``require`` and the SQL scope filter.

A small plugin made in the test ("notes") declares two permissions and an
owned record type, keeps notes in a table with an owner column, and lists
them filtered by the acting user's scope in SQL.
"""

from __future__ import annotations

import logging

import peewee
import pytest

from crm_core.errors import ConfigError, PermissionDenied, PluginError, ValidationError
from crm_core.storage import Model
from crm_hookspecs.records import PermissionSpec, RecordTypeSpec


class Note(Model):
    id = peewee.AutoField()
    text = peewee.CharField()
    owner_id = peewee.IntegerField(null=True)
    team_id = peewee.IntegerField(null=True)

    class Meta:
        table_name = "notes_note"


def notes_permissions():
    return [
        RecordTypeSpec("notes.note", "A note; its owner is the user who wrote it."),
        PermissionSpec("notes.read", "Read notes.", record_type="notes.note"),
        PermissionSpec("notes.edit", "Change notes.", record_type="notes.note"),
        PermissionSpec("notes.settings", "Change the notes settings."),
    ]


class NotesAPI:
    """What a plugin's API object does: check, then list in scope, in SQL."""

    def __init__(self, crm):
        self.crm = crm

    def query(self):
        return self.crm.authz.restrict(Note.select(), "notes.read", Note.owner_id, Note.team_id)

    def count(self) -> int:
        with self.crm.activate():
            return self.query().count()

    def texts(self) -> list[str]:
        with self.crm.activate():
            return sorted(n.text for n in self.query())

    def edit(self, note_id: int, text: str) -> None:
        with self.crm.transaction():
            note = Note.get_by_id(note_id)
            self.crm.authz.require("notes.edit", record_owner=note.owner_id, record_team=note.team_id)
            Note.update(text=text).where(Note.id == note_id).execute()


@pytest.fixture
def notes_plugin(crm_plugin):
    return crm_plugin("notes", crm_permissions=notes_permissions, crm_plugin_api=lambda crm: NotesAPI(crm))


@pytest.fixture
def app(crm_factory, notes_plugin):
    def make(roles=()):
        crm = crm_factory(plugins=[notes_plugin], core={"roles": list(roles)})
        with crm.activate():
            crm.database.create_tables([Note])
        return crm

    return make


@pytest.fixture
def office(app, crm_user):
    """Ana and Bea in team north, Carl in team south, Dan in no team; two notes each, one unowned note."""
    crm = app(
        roles=[
            {"name": "own-notes", "permissions": ["notes.read", "notes.edit"], "scopes": {"notes.note": "own"}},
            {"name": "team-notes", "permissions": ["notes.*"], "scopes": {"notes.note": "team"}},
            {"name": "all-notes", "permissions": ["notes.read"], "scopes": {"*": "all"}},
        ]
    )
    people = {
        "ana": crm_user(crm, name="ana", roles=["own-notes"], teams=["north"]),
        "bea": crm_user(crm, name="bea", roles=["team-notes"], teams=["north"]),
        "carl": crm_user(crm, name="carl", roles=["all-notes"], teams=["south"]),
        "dan": crm_user(crm, name="dan", roles=["team-notes"]),
        "eve": crm_user(crm, name="eve", roles=[]),
    }
    with crm.transaction():
        for name in ("ana", "bea", "carl", "dan"):
            Note.insert_many([{"text": f"{name}-{i}", "owner_id": people[name].id} for i in (1, 2)]).execute()
        Note.create(text="orphan", owner_id=None)
        Note.create(text="south-board", owner_id=None, team_id=people["carl"].team_ids[0])
    return crm, people


def test_the_hook_declares_permissions_and_record_types(app):
    crm = app()
    declared = crm.authz.declared
    assert declared.permissions["notes.edit"].record_type == "notes.note"
    assert "notes.note" in declared.record_types and declared.owners["notes.read"] == "notes"
    assert {"admin.users", "admin.roles", "admin.tokens", "admin.audit", "admin.system"} <= set(declared.permissions)


def test_scope_filters_listings_in_sql_with_right_counts(office):
    crm, people = office
    api = crm.plugin("notes")
    assert api.count() == 10  # the system sees every note
    with crm.as_user("ana"):  # own
        assert api.texts() == ["ana-1", "ana-2"] and api.count() == 2
    with crm.as_user("bea"):  # team north: ana's and bea's notes
        assert api.texts() == ["ana-1", "ana-2", "bea-1", "bea-2"] and api.count() == 4
    with crm.as_user("dan"):  # team scope but in no team: own only
        assert api.texts() == ["dan-1", "dan-2"]
    with crm.as_user("carl"):  # all
        assert api.count() == 10
    with crm.as_user("eve"), pytest.raises(PermissionDenied, match="'eve' may not notes.read"):
        api.count()


def test_team_scope_includes_records_of_the_users_team(office, crm_user):
    crm, people = office
    helper = crm_user(crm, name="sam", roles=["team-notes"], teams=["south"])
    with crm.as_user(helper):
        assert crm.plugin("notes").texts() == ["carl-1", "carl-2", "south-board"]


def test_owner_columns_holding_user_names(office):
    """Plugins whose records name their owner (``owner = "ana"``) filter and check the same way."""
    crm, people = office
    with crm.activate():
        rows = [(n.id, people_name) for n in Note.select() for people_name in [_owner_name(n, people)]]

    def texts():
        query = crm.authz.restrict(NamedNote.select(), "notes.read", NamedNote.owner_name, owner_is="name")
        with crm.activate():
            return sorted(n.text for n in query)

    with crm.activate():
        crm.database.execute_sql("ALTER TABLE notes_note ADD COLUMN owner_name VARCHAR(150)")
        for note_id, name in rows:
            NamedNote.update(owner_name=name).where(NamedNote.id == note_id).execute()
    with crm.as_user("ana"):
        assert texts() == ["ana-1", "ana-2"]
        crm.authz.require("notes.edit", record_owner="ana")
        with pytest.raises(PermissionDenied, match="owned by 'bea'"):
            crm.authz.require("notes.edit", record_owner="bea")
    with crm.as_user("bea"):
        assert texts() == ["ana-1", "ana-2", "bea-1", "bea-2"]
        crm.authz.require("notes.edit", record_owner="ana")
        with pytest.raises(PermissionDenied):
            crm.authz.require("notes.edit", record_owner="carl")
    with crm.as_user("carl"):
        assert len(texts()) == 10
    with pytest.raises(ValueError, match="owner_is"):
        with crm.as_user("ana"):
            crm.authz.where("notes.read", Note.owner_id, owner_is="email")


def _owner_name(note, people):
    return next((name for name, user in people.items() if user.id == note.owner_id), None)


class NamedNote(Note):
    owner_name = peewee.CharField(max_length=150, null=True)

    class Meta:
        table_name = "notes_note"


def test_the_filter_is_one_query_with_a_subquery(office):
    crm, _ = office
    with crm.as_user("bea"):
        sql, _params = crm.plugin("notes").query().sql()
    assert "crm_user_team" in sql and sql.upper().count("SELECT") == 2


def test_require_checks_permission_and_record_scope(office):
    crm, people = office
    api = crm.plugin("notes")
    with crm.activate():
        ids = {n.text: n.id for n in Note.select()}
    with crm.as_user("ana"):
        api.edit(ids["ana-1"], "mine")
        with pytest.raises(PermissionDenied) as denied:
            api.edit(ids["bea-1"], "hers")
        assert "owned by 'bea'" in str(denied.value) and "scope for notes.note is 'own'" in str(denied.value)
        assert denied.value.http_status == 403 and denied.value.code == "permission_denied"
        assert not crm.authz.can("notes.settings")
    with crm.as_user("bea"):
        api.edit(ids["ana-2"], "team mate's")
        with pytest.raises(PermissionDenied):
            api.edit(ids["carl-1"], "other team")
        with pytest.raises(PermissionDenied, match="owned by nobody"):
            api.edit(ids["orphan"], "nobody's")
    with crm.as_user("carl"), pytest.raises(PermissionDenied, match="may not notes.edit"):
        api.edit(ids["carl-1"], "read only")
    with crm.activate():
        assert Note.get_by_id(ids["bea-1"]).text == "bea-1" and Note.get_by_id(ids["ana-2"]).text == "team mate's"


def test_the_system_passes_every_check(office):
    crm, _ = office
    assert crm.current_user is None
    crm.authz.require("notes.settings")
    assert crm.authz.scope("notes.edit") == "all"


def test_checking_an_undeclared_permission_is_the_plugins_bug(app):
    crm = app()
    with pytest.raises(PluginError, match="'notes.delete' is checked but not declared"):
        crm.authz.require("notes.delete")


def test_as_user_is_per_app_and_restored(office, crm_factory):
    crm, people = office
    other = crm_factory()
    with crm.as_user("ana") as ana:
        assert crm.current_user == ana and other.current_user is None
        with crm.as_user("bea"):
            assert crm.current_user.name == "bea"
        assert crm.current_user.name == "ana"
    assert crm.current_user is None


def test_a_disabled_user_cannot_act(office):
    crm, _ = office
    crm.authz.users.disable("ana")
    from crm_core.errors import UserDisabledError

    with pytest.raises(UserDisabledError, match="'ana' is disabled"):
        with crm.as_user("ana"):
            pass


def test_builtin_roles(office, crm_user):
    crm, _ = office
    reader = crm_user(crm, roles=["read-only"])
    grants = crm.authz.grants_for(reader)
    assert grants == {"notes.read": "all"}
    manager = crm_user(crm, roles=["manager"])
    assert "admin.users" not in crm.authz.grants_for(manager) and crm.authz.grants_for(manager)["notes.edit"] == "all"
    seller = crm_user(crm, roles=["sales"])
    assert crm.authz.grants_for(seller) == {"notes.read": "own", "notes.edit": "own"}
    admin = crm_user(crm, roles=["admin"])
    assert set(crm.authz.grants_for(admin)) == set(crm.authz.declared.permissions)


def test_the_widest_scope_of_the_roles_granting_a_permission_wins(office, crm_user):
    crm, _ = office
    both = crm_user(crm, roles=["own-notes", "all-notes"])
    assert crm.authz.grants_for(both) == {"notes.read": "all", "notes.edit": "own"}


# -- roles in the configuration ------------------------------------------------


def test_an_unknown_permission_in_config_is_an_error_naming_it(app):
    with pytest.raises(
        ConfigError, match=r"crm.roles\[0\] \('bad'\): unknown permission 'notes.raed'.*did you mean 'notes.read'"
    ):
        app(roles=[{"name": "bad", "permissions": ["notes.raed"]}]).authz
    with pytest.raises(ConfigError, match="no installed plugin is named 'nots'"):
        app(roles=[{"name": "bad", "permissions": ["nots.read"]}]).authz
    with pytest.raises(ConfigError, match="unknown record type 'notes.notes'"):
        app(roles=[{"name": "bad", "permissions": ["notes.read"], "scopes": {"notes.notes": "all"}}]).authz


def test_a_permission_of_an_installed_but_disabled_plugin_is_a_warning(app, caplog):
    caplog.set_level(logging.WARNING, logger="crm")
    crm = app(roles=[{"name": "tasker", "permissions": ["tasks.read", "notes.read"], "scopes": {"nothing.*": "all"}}])
    warnings = crm.authz.warnings
    assert any("'tasks.read' belongs to plugin 'tasks', which is installed but not enabled" in w for w in warnings)
    assert any("record type pattern 'nothing.*' matches no declared record type" in w for w in warnings)
    assert "tasks.read" in caplog.text


def test_bad_role_tables_are_config_errors(crm_factory):
    with pytest.raises(ConfigError, match="'admin' is a built-in role"):
        crm_factory(core={"roles": [{"name": "admin"}]})
    with pytest.raises(ConfigError, match="defined twice"):
        crm_factory(core={"roles": [{"name": "x"}, {"name": "x"}]})
    with pytest.raises(ConfigError, match="must be 'own', 'team' or 'all', not 'mine'"):
        crm_factory(core={"roles": [{"name": "x", "scopes": {"a.b": "mine"}}]})


def test_an_unknown_role_is_refused(office):
    crm, _ = office
    with pytest.raises(ValidationError, match="unknown role 'salse'; the roles are: admin, all-notes"):
        crm.authz.users.add("zed", roles=["salse"])


def test_a_plugin_declaring_bad_names_is_a_plugin_error(crm_factory, crm_plugin):
    bad = crm_plugin("bad", crm_permissions=lambda: [PermissionSpec("other.read")])
    with pytest.raises(PluginError, match="its names must start with 'bad.'"):
        crm_factory(plugins=[bad]).authz
    wrong = crm_plugin("wrong", crm_permissions=lambda: PermissionSpec("wrong.read"))
    with pytest.raises(PluginError, match="must return a list"):
        crm_factory(plugins=[wrong]).authz
    typeless = crm_plugin(
        "typeless", crm_permissions=lambda: [PermissionSpec("typeless.read", record_type="typeless.thing")]
    )
    with pytest.raises(PluginError, match="names record type 'typeless.thing', which the plugin does not declare"):
        crm_factory(plugins=[typeless]).authz
    with pytest.raises(ValueError, match="lower-case dotted words"):
        PermissionSpec("Read")


# -- roles made with the CLI's service -----------------------------------------


def test_stored_roles_grant_and_are_validated(office, crm_user):
    crm, _ = office
    roles = crm.authz.roles
    assert roles.add("note-reader", permissions=["notes.read"], scopes={"notes.note": "team"}) == []
    user = crm_user(crm, roles=["note-reader"], teams=["north"])
    with crm.as_user(user):
        assert crm.plugin("notes").count() == 4
    roles.edit("note-reader", scopes={"notes.note": "all"})
    with crm.as_user(user):
        assert crm.plugin("notes").count() == 10
    with pytest.raises(ValidationError, match="unknown permission 'notes.eddit'"):
        roles.edit("note-reader", grant=["notes.eddit"])
    with pytest.raises(ValidationError, match="is held by"):
        roles.remove("note-reader")
    with pytest.raises(ValidationError, match="is built in"):
        roles.edit("sales", grant=["notes.read"])
    with pytest.raises(ValidationError, match="is defined in"):
        roles.add("own-notes")
    actions = [e["action"] for e in crm.authz.audit.entries(action="role.")]
    assert actions == ["role.changed", "role.added"]


def test_a_stored_role_changed_counts_at_the_next_check(office, crm_user):
    """What a user's roles grant is kept by the roles' contents: a changed role is matched anew."""
    crm, _ = office
    crm.authz.roles.add("note-reader", permissions=["notes.read"], scopes={"notes.note": "all"})
    user = crm_user(crm, roles=["note-reader"])
    with crm.as_user(user):
        assert crm.plugin("notes").count() == 10
    crm.authz.roles.edit("note-reader", revoke=["notes.read"], grant=["notes.edit"])
    with crm.as_user(user), pytest.raises(PermissionDenied, match="notes.read"):
        crm.plugin("notes").count()
    with crm.as_user(user):
        assert crm.authz.scope("notes.edit") == "all" and crm.authz.scope("notes.read") is None


def test_changing_roles_needs_admin_roles(office, crm_user):
    crm, _ = office
    clerk = crm_user(crm, roles=["manager"])
    with crm.as_user(clerk), pytest.raises(PermissionDenied, match="admin.roles"):
        crm.authz.roles.add("x", permissions=["notes.read"])


def test_a_role_taken_out_of_the_config_grants_nothing_but_does_not_lock_the_user_out(
    crm_factory, notes_plugin, crm_db_url, crm_user
):
    roles = [{"name": "all-notes", "permissions": ["notes.read"], "scopes": {"*": "all"}}]
    first = crm_factory(plugins=[notes_plugin], core={"roles": roles})
    crm_user(first, name="ana", roles=["all-notes", "sales"])
    with first.as_user("ana"):
        assert first.authz.scope("notes.read") == "all"
    first.close()
    later = crm_factory(plugins=[notes_plugin], database=crm_db_url, migrate=False)
    with later.as_user("ana"):
        assert later.authz.scope("notes.read") == "own"  # only sales is left
