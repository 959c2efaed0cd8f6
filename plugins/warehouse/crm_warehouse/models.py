"""The warehouse's tables (all named ``warehouse_*``).

Three groups:

* the **event store**: :class:`EventRow` (every delivered event, append-only)
  and :class:`EventContactRow` (which contacts each event concerns, the index
  behind timelines);
* the warehouse's own **records**: sales records and their stage moves, staff
  actions and notes, documents and their content-addressed blobs;
* the **reporting tables**, kept current as events arrive and rebuilt by
  ``crm warehouse rebuild``: sales facts, survey responses and answer facts,
  contact status history and the contact change audit; and their **summary
  tables** (:mod:`crm_warehouse.summaries.models`), the same added up per day
  and month, kept current with them.

The columns of the reporting tables are documented in
``docs/plugins/warehouse.md``; other plugins query them with plain SQL.
"""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField
from crm_warehouse.summaries.models import SUMMARY_MODELS

__all__ = [
    "BlobRow",
    "ContactChangeRow",
    "ContactStatusRow",
    "DocumentRow",
    "EventContactRow",
    "EventRow",
    "MODELS",
    "SaleRow",
    "SalesFactRow",
    "StageMoveRow",
    "StaffActionRow",
    "SurveyAnswerFactRow",
    "SurveyResponseRow",
]

# -- the event store ---------------------------------------------------------


class EventRow(Model):
    """One delivered event, kept forever (rewritten only by a GDPR erasure)."""

    id = peewee.BigAutoField()
    event_id = peewee.CharField(max_length=64, unique=True)
    # no index on type: the store is written far more than it is scanned by type, and
    # reads go through the timeline index (warehouse_event_contact)
    type = peewee.CharField(max_length=120)
    #: contact, consent, request, sale, note, document, survey, task, mail or other
    kind = peewee.CharField(max_length=16)
    occurred_at = UTCDateTimeField()
    actor = peewee.CharField(max_length=200, null=True)
    channel = peewee.CharField(max_length=32)
    #: the event as crm_hookspecs.events.to_payload wrote it, JSON
    payload = peewee.TextField()
    stored_at = UTCDateTimeField()

    class Meta:
        table_name = "warehouse_event"


class EventContactRow(Model):
    """Event ``event`` concerns contact ``contact_id`` (one row per contact of the event).

    ``via_contact_id`` is set on rows added by a merge: the event concerned
    the merged contact, and the survivor's timeline shows it too.
    """

    contact_id = peewee.BigIntegerField()
    occurred_at = UTCDateTimeField()
    event = peewee.BigIntegerField(column_name="event_id")
    kind = peewee.CharField(max_length=16)
    via_contact_id = peewee.BigIntegerField(null=True)

    class Meta:
        table_name = "warehouse_event_contact"
        primary_key = peewee.CompositeKey("contact_id", "occurred_at", "event")


# -- sales records -----------------------------------------------------------


class SaleRow(Model):
    """A request for proposal or quotation, an appointment request, a quote or a sale."""

    id = peewee.AutoField()
    #: rfp, rfq, appointment, quote or sale
    kind = peewee.CharField(max_length=12)
    title = peewee.CharField(max_length=300, default="")
    contact_id = peewee.BigIntegerField(index=True)
    organization_id = peewee.BigIntegerField(null=True, index=True)
    owner = peewee.CharField(max_length=100, null=True, index=True)
    region = peewee.CharField(max_length=100, null=True)
    product_line = peewee.CharField(max_length=100, null=True)
    amount = peewee.DecimalField(max_digits=18, decimal_places=4, default=0)
    currency = peewee.CharField(max_length=3)
    stage = peewee.CharField(max_length=40, index=True)
    expected_close_on = peewee.DateField(null=True)
    closed_on = peewee.DateField(null=True)
    lost_reason = peewee.CharField(max_length=500, null=True)
    description = peewee.TextField(default="")
    created_at = UTCDateTimeField()
    created_by = peewee.CharField(max_length=100, null=True)
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "warehouse_sale"
        # a pipeline column's first cards (the desk's board), in order: migration 0002
        indexes = ((("stage", "expected_close_on", "id"), False),)


