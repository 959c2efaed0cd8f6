"""Migrations: per-plugin history, dry runs, failures halfway (crm_core.schema)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.errors import MigrationError
from crm_core.storage import dialect
from crm_hookspecs import hookimpl
from crm_hookspecs.records import PluginSchema

ALPHA_ITEM = """
import peewee


def up(migrator, db):
    class Item(peewee.Model):
        name = peewee.CharField(max_length=100)

        class Meta:
            database = db
            table_name = "alpha_item"

    db.create_tables([Item])
"""

#: adds a column, creates a table, then fails: a migration that breaks halfway
ALPHA_HALFWAY = """
import peewee


def up(migrator, db):
    migrator.migrate(migrator.add_column("alpha_item", "qty", peewee.IntegerField(default=0)))

    class Extra(peewee.Model):
        label = peewee.CharField(max_length=20)

        class Meta:
            database = db
            table_name = "alpha_extra"

    db.create_tables([Extra])
    {last_line}
"""

BETA_THING = """
import peewee


def up(migrator, db):
    class Thing(peewee.Model):
        label = peewee.CharField(max_length=100)

        class Meta:
            database = db
            table_name = "beta_thing"

    db.create_tables([Thing])
"""

BETA_COLOUR = """
import peewee


def up(migrator, db):
    migrator.migrate(migrator.add_column("beta_thing", "colour", peewee.CharField(max_length=20, default="red")))
"""


class Migrating:
    """A plugin that only ships migrations."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def crm_schema(self):
        return PluginSchema(migrations=self.folder)


@pytest.fixture
def plugins(tmp_path, kit):
    alpha = kit.write_migrations(tmp_path / "alpha", {"0001_item": ALPHA_ITEM})
    beta = kit.write_migrations(tmp_path / "beta", {"0001_thing": BETA_THING})
    return [("alpha", Migrating(alpha)), ("beta", Migrating(beta))]


def columns(crm, table: str) -> list[str]:
    return sorted(c.name for c in crm.database.get_columns(table))


def history(crm, owner: str) -> list[str]:
    cursor = crm.database.execute_sql(f"SELECT name FROM {owner}_schema_migration ORDER BY name")
    return [row[0] for row in cursor.fetchall()]


def test_each_owner_keeps_its_own_history(crm_factory, plugins):
    crm = crm_factory(plugins, migrate=False)
    kernel = [s.name for s in crm.pending_migrations() if s.owner == "crm"]
    steps = crm.migrate()
    assert [(s.owner, s.name) for s in steps] == [("crm", n) for n in kernel] + [
        ("alpha", "0001_item"),
        ("beta", "0001_thing"),
    ]
    tables = set(crm.database.get_tables())
    assert {
        "crm_schema_migration",
        "alpha_schema_migration",
        "beta_schema_migration",
        "alpha_item",
        "beta_thing",
    } <= tables
    assert history(crm, "alpha") == ["0001_item"]
    assert history(crm, "beta") == ["0001_thing"]
    assert history(crm, "crm") == kernel
    assert crm.migrate() == [] and crm.pending_migrations() == []


def test_dry_run_lists_and_applies_nothing(crm_factory, plugins, crm_cli):
    crm = crm_factory(plugins, migrate=False)
    assert crm.migrate(dry_run=True) == crm.pending_migrations()
    result = crm_cli.invoke(["migrate", "--dry-run"], app=crm)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "would apply crm/0001_kernel" in lines
    assert lines[-3:] == [
        "would apply alpha/0001_item",
        "would apply beta/0001_thing",
        f"{len(crm.pending_migrations())} migration(s) pending; nothing was applied (dry run)",
    ]
    assert crm.database.get_tables() == []

    result = crm_cli.invoke(["migrate"], app=crm)
    assert "applied alpha/0001_item" in result.output.splitlines()
    assert "alpha_item" in crm.database.get_tables()
    result = crm_cli.invoke(["migrate"], app=crm)
    assert result.output.strip() == "nothing to migrate: the database is up to date"


