"""The summary tables: the reporting tables added up per day and per month, kept current on every write.

Each row adds up the rows of a reporting table that share its key: a
``span`` (``day`` or ``month``), a ``day`` (the day, or the first day of the
month, in the app's time zone) and the row's other key columns; the
measures are whole numbers (amounts in ten-thousandths), so adding and
subtracting them is exact on every database. ``summary_key`` is a hash of
the whole key (NULLs included), the one unique column that an upsert can
name on SQLite, PostgreSQL and MariaDB alike. A key whose measures all come
back to 0 is deleted. Each table's primary key starts with the columns
reports select by (``dims``, ``measure``, ``span``, ``day``), so the rows of
a range are stored together. The columns are documented in
``docs/plugins/warehouse.md`` ("Summary tables").
"""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = [
    "STATE",
    "ActivitySummaryRow",
    "OpenSalesSummaryRow",
    "PipelineSummaryRow",
    "SUMMARY_MODELS",
    "SalesSummaryRow",
    "StageChangeRow",
    "StatusSummaryRow",
    "SummaryStateRow",
    "SurveySummaryRow",
]


class SalesSummaryRow(Model):
    """``warehouse_sales_fact`` added up per day or month, per ``measure``.

    ``measure`` is ``created`` (on ``created_on``; ``outcome`` NULL), ``closed``
    (on ``closed_on``, by ``outcome``) or ``left_adjust`` (a record closed
    before it was created: -1 on its ``closed_on``, +1 on its ``created_on``,
    so that ``closed`` plus ``left_adjust`` count records on the day they left
    the pipeline). ``dims`` names the columns among ``region``, ``owner`` and
    ``product_line`` this row keeps (the others are NULL, added up); ``kind``
    and ``currency`` are always kept.
    """

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
    #: the amounts' sum in ten-thousandths of the currency (exact: whole numbers)
    amount_e4 = peewee.BigIntegerField()

    class Meta:
        table_name = "warehouse_sales_summary"
        primary_key = peewee.CompositeKey("dims", "measure", "span", "day", "summary_key")
        indexes = ((("summary_key",), True),)


class OpenSalesSummaryRow(Model):
    """The open sales records (``outcome = 'open'``) now, per stage, currency, owner and stored probability."""

    summary_key = peewee.CharField(max_length=32, primary_key=True)
    stage = peewee.CharField(max_length=40)
    currency = peewee.CharField(max_length=3)
    owner = peewee.CharField(max_length=100, null=True)
    probability = peewee.FloatField()
    records = peewee.BigIntegerField()
    amount_e4 = peewee.BigIntegerField()

    class Meta:
        table_name = "warehouse_open_sales_summary"


class StageChangeRow(Model):
    """One stored ``StageChanged`` event by its record: a record's moves, in order, from one index."""

    record_id = peewee.BigIntegerField()
    occurred_at = UTCDateTimeField()
    event = peewee.BigIntegerField(column_name="event_pk")
    new_stage = peewee.CharField(max_length=200, null=True)

    class Meta:
        table_name = "warehouse_stage_change"
        primary_key = peewee.CompositeKey("record_id", "occurred_at", "event")


class PipelineSummaryRow(Model):
    """The sales records' moves through the pipeline, per the day each record was created (``created_on``).

    ``measure`` ``path``: records by the set of stages their ``StageChanged``
    events entered (``stages``, a JSON list sorted by name); ``stay``: the
    stays in stage ``stages`` that ended (``records`` of them, ``stay_us``
    their total length in microseconds).
    """

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
        primary_key = peewee.CompositeKey("span", "day", "summary_key")
        indexes = ((("summary_key",), True),)


class StatusSummaryRow(Model):
    """``warehouse_contact_status``'s intervals of contacts not deleted, per day or month.

    ``starts`` and ``ends``: intervals that start and end on the day (in the
    app's time zone); ``gained``: customer intervals that start without
    continuing a customer interval; ``lost``: customer intervals that end
    without a customer interval continuing them. ``dims`` names the columns
    among ``region`` and ``country`` this row keeps.
    """

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
        primary_key = peewee.CompositeKey("dims", "span", "day", "summary_key")
        indexes = ((("summary_key",), True),)


class ActivitySummaryRow(Model):
    """Stored ``StaffActionLogged`` and ``TaskCompleted`` events per day (app's time zone), kind and staff member."""

    summary_key = peewee.CharField(max_length=32)
    span = peewee.CharField(max_length=5)
    day = peewee.DateField()
    type = peewee.CharField(max_length=120)
    #: a StaffActionLogged's ``kind`` (call, meeting, note, email…); NULL for TaskCompleted
    action = peewee.CharField(max_length=200, null=True)
    #: the event's actor, else a TaskCompleted's assignee
    staff = peewee.CharField(max_length=200, null=True)
    records = peewee.BigIntegerField()

    class Meta:
        table_name = "warehouse_activity_summary"
        primary_key = peewee.CompositeKey("span", "day", "summary_key")
        indexes = ((("summary_key",), True),)


class SurveySummaryRow(Model):
    """Survey invitations, responses and numeric answers per day (app's time zone).

    ``measure`` ``invitation``: ``SurveySent`` events (``region`` NULL);
    ``invitation_region``: the same in the region the contact had when it was
    sent (one row per status interval covering that instant, or one with
    NULL); both with ``delay_days``, the whole days until the contact's first
    response to that survey (NULL: none within 366 days). ``response``:
    responses; ``answer``: answers, with ``question`` and ``score``.
    """

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
        primary_key = peewee.CompositeKey("measure", "span", "day", "summary_key")
        indexes = ((("summary_key",), True),)


#: the name of the one row of warehouse_summary_state
STATE = "summaries"


class SummaryStateRow(Model):
    """Whether the summary tables hold everything (``complete``), and the time zone their days are in."""

    name = peewee.CharField(max_length=40, primary_key=True)
    complete = peewee.BooleanField()
    timezone = peewee.CharField(max_length=64, null=True)
    rebuilt_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "warehouse_summary_state"


SUMMARY_MODELS = (
    SalesSummaryRow,
    OpenSalesSummaryRow,
    StageChangeRow,
    PipelineSummaryRow,
    StatusSummaryRow,
    ActivitySummaryRow,
    SurveySummaryRow,
    SummaryStateRow,
)