class StageMoveRow(Model):
    """One move of a sales record through the pipeline (the first has no ``old_stage``)."""

    id = peewee.AutoField()
    sale = peewee.ForeignKeyField(SaleRow, backref="moves", on_delete="CASCADE")
    old_stage = peewee.CharField(max_length=40, null=True)
    new_stage = peewee.CharField(max_length=40)
    moved_at = UTCDateTimeField()
    actor = peewee.CharField(max_length=100, null=True)

    class Meta:
        table_name = "warehouse_stage_move"


# -- staff actions -----------------------------------------------------------


class StaffActionRow(Model):
    """A note, call, meeting or e-mail logged by staff against a contact or a sale."""

    id = peewee.AutoField()
    #: note, call, meeting or email
    kind = peewee.CharField(max_length=12)
    contact_id = peewee.BigIntegerField(null=True, index=True)
    sale = peewee.ForeignKeyField(SaleRow, null=True, backref="actions", on_delete="SET NULL")
    #: the raw key of ``sale``, read without a query (peewee's accessor, named by the foreign key)
    sale_id: int | None
    author = peewee.CharField(max_length=100, null=True)
    #: when the call, meeting or e-mail took place (defaults to when it was logged)
    occurred_at = UTCDateTimeField()
    logged_at = UTCDateTimeField()
    subject = peewee.CharField(max_length=300, default="")
    body = peewee.TextField(default="")

    class Meta:
        table_name = "warehouse_staff_action"


# -- documents ---------------------------------------------------------------


class BlobRow(Model):
    """A file's content, stored once under its SHA-256 in the documents folder."""

    sha256 = peewee.CharField(max_length=64, primary_key=True)
    size = peewee.BigIntegerField()
    stored_at = UTCDateTimeField()

    class Meta:
        table_name = "warehouse_blob"


class DocumentRow(Model):
    """A file attached to a contact or a sale; many documents may share one blob."""

    id = peewee.AutoField()
    blob = peewee.ForeignKeyField(BlobRow, column_name="sha256", backref="documents", on_delete="RESTRICT")
    #: the raw keys of ``blob`` and ``sale``, read without a query (peewee names the
    #: accessor after the column, or after the field plus ``_id``)
    sha256: str
    name = peewee.CharField(max_length=255)
    content_type = peewee.CharField(max_length=120)
    size = peewee.BigIntegerField()
    contact_id = peewee.BigIntegerField(null=True, index=True)
    sale = peewee.ForeignKeyField(SaleRow, null=True, backref="documents", on_delete="SET NULL")
    sale_id: int | None
    uploaded_by = peewee.CharField(max_length=100, null=True)
    uploaded_at = UTCDateTimeField()
    description = peewee.CharField(max_length=500, default="")

    class Meta:
        table_name = "warehouse_document"


# -- reporting tables --------------------------------------------------------


class SalesFactRow(Model):
    """One row per sales record, current state, with the columns reports group by."""

    sale_id = peewee.IntegerField(primary_key=True)
    kind = peewee.CharField(max_length=12)
    contact_id = peewee.BigIntegerField(index=True)
    organization_id = peewee.BigIntegerField(null=True)
    region = peewee.CharField(max_length=100, null=True, index=True)
    owner = peewee.CharField(max_length=100, null=True)
    product_line = peewee.CharField(max_length=100, null=True)
    amount = peewee.DecimalField(max_digits=18, decimal_places=4)
    currency = peewee.CharField(max_length=3)
    stage = peewee.CharField(max_length=40)
    probability = peewee.FloatField()
    #: open, won or lost
    outcome = peewee.CharField(max_length=4, index=True)
    won = peewee.BooleanField(null=True)
    created_on = peewee.DateField()
    created_quarter = peewee.CharField(max_length=7)
    expected_close_on = peewee.DateField(null=True)
    closed_on = peewee.DateField(null=True)
    closed_quarter = peewee.CharField(max_length=7, null=True, index=True)
    lost_reason = peewee.CharField(max_length=500, null=True)
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "warehouse_sales_fact"
        # a seller's reports read their own records by outcome and closing day: migration 0005;
        # a customer's won sales and the last one (customers_quiet_since): migration 0006
        indexes = ((("owner", "outcome", "closed_on"), False), (("contact_id", "outcome", "closed_on"), False))


