"""Create the warehouse's tables: event store, sales, staff actions, documents, reporting tables.

The models are frozen copies of crm_warehouse/models.py as of this migration.
"""

from typing import Any

import peewee

TABLES = (
    "warehouse_contact_change",
    "warehouse_contact_status",
    "warehouse_survey_answer_fact",
    "warehouse_survey_response",
    "warehouse_sales_fact",
    "warehouse_document",
    "warehouse_blob",
    "warehouse_staff_action",
    "warehouse_stage_move",
    "warehouse_sale",
    "warehouse_event_contact",
    "warehouse_event",
)


def up(migrator: Any, db: peewee.Database) -> None:
    sqlite = isinstance(db, peewee.SqliteDatabase)

    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class EventRow(Base):
        id = peewee.BigAutoField()
        event_id = peewee.CharField(max_length=64, unique=True)
        type = peewee.CharField(max_length=120)
        kind = peewee.CharField(max_length=16)
        occurred_at = peewee.DateTimeField()
        actor = peewee.CharField(max_length=200, null=True)
        channel = peewee.CharField(max_length=32)
        payload = peewee.TextField()
        stored_at = peewee.DateTimeField()

        class Meta:
            table_name = "warehouse_event"

    class EventContactRow(Base):
        contact_id = peewee.BigIntegerField()
        occurred_at = peewee.DateTimeField()
        event = peewee.BigIntegerField(column_name="event_id")
        kind = peewee.CharField(max_length=16)
        via_contact_id = peewee.BigIntegerField(null=True)

        class Meta:
            table_name = "warehouse_event_contact"
            primary_key = peewee.CompositeKey("contact_id", "occurred_at", "event")
            # the primary key is the timeline's index: one b-tree, not two
            without_rowid = sqlite

    class SaleRow(Base):
        id = peewee.AutoField()
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
        created_at = peewee.DateTimeField()
        created_by = peewee.CharField(max_length=100, null=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "warehouse_sale"

    class StageMoveRow(Base):
        id = peewee.AutoField()
        sale = peewee.ForeignKeyField(SaleRow, on_delete="CASCADE")
        old_stage = peewee.CharField(max_length=40, null=True)
        new_stage = peewee.CharField(max_length=40)
        moved_at = peewee.DateTimeField()
        actor = peewee.CharField(max_length=100, null=True)

        class Meta:
            table_name = "warehouse_stage_move"

    class StaffActionRow(Base):
        id = peewee.AutoField()
        kind = peewee.CharField(max_length=12)
        contact_id = peewee.BigIntegerField(null=True, index=True)
        sale = peewee.ForeignKeyField(SaleRow, null=True, on_delete="SET NULL")
        author = peewee.CharField(max_length=100, null=True)
        occurred_at = peewee.DateTimeField()
        logged_at = peewee.DateTimeField()
        subject = peewee.CharField(max_length=300, default="")
        body = peewee.TextField(default="")

        class Meta:
            table_name = "warehouse_staff_action"

    class BlobRow(Base):
        sha256 = peewee.CharField(max_length=64, primary_key=True)
        size = peewee.BigIntegerField()
        stored_at = peewee.DateTimeField()

        class Meta:
            table_name = "warehouse_blob"

    class DocumentRow(Base):
        id = peewee.AutoField()
        blob = peewee.ForeignKeyField(BlobRow, column_name="sha256", on_delete="RESTRICT")
        name = peewee.CharField(max_length=255)
        content_type = peewee.CharField(max_length=120)
        size = peewee.BigIntegerField()
        contact_id = peewee.BigIntegerField(null=True, index=True)
        sale = peewee.ForeignKeyField(SaleRow, null=True, on_delete="SET NULL")
        uploaded_by = peewee.CharField(max_length=100, null=True)
        uploaded_at = peewee.DateTimeField()
        description = peewee.CharField(max_length=500, default="")

        class Meta:
            table_name = "warehouse_document"

    class SalesFactRow(Base):
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
        outcome = peewee.CharField(max_length=4, index=True)
        won = peewee.BooleanField(null=True)
        created_on = peewee.DateField()
        created_quarter = peewee.CharField(max_length=7)
        expected_close_on = peewee.DateField(null=True)
        closed_on = peewee.DateField(null=True)
        closed_quarter = peewee.CharField(max_length=7, null=True, index=True)
        lost_reason = peewee.CharField(max_length=500, null=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "warehouse_sales_fact"

    class SurveyResponseRow(Base):
        response_id = peewee.BigIntegerField(primary_key=True)
        survey_id = peewee.BigIntegerField(index=True)
        version = peewee.IntegerField()
        contact_id = peewee.BigIntegerField(index=True)
        negative = peewee.BooleanField()
        region = peewee.CharField(max_length=100, null=True)
        answered_at = peewee.DateTimeField()
        answered_on = peewee.DateField()
        answered_quarter = peewee.CharField(max_length=7)
        scores = peewee.TextField()
        event_id = peewee.CharField(max_length=64)

        class Meta:
            table_name = "warehouse_survey_response"

    class SurveyAnswerFactRow(Base):
        response_id = peewee.BigIntegerField()
        question = peewee.CharField(max_length=100)
        survey_id = peewee.BigIntegerField()
        version = peewee.IntegerField()
        contact_id = peewee.BigIntegerField(index=True)
        score = peewee.FloatField()
        negative = peewee.BooleanField()
        region = peewee.CharField(max_length=100, null=True)
        answered_at = peewee.DateTimeField()
        answered_on = peewee.DateField()
        answered_quarter = peewee.CharField(max_length=7)

        class Meta:
            table_name = "warehouse_survey_answer_fact"
            primary_key = peewee.CompositeKey("response_id", "question")
            indexes = ((("survey_id", "version", "question"), False),)

    class ContactStatusRow(Base):
        id = peewee.BigAutoField()
        contact_id = peewee.BigIntegerField()
        status = peewee.CharField(max_length=20, null=True)
        region = peewee.CharField(max_length=100, null=True)
        country = peewee.CharField(max_length=8, null=True)
        deleted = peewee.BooleanField(default=False)
        valid_from = peewee.DateTimeField()
        valid_to = peewee.DateTimeField(null=True)
        event_id = peewee.CharField(max_length=64)

        class Meta:
            table_name = "warehouse_contact_status"
            indexes = (
                (("contact_id", "valid_from"), False),
                (("status", "valid_to"), False),
            )

    class ContactChangeRow(Base):
        id = peewee.BigAutoField()
        event = peewee.BigIntegerField(column_name="event_pk")
        contact_id = peewee.BigIntegerField()
        occurred_at = peewee.DateTimeField(index=True)
        actor = peewee.CharField(max_length=200, null=True)
        channel = peewee.CharField(max_length=32)
        action = peewee.CharField(max_length=16)
        field = peewee.CharField(max_length=100, null=True)
        old_value = peewee.TextField(null=True)
        new_value = peewee.TextField(null=True)

        class Meta:
            table_name = "warehouse_contact_change"
            indexes = ((("contact_id", "occurred_at"), False),)

    db.create_tables(
        [
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
        ]
    )


def down(migrator: Any, db: peewee.Database) -> None:
    for name in TABLES:
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")
