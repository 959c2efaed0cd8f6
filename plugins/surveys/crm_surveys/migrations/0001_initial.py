"""Create the surveys plugin's tables: surveys, versions, schedules, rounds, invitations, responses, answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db

    class Survey(Base):
        key = peewee.CharField(max_length=60, unique=True)
        title = peewee.CharField(max_length=200)
        current_version = peewee.IntegerField(default=1)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "surveys_survey"

    class SurveyVersion(Base):
        survey = peewee.ForeignKeyField(Survey, on_delete="CASCADE")
        version = peewee.IntegerField()
        definition = peewee.TextField()
        digest = peewee.CharField(max_length=64)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "surveys_version"
            indexes = ((("survey", "version"), True),)

    class Schedule(Base):
        survey = peewee.ForeignKeyField(Survey, on_delete="CASCADE")
        source = peewee.CharField(max_length=200)
        rule = peewee.CharField(max_length=500)
        starts_at = peewee.DateTimeField()
        active = peewee.BooleanField(default=True)
        last_occurrence = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "surveys_schedule"

    class Round(Base):
        survey = peewee.ForeignKeyField(Survey, on_delete="CASCADE")
        key = peewee.CharField(max_length=100)
        schedule = peewee.ForeignKeyField(Schedule, null=True, on_delete="SET NULL")
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "surveys_round"
            indexes = ((("survey", "key"), True),)

    class Invitation(Base):
        survey = peewee.ForeignKeyField(Survey, on_delete="CASCADE")
        round = peewee.ForeignKeyField(Round, on_delete="CASCADE")
        version = peewee.IntegerField()
        contact_id = peewee.IntegerField(null=True, index=True)
        original_contact_id = peewee.IntegerField(null=True)
        medium = peewee.CharField(max_length=10)
        source = peewee.CharField(max_length=200, null=True)
        region = peewee.CharField(max_length=100, null=True)
        month = peewee.CharField(max_length=7)
        sent_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField(null=True)
        reminded_at = peewee.DateTimeField(null=True)
        answered_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "surveys_invitation"
            indexes = (
                (("round", "original_contact_id"), True),
                (("survey", "medium", "region", "month", "answered_at"), False),
            )

    class Response(Base):
        invitation = peewee.ForeignKeyField(Invitation, unique=True, on_delete="CASCADE")
        survey = peewee.ForeignKeyField(Survey, on_delete="CASCADE")
        version = peewee.IntegerField()
        contact_id = peewee.IntegerField(null=True, index=True)
        channel = peewee.CharField(max_length=20)
        complete = peewee.BooleanField(default=False)
        negative = peewee.BooleanField(default=False)
        region = peewee.CharField(max_length=100, null=True)
        month = peewee.CharField(max_length=7)
        data = peewee.TextField()
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()
        answered_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "surveys_response"
            indexes = ((("survey", "complete"), False),)

    class Answer(Base):
        id = peewee.BigAutoField()
        response = peewee.ForeignKeyField(Response, on_delete="CASCADE", index=True)
        survey_id = peewee.IntegerField()
        version = peewee.IntegerField()
        question = peewee.CharField(max_length=40)
        region = peewee.CharField(max_length=100, null=True)
        month = peewee.CharField(max_length=7)
        value = peewee.IntegerField(null=True)
        choice = peewee.CharField(max_length=200, null=True)
        text = peewee.TextField(null=True)

        class Meta:
            table_name = "surveys_answer"
            indexes = ((("survey_id", "version", "question", "region", "month", "value", "choice"), False),)

    class Secret(Base):
        name = peewee.CharField(max_length=40, primary_key=True)
        value = peewee.CharField(max_length=200)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "surveys_secret"

    db.create_tables([Survey, SurveyVersion, Schedule, Round, Invitation, Response, Answer, Secret])


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for name in (
        "surveys_answer",
        "surveys_response",
        "surveys_invitation",
        "surveys_round",
        "surveys_schedule",
        "surveys_version",
        "surveys_secret",
        "surveys_survey",
    ):
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")  # type: ignore[no-untyped-call]  # peewee stubs leave it unannotated
