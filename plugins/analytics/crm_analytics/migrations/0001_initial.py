"""Create analytics_report (saved custom reports) and analytics_delivery (scheduled reports sent)."""

import peewee


def up(migrator, db):
    class SavedReport(peewee.Model):
        id = peewee.AutoField()
        name = peewee.CharField(max_length=60, unique=True)
        title = peewee.CharField(max_length=200, default="")
        source = peewee.TextField()
        created_at = peewee.DateTimeField()
        created_by = peewee.CharField(max_length=100, null=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "analytics_report"

    class Delivery(peewee.Model):
        id = peewee.AutoField()
        schedule = peewee.CharField(max_length=60)
        report = peewee.CharField(max_length=60)
        scheduled_at = peewee.DateTimeField()
        range_from = peewee.DateField()
        range_to = peewee.DateField()
        rows = peewee.IntegerField(default=0)
        message_key = peewee.CharField(max_length=190, unique=True)
        recipients = peewee.TextField()
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "analytics_delivery"
            indexes = ((("schedule", "scheduled_at"), False),)

    db.create_tables([SavedReport, Delivery], safe=True)


def down(migrator, db):
    db.execute_sql("DROP TABLE analytics_delivery")
    db.execute_sql("DROP TABLE analytics_report")
