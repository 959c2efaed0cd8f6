"""The summary tables: the reporting tables added up per day and per month (``crm_warehouse.summaries``).

Creates ``warehouse_sales_summary``, ``warehouse_open_sales_summary``,
``warehouse_pipeline_summary``, ``warehouse_status_summary``,
``warehouse_activity_summary``, ``warehouse_survey_summary``, the
stage-change index ``warehouse_stage_change`` and the state row
``warehouse_summary_state``. The models are frozen copies of
crm_warehouse/summaries/models.py as of this migration.

A database whose reporting tables are empty has complete (empty)
summaries. One that holds data gets them marked incomplete: adding up
millions of rows is not a schema change, and it needs the app's time zone.
Until ``crm warehouse summaries --rebuild`` (or ``crm warehouse rebuild``)
has run, reports read the reporting tables themselves, and say so.
"""

from typing import Any

import peewee

TABLES = (
    "warehouse_summary_state",
    "warehouse_survey_summary",
    "warehouse_activity_summary",
    "warehouse_status_summary",
    "warehouse_pipeline_summary",
    "warehouse_stage_change",
    "warehouse_open_sales_summary",
    "warehouse_sales_summary",
)
#: the reporting tables the summaries add up: any row in them, and the new summaries start incomplete
SOURCES = ("warehouse_sales_fact", "warehouse_contact_status", "warehouse_survey_response", "warehouse_event")


def up(migrator: Any, db: peewee.Database) -> None:
    sqlite = isinstance(db, peewee.SqliteDatabase)

    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class SalesSummaryRow(Base):
        summary_key = peewee.CharField(max_length=32)
        dims = peewee.CharField(max_length=40)
        span = peewee.CharField(max_length=5)
        day = peewee.DateField()
        measure = peewee.CharField(max_length=12)
        kind = peewee.CharField(max_length=12)
        currency = peewee.CharField(max_length=3)
        outcome = peewee.CharField(max_length=4, null=True)
        region = peewee.CharField(max_length=100, null=True)
        owner = peewee.CharField(max_length=100, null=True)
        product_line = peewee.CharField(max_length=100, null=True)
        records = peewee.BigIntegerField()
        amount_e4 = peewee.BigIntegerField()

        class Meta:
            table_name = "warehouse_sales_summary"
            # clustered in the order reports read them (SQLite: without rowid; MariaDB: the primary key)
            primary_key = peewee.CompositeKey("dims", "measure", "span", "day", "summary_key")
            indexes = ((("summary_key",), True),)
            without_rowid = sqlite

    class OpenSalesSummaryRow(Base):
        summary_key = peewee.CharField(max_length=32, primary_key=True)
        stage = peewee.CharField(max_length=40)
        currency = peewee.CharField(max_length=3)
        owner = peewee.CharField(max_length=100, null=True)
        probability = peewee.FloatField()
        records = peewee.BigIntegerField()
        amount_e4 = peewee.BigIntegerField()

        class Meta:
            table_name = "warehouse_open_sales_summary"

    class StageChangeRow(Base):
        record_id = peewee.BigIntegerField()
        occurred_at = peewee.DateTimeField()
        event = peewee.BigIntegerField(column_name="event_pk")
        new_stage = peewee.CharField(max_length=200, null=True)

        class Meta:
            table_name = "warehouse_stage_change"
            primary_key = peewee.CompositeKey("record_id", "occurred_at", "event")
            without_rowid = sqlite

    class PipelineSummaryRow(Base):
        summary_key = peewee.CharField(max_length=32)
        span = peewee.CharField(max_length=5)
        day = peewee.DateField()
        measure = peewee.CharField(max_length=8)
        currency = peewee.CharField(max_length=3)
        stages = peewee.TextField()
        records = peewee.BigIntegerField()
        stay_us = peewee.BigIntegerField()

        class Meta:
            table_name = "warehouse_pipeline_summary"
            # clustered in the order reports read them (SQLite: without rowid; MariaDB: the primary key)
            primary_key = peewee.CompositeKey("span", "day", "summary_key")
            indexes = ((("summary_key",), True),)
            without_rowid = sqlite

    class StatusSummaryRow(Base):
        summary_key = peewee.CharField(max_length=32)
        dims = peewee.CharField(max_length=40)
        span = peewee.CharField(max_length=5)
        day = peewee.DateField()
        status = peewee.CharField(max_length=20, null=True)
        region = peewee.CharField(max_length=100, null=True)
        country = peewee.CharField(max_length=8, null=True)
        starts = peewee.BigIntegerField()
        ends = peewee.BigIntegerField()
        gained = peewee.BigIntegerField()
        lost = peewee.BigIntegerField()

        class Meta:
            table_name = "warehouse_status_summary"
            # clustered in the order reports read them (SQLite: without rowid; MariaDB: the primary key)
            primary_key = peewee.CompositeKey("dims", "span", "day", "summary_key")
            indexes = ((("summary_key",), True),)
            without_rowid = sqlite

    class ActivitySummaryRow(Base):
        summary_key = peewee.CharField(max_length=32)
        span = peewee.CharField(max_length=5)
        day = peewee.DateField()
        type = peewee.CharField(max_length=120)
        action = peewee.CharField(max_length=200, null=True)
        staff = peewee.CharField(max_length=200, null=True)
        records = peewee.BigIntegerField()

        class Meta:
            table_name = "warehouse_activity_summary"
            # clustered in the order reports read them (SQLite: without rowid; MariaDB: the primary key)
            primary_key = peewee.CompositeKey("span", "day", "summary_key")
            indexes = ((("summary_key",), True),)
            without_rowid = sqlite

    class SurveySummaryRow(Base):
        summary_key = peewee.CharField(max_length=32)
        span = peewee.CharField(max_length=5)
        day = peewee.DateField()
        measure = peewee.CharField(max_length=20)
        survey_id = peewee.BigIntegerField(null=True)
        region = peewee.CharField(max_length=100, null=True)
        question = peewee.CharField(max_length=100, null=True)
        score = peewee.FloatField(null=True)
        delay_days = peewee.IntegerField(null=True)
        records = peewee.BigIntegerField()

        class Meta:
            table_name = "warehouse_survey_summary"
            # clustered in the order reports read them (SQLite: without rowid; MariaDB: the primary key)
            primary_key = peewee.CompositeKey("measure", "span", "day", "summary_key")
            indexes = ((("summary_key",), True),)
            without_rowid = sqlite

    class SummaryStateRow(Base):
        name = peewee.CharField(max_length=40, primary_key=True)
        complete = peewee.BooleanField()
        timezone = peewee.CharField(max_length=64, null=True)
        rebuilt_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "warehouse_summary_state"

    db.create_tables(
        [
            SalesSummaryRow,
            OpenSalesSummaryRow,
            StageChangeRow,
            PipelineSummaryRow,
            StatusSummaryRow,
            ActivitySummaryRow,
            SurveySummaryRow,
            SummaryStateRow,
        ]
    )
    empty = all(
        db.execute_sql(f"SELECT 1 FROM {name.join(db.quote)} LIMIT 1").fetchone() is None  # type: ignore[no-untyped-call]
        for name in SOURCES
    )
    # the time zone is set by the first rebuild, or by the first write of a day from a date and time
    SummaryStateRow.insert(name="summaries", complete=empty, timezone=None, rebuilt_at=None).execute()


def down(migrator: Any, db: peewee.Database) -> None:
    for name in TABLES:
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")  # type: ignore[no-untyped-call]
