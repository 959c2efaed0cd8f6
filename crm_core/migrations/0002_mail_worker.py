"""The kernel's mail queue, worker schedule and run-once keys."""

import peewee


class _LongText(peewee.TextField):
    # MySQL's TEXT stops at 64 KiB: bodies and tracebacks need more
    field_type = "LONGTEXT"


class _LongBlob(peewee.BlobField):
    field_type = "LONGBLOB"


def up(migrator, db):
    mysql = isinstance(db, peewee.MySQLDatabase)
    Text = _LongText if mysql else peewee.TextField
    Blob = _LongBlob if mysql else peewee.BlobField

    class MailMessage(peewee.Model):
        id = peewee.BigAutoField()
        key = peewee.CharField(max_length=190, unique=True)
        message_id = peewee.CharField(max_length=255)
        sender = peewee.CharField(max_length=400)
        recipients = Text()
        remaining = Text(null=True)
        reply_to = peewee.CharField(max_length=400, null=True)
        subject = Text()
        text_body = Text()
        html_body = Text(null=True)
        headers = Text(null=True)
        attachment_count = peewee.IntegerField(default=0)
        status = peewee.CharField(max_length=16, default="queued")
        attempts = peewee.IntegerField(default=0)
        queued_at = peewee.DateTimeField()
        next_attempt_at = peewee.DateTimeField()
        lease_owner = peewee.CharField(max_length=100, null=True)
        lease_until = peewee.DateTimeField(null=True)
        sent_at = peewee.DateTimeField(null=True)
        transport = peewee.CharField(max_length=50, null=True)
        last_error = Text(null=True)

        class Meta:
            database = db
            table_name = "crm_mail_message"
            indexes = (
                (("status", "next_attempt_at"), False),
                (("transport", "sent_at"), False),
                (("lease_owner",), False),
            )

    class MailAttachment(peewee.Model):
        id = peewee.BigAutoField()
        message = peewee.ForeignKeyField(MailMessage, column_name="mail_id", on_delete="CASCADE")
        position = peewee.IntegerField()
        filename = peewee.CharField(max_length=255)
        content_type = peewee.CharField(max_length=255)
        content = Blob()

        class Meta:
            database = db
            table_name = "crm_mail_attachment"
            indexes = ((("message", "position"), True),)

    class MailTransportState(peewee.Model):
        name = peewee.CharField(max_length=50, primary_key=True)
        updated_at = peewee.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "crm_mail_transport"

    class Job(peewee.Model):
        name = peewee.CharField(max_length=150, primary_key=True)
        owner = peewee.CharField(max_length=100)
        schedule = peewee.CharField(max_length=500)
        next_run_at = peewee.DateTimeField(null=True)
        last_scheduled_at = peewee.DateTimeField(null=True)
        last_started_at = peewee.DateTimeField(null=True)
        last_finished_at = peewee.DateTimeField(null=True)
        last_status = peewee.CharField(max_length=16, null=True)
        last_error = Text(null=True)
        last_result = peewee.CharField(max_length=500, null=True)
        skipped = peewee.IntegerField(default=0)
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "crm_job"

    class JobRun(peewee.Model):
        id = peewee.BigAutoField()
        job = peewee.CharField(max_length=150)
        scheduled_at = peewee.DateTimeField()
        status = peewee.CharField(max_length=16)
        worker = peewee.CharField(max_length=100)
        attempts = peewee.IntegerField(default=1)
        started_at = peewee.DateTimeField()
        lease_until = peewee.DateTimeField()
        finished_at = peewee.DateTimeField(null=True)
        error = Text(null=True)

        class Meta:
            database = db
            table_name = "crm_job_run"
            indexes = (
                (("job", "scheduled_at"), True),
                (("status", "lease_until"), False),
                (("finished_at",), False),
            )

    class RunOnce(peewee.Model):
        key = peewee.CharField(max_length=190, primary_key=True)
        claimed_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "crm_run_once"

    db.create_tables([MailMessage, MailAttachment, MailTransportState, Job, JobRun, RunOnce])


def down(migrator, db):
    for name in (
        "crm_run_once",
        "crm_job_run",
        "crm_job",
        "crm_mail_transport",
        "crm_mail_attachment",
        "crm_mail_message",
    ):
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")