def test_a_migration_that_fails_halfway(crm_factory, plugins, tmp_path, crm_db_url):
    crm = crm_factory(plugins)
    crm.database.execute_sql("INSERT INTO alpha_item (name) VALUES ('kept')")
    crm.database.execute_sql("INSERT INTO beta_thing (label) VALUES ('also kept')")
    halfway = tmp_path / "alpha" / "0002_qty.py"
    halfway.write_text(ALPHA_HALFWAY.format(last_line='raise RuntimeError("halfway through")'))
    (tmp_path / "beta" / "0002_colour.py").write_text(BETA_COLOUR)
    tables_before = set(crm.database.get_tables())

    with pytest.raises(MigrationError) as info:
        crm.migrate()

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("migration alpha/0002_qty failed: RuntimeError: halfway through;")
    assert "fix the migration and run 'crm migrate' again" in message
    # the failed migration is not recorded, the earlier one stays applied
    assert history(crm, "alpha") == ["0001_item"]
    # nothing else was touched: beta's pending migration did not run, the data is there
    assert history(crm, "beta") == ["0001_thing"]
    assert columns(crm, "beta_thing") == ["id", "label"]
    assert list(crm.database.execute_sql("SELECT name FROM alpha_item").fetchall()) == [("kept",)]
    assert list(crm.database.execute_sql("SELECT label FROM beta_thing").fetchall()) == [("also kept",)]

    if dialect(crm.database) == "mysql":
        # MySQL/MariaDB commit DDL at once: the statements before the failure stay,
        # and the message says so instead of promising a rollback
        assert "MySQL/MariaDB cannot roll back schema changes" in message
        assert "check the alpha tables" in message
        assert columns(crm, "alpha_item") == ["id", "name", "qty"]
        crm.database.execute_sql("ALTER TABLE alpha_item DROP COLUMN qty")
        crm.database.execute_sql("DROP TABLE alpha_extra")
    else:
        assert "it was rolled back, so the alpha tables are as they were before it" in message
        assert columns(crm, "alpha_item") == ["id", "name"]
        assert set(crm.database.get_tables()) == tables_before

    # fixed, it runs, and so does the migration that was waiting behind it
    halfway.write_text(ALPHA_HALFWAY.format(last_line="pass"))
    steps = crm.migrate()
    assert [(s.owner, s.name) for s in steps] == [("alpha", "0002_qty"), ("beta", "0002_colour")]
    assert columns(crm, "alpha_item") == ["id", "name", "qty"]
    assert columns(crm, "beta_thing") == ["colour", "id", "label"]
    assert list(crm.database.execute_sql("SELECT name, qty FROM alpha_item").fetchall()) == [("kept", 0)]


def test_a_migration_that_does_not_import(crm_factory, plugins, tmp_path):
    crm = crm_factory(plugins)
    (tmp_path / "alpha" / "0002_broken.py").write_text("def up(migrator, db)\n    pass\n")
    with pytest.raises(MigrationError) as info:
        crm.migrate()
    assert "migration alpha/0002_broken failed: SyntaxError" in str(info.value)
    assert "\n" not in str(info.value)
    assert history(crm, "alpha") == ["0001_item"]


def test_a_migration_failing_in_the_database_is_one_line(crm_factory, plugins, tmp_path):
    crm = crm_factory(plugins)
    (tmp_path / "alpha" / "0002_sql.py").write_text(
        "def up(migrator, db):\n    db.execute_sql('ALTER TABLE no_such_table ADD COLUMN x INTEGER')\n"
    )
    with pytest.raises(MigrationError) as info:
        crm.migrate()
    assert "\n" not in str(info.value)
    assert "migration alpha/0002_sql failed:" in str(info.value)


def test_a_missing_migrations_folder(crm_factory, tmp_path):
    crm = crm_factory([("ghost", Migrating(tmp_path / "nowhere"))], migrate=False)
    with pytest.raises(MigrationError, match="plugin 'ghost': its migrations folder .*nowhere does not exist"):
        crm.migrate()


def test_the_migrate_command_reports_a_failure_in_one_line(crm_factory, plugins, tmp_path, crm_cli):
    crm = crm_factory(plugins)
    (tmp_path / "alpha" / "0002_qty.py").write_text(ALPHA_HALFWAY.format(last_line="raise RuntimeError('no')"))
    result = crm_cli.invoke(["migrate"], app=crm)
    assert result.exit_code == MigrationError.exit_code
    assert result.stderr.startswith("Error: migration alpha/0002_qty failed: RuntimeError: no;")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_disabled_plugin_is_not_migrated(crm_factory, plugins):
    crm = crm_factory(plugins[:1])
    assert "beta_thing" not in crm.database.get_tables()
    assert {s.owner for s in crm_factory(plugins, migrate=False).pending_migrations()} == {"beta"}


def test_the_kernels_own_migrations_can_be_reverted(crm_factory):
    from playhouse.migrations import Migration, Runner

    from crm_core.schema import KERNEL_MIGRATIONS

    crm = crm_factory(migrate=False)
    runner = Runner(crm.database, str(KERNEL_MIGRATIONS), table_name="crm_schema_migration")
    runner.up(target="0001_kernel")
    kernel_tables = {"crm_plugin", "crm_event", "crm_event_cursor", "crm_event_failure"}
    assert kernel_tables <= set(crm.database.get_tables())
    runner.down(target="0001_kernel")
    assert not kernel_tables & set(crm.database.get_tables())

    crm.migrate()
    [lock] = [m for m in runner.migrations() if m.name == "0003_event_lock"]
    module = Migration.load(lock)
    module.down(runner.migrator, crm.database)
    assert "crm_lock" not in crm.database.get_tables()
    module.up(runner.migrator, crm.database)
    assert list(crm.database.execute_sql("SELECT name FROM crm_lock").fetchall()) == [("events",)]
