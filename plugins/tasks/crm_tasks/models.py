"""The tasks plugin's tables (all named ``tasks_*``).

Idempotency lives in unique keys, so that two workers, or one event seen
twice, can never create a task or send a reminder twice:

* ``tasks_task.origin_key``: ``rule:<rule>:<event id>``,
  ``recurring:<template>:<occurrence>``, ``inactivity:<rule>:<contact>:<date>``;
* ``tasks_firing (rule, key)``: each rule fires once per event (or period);
* ``tasks_reminder.key``: each e-mail is sent once.
"""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = [
    "ChecklistItem",
    "Firing",
    "Pending",
    "Question",
    "Recurring",
    "Reminder",
    "Task",
    "TaskLink",
    "Activity",
]


class Task(Model):
    """One task: to-do, call, e-mail, meeting or follow-up."""

    id = peewee.BigAutoField()
    title = peewee.CharField(max_length=300)
    kind = peewee.CharField(max_length=20)
    description = peewee.TextField(default="")
    assignee = peewee.CharField(max_length=100, null=True, index=True)
    team = peewee.CharField(max_length=100, null=True, index=True)
    due_at = UTCDateTimeField(null=True, index=True)
    priority = peewee.SmallIntegerField(default=2)
    #: open, done or cancelled
    status = peewee.CharField(max_length=12, default="open")  # (status, assignee, due_at) serves it
    #: the contact the task is about (more contacts and records: TaskLink)
    contact_id = peewee.BigIntegerField(null=True, index=True)
    created_at = UTCDateTimeField()
    created_by = peewee.CharField(max_length=100, null=True)
    assigned_at = UTCDateTimeField(null=True)
    closed_at = UTCDateTimeField(null=True)
    closed_by = peewee.CharField(max_length=100, null=True)
    #: manual, rule, recurring or inactivity
    origin = peewee.CharField(max_length=12, default="manual")
    origin_key = peewee.CharField(max_length=190, null=True, unique=True)
    rule = peewee.CharField(max_length=60, null=True)
    #: the due time a "due soon" reminder was sent for (a new due time re-arms it)
    reminded_due_at = UTCDateTimeField(null=True)
    #: the due time an "overdue" notice was sent for
    overdue_notified_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "tasks_task"
        indexes = ((("status", "assignee", "due_at"), False),)


class TaskLink(Model):
    """A task's link to a record of another plugin: a contact, a sale, a request."""

    id = peewee.BigAutoField()
    task = peewee.ForeignKeyField(Task, on_delete="CASCADE", backref="links")
    #: contact, sale or request
    kind = peewee.CharField(max_length=20)
    ref_id = peewee.BigIntegerField()

    class Meta:
        table_name = "tasks_link"
        indexes = ((("kind", "ref_id"), False),)


class ChecklistItem(Model):
    """One item of a task's checklist, ticked by someone at some time."""

    id = peewee.BigAutoField()
    task = peewee.ForeignKeyField(Task, on_delete="CASCADE", backref="checklist")
    position = peewee.IntegerField()
    text = peewee.CharField(max_length=500)
    done_at = UTCDateTimeField(null=True)
    done_by = peewee.CharField(max_length=100, null=True)

    class Meta:
        table_name = "tasks_checklist_item"
        indexes = ((("task", "position"), True),)


class Question(Model):
    """A question to ask during a call task, and the answer recorded."""

    id = peewee.BigAutoField()
    task = peewee.ForeignKeyField(Task, on_delete="CASCADE", backref="questions")
    position = peewee.IntegerField()
    text = peewee.CharField(max_length=500)
    answer = peewee.TextField(null=True)
    answered_at = UTCDateTimeField(null=True)
    answered_by = peewee.CharField(max_length=100, null=True)

    class Meta:
        table_name = "tasks_question"
        indexes = ((("task", "position"), True),)


class Reminder(Model):
    """Every e-mail the plugin queued: kept once per key, so none goes twice."""

    id = peewee.BigAutoField()
    key = peewee.CharField(max_length=190, unique=True)
    task = peewee.ForeignKeyField(Task, null=True, on_delete="SET NULL")
    task_id: int | None
    #: assigned, due, overdue or rule
    kind = peewee.CharField(max_length=12)
    recipient = peewee.CharField(max_length=254)
    subject = peewee.CharField(max_length=300)
    sent_at = UTCDateTimeField()

    class Meta:
        table_name = "tasks_reminder"


class Firing(Model):
    """The log of rules fired: one row per rule and event (or inactivity period)."""

    id = peewee.BigAutoField()
    rule = peewee.CharField(max_length=60)
    #: the event id, or ``<contact>:<date>`` for inactivity
    key = peewee.CharField(max_length=120)
    event_type = peewee.CharField(max_length=120, null=True)
    contact_id = peewee.BigIntegerField(null=True, index=True)
    fired_at = UTCDateTimeField()
    #: created, notified, scheduled, cancelled or failed
    outcome = peewee.CharField(max_length=12)
    task = peewee.ForeignKeyField(Task, null=True, on_delete="SET NULL")
    #: the raw key of ``task``, read without a query (peewee's accessor)
    task_id: int | None
    detail = peewee.TextField(default="")

    class Meta:
        table_name = "tasks_firing"
        indexes = ((("rule", "key"), True),)


class Pending(Model):
    """A rule action waiting for its delay (``delay = "3d"``), run by the worker."""

    id = peewee.BigAutoField()
    rule = peewee.CharField(max_length=60)
    key = peewee.CharField(max_length=120)
    event_type = peewee.CharField(max_length=120)
    payload = peewee.TextField()
    run_at = UTCDateTimeField(index=True)
    record_id = peewee.BigIntegerField(null=True, index=True)
    contact_id = peewee.BigIntegerField(null=True, index=True)
    done_at = UTCDateTimeField(null=True)
    #: done, cancelled (the record closed) or failed
    outcome = peewee.CharField(max_length=12, null=True)

    class Meta:
        table_name = "tasks_pending"
        indexes = ((("rule", "key"), True),)


class Recurring(Model):
    """A recurring task template: an RFC 5545 rule creating one task per occurrence."""

    id = peewee.BigAutoField()
    name = peewee.CharField(max_length=100, unique=True)
    title = peewee.CharField(max_length=300)
    kind = peewee.CharField(max_length=20, default="to-do")
    description = peewee.TextField(default="")
    assignee = peewee.CharField(max_length=100, null=True)
    team = peewee.CharField(max_length=100, null=True)
    priority = peewee.SmallIntegerField(default=2)
    #: RRULE text (``FREQ=WEEKLY;BYDAY=MO;BYHOUR=9``), wall time in ``timezone``
    rrule = peewee.TextField()
    timezone = peewee.CharField(max_length=64)
    #: the first occurrence (naive wall time in ``timezone``)
    dtstart = peewee.DateTimeField()
    #: create each occurrence's task this many minutes before it is due
    lead_minutes = peewee.IntegerField(default=0)
    checklist = peewee.TextField(default="[]")
    active = peewee.BooleanField(default=True)
    #: the latest occurrence already created (UTC), to resume from
    last_occurrence = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "tasks_recurring"


class Activity(Model):
    """What tasks knows of a contact from events, for the inactivity scan without a warehouse."""

    contact_id = peewee.BigIntegerField(primary_key=True)
    status = peewee.CharField(max_length=20, null=True)
    customer_since = peewee.DateField(null=True)
    last_purchase = peewee.DateField(null=True)

    class Meta:
        table_name = "tasks_activity"
        indexes = ((("status", "last_purchase"), False),)
