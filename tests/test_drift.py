"""Schema drift: the migrated tables against the models (crm_core.drift, crm doctor, the test kit)."""

from __future__ import annotations

import peewee
import pytest

from crm_core.drift import schema_drift
from crm_core.storage import Model, UTCDateTimeField
from crm_core.testing import assert_no_schema_drift
from crm_hookspecs import hookimpl
from crm_hookspecs.records import PluginSchema

ALL = ["contacts", "surveys", "warehouse", "tasks", "analytics", "portal"]

MIGRATION = """
import peewee


def up(migrator, db):
    class Item(peewee.Model):
        name = peewee.CharField(max_length=50, index=True)
        size = peewee.IntegerField(null=True)
        old = peewee.TextField(null=True)

        class Meta:
            database = db
            table_name = "kt_item"

    db.create_tables([Item])
"""


class Item(Model):
    """The model as its author changed it, without a migration for the changes."""

    name = peewee.CharField(max_length=50, unique=True)  # the migration made a plain index
    size = peewee.TextField(null=False)  # integer and nullable in the migration
    added_at = UTCDateTimeField(null=True)  # no migration adds it
    code = peewee.CharField(max_length=10, index=True, default="")  # nor this one

    class Meta:
        table_name = "kt_item"


class Missing(Model):
    label = peewee.CharField(max_length=10)

    class Meta:
        table_name = "kt_missing"


class Drifting:
    def __init__(self, migrations):
        self.migrations = migrations

    @hookimpl
    def crm_schema(self):
        return PluginSchema(migrations=self.migrations, models=(Item, Missing))


def test_every_shipped_plugin_matches_its_migrations(crm_factory):
    """The kernel's and the six plugins' migrations build exactly the tables their models describe, on every backend."""
    app = crm_factory(plugins=ALL)
    assert schema_drift(app) == []
    assert_no_schema_drift(app)


def test_each_kind_of_drift_is_named(crm_factory, tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_initial.py").write_text(MIGRATION, encoding="utf-8")
    app = crm_factory(plugins=[("kt", Drifting(folder))])
    problems = sorted(str(d) for d in schema_drift(app))
    assert problems == sorted(
        [
            "kt: kt_item: column 'size' is integer in the database but text in the model (TextField)",
            "kt: kt_item: column 'size' accepts NULL in the database but the model says null=False",
            "kt: kt_item: column 'added_at' of the model is missing: add a migration that adds it",
            "kt: kt_item: column 'code' of the model is missing: add a migration that adds it",
            "kt: kt_item: column 'old' is in the database but not in the model: add it to the model, or drop it in a migration",
            "kt: kt_item: the index on (name) is not unique in the database but unique in the model",
            "kt: kt_item: the model's index on (code) is missing: add it in a migration",
            "kt: kt_missing: the model's table is missing: run 'crm migrate', or add a migration that creates it",
        ]
    )
    with pytest.raises(pytest.fail.Exception, match="kt: kt_missing: the model's table is missing"):
        assert_no_schema_drift(app)


@pytest.mark.sqlite_only
def test_doctor_reports_drift(crm_factory, crm_cli, tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_initial.py").write_text(MIGRATION, encoding="utf-8")
    app = crm_factory(plugins=[("kt", Drifting(folder))])
    result = crm_cli.invoke(["doctor"], app=app)
    assert "schema" in result.output and "8 difference(s) between the migrated tables and the models" in result.output
    assert result.exit_code != 0
