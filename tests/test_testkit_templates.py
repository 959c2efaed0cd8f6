"""The test kit's migrated templates: each test sees exactly what a fresh migrate gives.

The kit migrates a set of migrations once per backend and starts later tests
from that state (``crm_core.testdb``). These checks run an inner pytest
session whose tests follow each other on the same database, on every
configured backend (SQLite, and PostgreSQL/MariaDB when their variables are
set), so a test can look at what the previous one left.
"""

from __future__ import annotations

import importlib

import pytest

from crm_core.testing import configured_backends

pytest_plugins = ["pytester"]

for _module in ("app", "models", "events", "schema", "doctor", "cli.main", "cli.kernel", "clock", "testdb"):
    importlib.import_module(f"crm_core.{_module}")


@pytest.fixture
def inner(pytester, monkeypatch):
    """Run test source in an inner session, on every backend the outer session uses."""
    for name in ("CRM_PLUGINS", "CRM_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def run(source: str, *args: str):
        pytester.makepyfile(test_inner=source)
        return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)

    return run


def passed(tests: int) -> int:
    return tests * len(configured_backends())


#: helpers the inner sessions share
HELPERS = """
import pytest
from crm_hookspecs.events import ContactCreated


def add_contacts(crm, n):
    from crm_contacts.models import Contact

    ids = []
    with crm.transaction():
        for i in range(n):
            now = crm.clock.now()
            ids.append(Contact.create(first_name=f"c{i}", display_name=f"c{i}", name_key=f"c{i}", created_at=now, updated_at=now).id)
            crm.emit(ContactCreated(contact_id=ids[-1]))
    return ids


def rows(crm, table):
    return [tuple(r) for r in crm.database.execute_sql(f"SELECT * FROM {table.join(crm.database.quote)}").fetchall()]


def columns(crm, table):
    return sorted(c.name for c in crm.database.get_columns(table))
"""


def test_rows_of_a_previous_test_are_gone_seeded_rows_are_back_and_ids_restart(inner):
    result = inner(
        HELPERS
        + """
SEEN = {}


def test_one_writes_and_deletes_seeded_rows(crm_factory, crm_backend):
    crm = crm_factory(["contacts"])
    SEEN[crm_backend] = rows(crm, "contacts_identity")
    assert len(SEEN[crm_backend]) == 1
    assert add_contacts(crm, 3) == [1, 2, 3]
    crm.database.execute_sql("DELETE FROM " + "crm_lock".join(crm.database.quote))
    crm.database.execute_sql("DELETE FROM " + "contacts_identity".join(crm.database.quote))
    crm.database.execute_sql("DELETE FROM " + "crm_schema_migration".join(crm.database.quote))


def test_two_starts_as_after_a_fresh_migrate(crm_factory, crm_backend):
    crm = crm_factory(["contacts"])
    assert rows(crm, "contacts_contact") == []
    assert rows(crm, "crm_event") == []
    assert [r[0] for r in rows(crm, "crm_lock")] == ["events"]
    # the migration's own row (a random UUID made once per template) is back as it was
    assert rows(crm, "contacts_identity") == SEEN[crm_backend]
    assert crm.pending_migrations() == []
    assert add_contacts(crm, 2) == [1, 2]
    assert [r[0] for r in rows(crm, "crm_event")] == [1, 2]
    assert [r[0] for r in rows(crm, "crm_plugin")] == ["contacts"]


def test_three_a_smaller_set_sees_only_its_tables(crm_factory):
    crm = crm_factory([])
    assert not [t for t in crm.database.get_tables() if t.startswith("contacts_")]
    assert rows(crm, "crm_event") == []
    assert [r[0] for r in rows(crm, "crm_lock")] == ["events"]


def test_four_back_to_the_first_set(crm_factory, crm_backend):
    crm = crm_factory(["contacts"])
    # the same migrated state came back (on a server its tables waited aside), emptied again
    assert rows(crm, "contacts_identity") == SEEN[crm_backend]
    assert rows(crm, "contacts_contact") == []
    assert rows(crm, "crm_event") == []
    assert [r[0] for r in rows(crm, "crm_lock")] == ["events"]
    assert crm.pending_migrations() == []
    assert add_contacts(crm, 1) == [1]
"""
    )
    result.assert_outcomes(passed=passed(4))