class SurveyResponseRow(Model):
    """One completed survey (the latest ``SurveyAnswered`` of each response)."""

    response_id = peewee.BigIntegerField(primary_key=True)
    survey_id = peewee.BigIntegerField(index=True)
    version = peewee.IntegerField()
    contact_id = peewee.BigIntegerField(index=True)
    negative = peewee.BooleanField()
    region = peewee.CharField(max_length=100, null=True)
    answered_at = UTCDateTimeField()
    answered_on = peewee.DateField()
    answered_quarter = peewee.CharField(max_length=7)
    #: JSON: question key -> score
    scores = peewee.TextField()
    event_id = peewee.CharField(max_length=64)

    class Meta:
        table_name = "warehouse_survey_response"


class SurveyAnswerFactRow(Model):
    """One numeric answer: one row per question of each response."""

    response_id = peewee.BigIntegerField()
    question = peewee.CharField(max_length=100)
    survey_id = peewee.BigIntegerField()
    version = peewee.IntegerField()
    contact_id = peewee.BigIntegerField(index=True)
    score = peewee.FloatField()
    negative = peewee.BooleanField()
    region = peewee.CharField(max_length=100, null=True)
    answered_at = UTCDateTimeField()
    answered_on = peewee.DateField()
    answered_quarter = peewee.CharField(max_length=7)

    class Meta:
        table_name = "warehouse_survey_answer_fact"
        primary_key = peewee.CompositeKey("response_id", "question")
        indexes = ((("survey_id", "version", "question"), False),)


class ContactStatusRow(Model):
    """A contact's status, region and country over an interval ``[valid_from, valid_to)``.

    The current row has ``valid_to`` NULL. ``deleted`` is true while the
    contact is deleted or merged away.
    """

    id = peewee.BigAutoField()
    contact_id = peewee.BigIntegerField()
    status = peewee.CharField(max_length=20, null=True)
    region = peewee.CharField(max_length=100, null=True)
    country = peewee.CharField(max_length=8, null=True)
    deleted = peewee.BooleanField(default=False)
    valid_from = UTCDateTimeField()
    valid_to = UTCDateTimeField(null=True)
    event_id = peewee.CharField(max_length=64)

    class Meta:
        table_name = "warehouse_contact_status"
        indexes = (
            # a contact's rows by time, with their status and end (migration 0007): customers_quiet_since
            # finds when a customer's spell began from the index alone
            (("contact_id", "valid_from", "status", "valid_to"), False),
            (("status", "valid_to"), False),
        )


class ContactChangeRow(Model):
    """The audit trail: one row per changed field, and one per other contact action."""

    id = peewee.BigAutoField()
    event = peewee.BigIntegerField(column_name="event_pk")
    contact_id = peewee.BigIntegerField()
    occurred_at = UTCDateTimeField(index=True)
    actor = peewee.CharField(max_length=200, null=True)
    channel = peewee.CharField(max_length=32)
    #: changed, deleted, restored, merged, unmerged, erased or unsubscribed (a creation is not a change)
    action = peewee.CharField(max_length=16)
    field = peewee.CharField(max_length=100, null=True)
    #: JSON
    old_value = peewee.TextField(null=True)
    #: JSON
    new_value = peewee.TextField(null=True)

    class Meta:
        table_name = "warehouse_contact_change"
        indexes = ((("contact_id", "occurred_at"), False),)


MODELS = (
    EventRow,
    EventContactRow,
    SaleRow,
    StageMoveRow,
    StaffActionRow,
    BlobRow,
    DocumentRow,
    SalesFactRow,
    SurveyResponseRow,
    SurveyAnswerFactRow,
    ContactStatusRow,
    ContactChangeRow,
    *SUMMARY_MODELS,
)
