"""The surveys plugin's tables (all named ``surveys_*``).

::

    surveys_survey ──< surveys_version          one row per version, its definition as JSON
          │
          ├──< surveys_round ──< surveys_invitation ──1 surveys_response ──< surveys_answer
          └──< surveys_schedule                                                (one row per answered
                                                                                question, for SQL)

A *round* is one sending of a survey (``manual`` for ordinary sends, one
per occurrence of a schedule); a contact gets at most one invitation per
round, whatever the medium. A response belongs to one invitation, so
answering twice updates it. ``surveys_answer`` repeats the survey, version,
region and month of its response so that results are one ``GROUP BY`` over
one covering index.

The ``id`` primary keys are the ones peewee would add by itself, declared so
that type checkers see them; the bare ``*_id`` annotations name the accessor
peewee adds beside each foreign key (the related row's id, without a query).
"""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["Answer", "Invitation", "Response", "Round", "Schedule", "Survey", "SurveyVersion"]


class Survey(Model):
    id = peewee.AutoField()
    key = peewee.CharField(max_length=60, unique=True)
    title = peewee.CharField(max_length=200)
    current_version = peewee.IntegerField(default=1)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "surveys_survey"


class SurveyVersion(Model):
    id = peewee.AutoField()
    survey = peewee.ForeignKeyField(Survey, backref="versions", on_delete="CASCADE")
    survey_id: int
    version = peewee.IntegerField()
    #: the definition's content as JSON (crm_surveys.definition.SurveyDefinition.content)
    definition = peewee.TextField()
    digest = peewee.CharField(max_length=64)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "surveys_version"
        indexes = ((("survey", "version"), True),)


class Schedule(Model):
    id = peewee.AutoField()
    survey = peewee.ForeignKeyField(Survey, backref="schedules", on_delete="CASCADE")
    survey_id: int
    #: the mailing list or segment, as the contacts plugin names it
    source = peewee.CharField(max_length=200)
    #: an RFC 5545 recurrence rule, in the app's time zone
    rule = peewee.CharField(max_length=500)
    starts_at = UTCDateTimeField()
    active = peewee.BooleanField(default=True)
    #: the newest occurrence sent (or skipped as missed)
    last_occurrence = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "surveys_schedule"


class Round(Model):
    id = peewee.AutoField()
    survey = peewee.ForeignKeyField(Survey, backref="rounds", on_delete="CASCADE")
    survey_id: int
    #: ``manual``, ``direct``, a name given to ``send --round``, or a schedule's occurrence
    key = peewee.CharField(max_length=100)
    schedule = peewee.ForeignKeyField(Schedule, null=True, on_delete="SET NULL")
    schedule_id: int | None
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "surveys_round"
        indexes = ((("survey", "key"), True),)


class Invitation(Model):
    id = peewee.AutoField()
    survey = peewee.ForeignKeyField(Survey, on_delete="CASCADE")
    survey_id: int
    round = peewee.ForeignKeyField(Round, backref="invitations", on_delete="CASCADE")
    round_id: int
    version = peewee.IntegerField()
    #: the contact now (moved by merges; NULL once erased)
    contact_id = peewee.IntegerField(null=True, index=True)
    #: the contact the invitation was made for, as tokens name him (NULL once erased)
    original_contact_id = peewee.IntegerField(null=True)
    #: ``email``, ``post`` or ``direct`` (answered without being sent anything)
    medium = peewee.CharField(max_length=10)
    #: the mailing list or segment it was sent to (reminders check it again)
    source = peewee.CharField(max_length=200, null=True)
    region = peewee.CharField(max_length=100, null=True)
    #: the month it was sent, ``YYYY-MM`` in the app's time zone
    month = peewee.CharField(max_length=7)
    sent_at = UTCDateTimeField()
    expires_at = UTCDateTimeField(null=True)
    reminded_at = UTCDateTimeField(null=True)
    #: when the first complete answer came in
    answered_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "surveys_invitation"
        indexes = (
            (("round", "original_contact_id"), True),
            (("survey", "medium", "region", "month", "answered_at"), False),
        )


class Response(Model):
    id = peewee.AutoField()
    invitation = peewee.ForeignKeyField(Invitation, unique=True, on_delete="CASCADE")
    invitation_id: int
    survey = peewee.ForeignKeyField(Survey, on_delete="CASCADE")
    survey_id: int
    version = peewee.IntegerField()
    contact_id = peewee.IntegerField(null=True, index=True)
    #: how the answer came in: ``web``, ``paper``, ``staff``, ``api``
    channel = peewee.CharField(max_length=20)
    complete = peewee.BooleanField(default=False)
    negative = peewee.BooleanField(default=False)
    region = peewee.CharField(max_length=100, null=True)
    month = peewee.CharField(max_length=7)
    #: the answers by question key, as JSON (drafts too)
    data = peewee.TextField()
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    answered_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "surveys_response"
        indexes = ((("survey", "complete", "region", "month"), False),)


class Answer(Model):
    """One answered question of a complete response (a multiple choice adds one row per choice)."""

    id = peewee.BigAutoField()
    response = peewee.ForeignKeyField(Response, on_delete="CASCADE", index=True)
    response_id: int
    survey_id = peewee.IntegerField()
    version = peewee.IntegerField()
    question = peewee.CharField(max_length=40)
    region = peewee.CharField(max_length=100, null=True)
    month = peewee.CharField(max_length=7)
    #: NPS, CSAT and ratings; yes/no as 1/0
    value = peewee.IntegerField(null=True)
    #: a single choice, or one chosen option of a multiple choice
    choice = peewee.CharField(max_length=200, null=True)
    text = peewee.TextField(null=True)

    class Meta:
        table_name = "surveys_answer"
        indexes = ((("survey_id", "question", "version", "region", "month", "value", "choice"), False),)