def test_a_test_that_changes_the_schema_does_not_leak(inner):
    result = inner(
        HELPERS
        + """
from crm_core.testing import assert_no_schema_drift


def test_adds_a_table_and_a_column_and_drops_a_table(crm_factory):
    from playhouse.migrate import migrate as run
    import peewee

    crm = crm_factory(["contacts"])
    add_contacts(crm, 2)
    db = crm.database
    db.execute_sql("CREATE TABLE " + "kit_extra".join(db.quote) + " (id INTEGER PRIMARY KEY)")
    from playhouse.migrate import SchemaMigrator

    migrator = SchemaMigrator.from_database(db)
    with crm.activate():
        run(migrator.add_column("contacts_contact", "kit_extra_column", peewee.CharField(max_length=20, null=True)))
    db.execute_sql("DROP TABLE " + "contacts_pending_update".join(db.quote))
    assert "kit_extra" in db.get_tables()


def test_after_it_the_schema_is_the_migrated_one(crm_factory):
    crm = crm_factory(["contacts"])
    assert "kit_extra" not in crm.database.get_tables()
    assert "contacts_pending_update" in crm.database.get_tables()
    assert "kit_extra_column" not in columns(crm, "contacts_contact")
    assert_no_schema_drift(crm)
    assert rows(crm, "contacts_contact") == []
    assert add_contacts(crm, 1) == [1]


def test_only_an_index_is_dropped(crm_factory):
    crm = crm_factory(["contacts"])
    db = crm.database
    index = next(i.name for i in db.get_indexes("contacts_contact") if "name_key" in i.columns)
    if "mysql" in type(db).__name__.lower():
        db.execute_sql(f"DROP INDEX `{index}` ON `contacts_contact`")
    else:
        db.execute_sql(f'DROP INDEX "{index}"')


def test_after_it_the_index_is_back(crm_factory):
    crm = crm_factory(["contacts"])
    assert any("name_key" in i.columns for i in crm.database.get_indexes("contacts_contact"))
    assert_no_schema_drift(crm)
"""
    )
    result.assert_outcomes(passed=passed(4))


def test_tests_that_want_an_empty_database_still_get_one(inner):
    result = inner(
        HELPERS
        + """
from crm_core.app import CRM


def test_one_migrates(crm_factory):
    add_contacts(crm_factory(["contacts"]), 2)


def test_unmigrated_app_sees_no_table(crm_factory):
    crm = crm_factory(["contacts"], migrate=False)
    assert crm.database.get_tables() == []
    # migrating it is the real thing, from nothing
    assert [s.name for s in crm.migrate()][:1] == ["0001_kernel"]
    add_contacts(crm, 1)


def test_the_url_itself_is_empty(crm_db_url, crm_factory):
    app = CRM(database=crm_db_url)
    try:
        assert app.database.get_tables() == []
    finally:
        app.close()
    crm = crm_factory(["contacts"])
    assert rows(crm, "contacts_contact") == []
    assert len(rows(crm, "contacts_identity")) == 1


@pytest.mark.crm_plugins("contacts")
def test_the_url_asked_for_after_the_app_is_the_app_s(crm, crm_db_url):
    # `crm` is set up first: asking for the URL then must not empty its database
    assert "contacts_contact" in crm.database.get_tables()
    assert crm.config.core.database == crm_db_url


def test_a_second_app_in_a_test_migrates_what_is_missing(crm_factory):
    first = crm_factory([])
    second = crm_factory(["contacts"])
    assert [s.owner for s in second.pending_migrations()] == []
    with second.activate():
        assert len(rows(second, "contacts_identity")) == 1
    first.close()
"""
    )
    result.assert_outcomes(passed=passed(5))


def test_the_key_follows_the_migration_files(tmp_path, kit):
    from crm_core.app import CRM
    from crm_core.testdb import migration_key
    from crm_hookspecs import hookimpl
    from crm_hookspecs.records import PluginSchema

    folder = kit.write_migrations(tmp_path / "m", {"0001_initial": kit.ITEM_TABLE.format(prefix="probe")})

    class Probe:
        @hookimpl
        def crm_schema(self):
            return PluginSchema(migrations=folder, models=[])

    def key() -> str:
        app = CRM(database=f"sqlite:///{tmp_path / 'k.db'}", plugins=[("probe", Probe())])
        try:
            return migration_key(app)
        finally:
            app.close()

    first = key()
    assert key() == first
    (folder / "0001_initial.py").write_text(kit.ITEM_TABLE.format(prefix="probe") + "\n# changed\n", encoding="utf-8")
    assert key() != first
    kit.write_migrations(folder, {"0002_more": "def up(migrator, db):\n    pass\n"})
    changed = key()
    assert changed != first
    without = CRM(database=f"sqlite:///{tmp_path / 'k.db'}")
    try:
        assert migration_key(without) not in (first, changed)
    finally:
        without.close()


SERVERS = [b for b in configured_backends() if b != "sqlite"]


@pytest.mark.parametrize("backend", SERVERS)
def test_a_parked_set_that_another_session_dropped_is_migrated_again(backend):
    import os

    from crm_core.app import CRM
    from crm_core.testdb import TemplateStore, TestDatabase
    from crm_core.testing import BACKEND_ENV

    url = os.environ[BACKEND_ENV[backend]]
    ours, other = TemplateStore(), TemplateStore()

    def first(store, plugins):
        apps = []
        return TestDatabase(backend, url, store).first_app(
            lambda: CRM(database=url, plugins=plugins, strict=True), True, apps.append
        )

    try:
        first(ours, ["contacts"]).close()
        first(ours, []).close()  # the contacts set is moved aside
        assert other.server(url).database  # another session starts on the database: it drops what was aside
        app = first(ours, ["contacts"])
        try:
            assert "contacts_contact" in app.database.get_tables()
            assert app.pending_migrations() == []
        finally:
            app.close()
        assert ours.counts[backend, "migrated"] == 3
        app = first(ours, [])  # and the kernel's set, moved aside now, comes back
        app.close()
        assert ours.counts[backend, "template"] == 1
    finally:
        other.server(url).close(drop=False)
        ours.close()
