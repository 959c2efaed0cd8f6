"""Link each task a rule made of a survey answer to that response (``tasks_link`` kind ``survey_response``).

Rules that fire on ``SurveyAnswered`` (the follow-up of a negative answer)
link the task they make to the response since this release; the desk's
answers page finds a response's follow-up through that link
(``TasksAPI.linked_tasks``). The tasks made before were linked to the
contact only: the firing log says which task each event made
(``tasks_firing``: the event id in ``key``), and the kernel's event log
(``crm.events.read``; ``crm migrate`` runs every migration inside
``app.activate()``) gives each event's ``response_id``. The events are read
in pages of 10,000, the links written with bulk inserts; a task whose event
is no longer in the log stays as it was. Running it again adds nothing.

``down`` removes the ``survey_response`` links: the code before this
release does not know the kind.
"""

from typing import Any

import peewee

PAGE = 10_000
CHUNK = 500


def _models(db: peewee.Database) -> tuple[Any, Any]:
    class Firing(peewee.Model):
        rule = peewee.CharField(max_length=60)
        key = peewee.CharField(max_length=120)
        event_type = peewee.CharField(max_length=120, null=True)
        task_id = peewee.BigIntegerField(null=True)

        class Meta:
            database = db
            table_name = "tasks_firing"

    class TaskLink(peewee.Model):
        task_id = peewee.BigIntegerField()
        kind = peewee.CharField(max_length=20)
        ref_id = peewee.BigIntegerField()

        class Meta:
            database = db
            table_name = "tasks_link"

    return Firing, TaskLink


def up(migrator: Any, db: peewee.Database) -> None:
    from crm_core.storage import batched, bulk_insert, current_app

    Firing, TaskLink = _models(db)
    made = {
        key: task_id
        for key, task_id in Firing.select(Firing.key, Firing.task_id)
        .where((Firing.event_type == "SurveyAnswered") & Firing.task_id.is_null(False))
        .tuples()
    }
    if not made:
        return
    responses: dict[int, int] = {}  # task id -> response id
    after = 0
    app = current_app()
    while True:
        page = app.events.read(after, types=["SurveyAnswered"], limit=PAGE)
        for logged in page:
            task_id = made.get(logged.event.event_id)
            response = getattr(logged.event, "response_id", None)
            if task_id is not None and response is not None:
                responses[task_id] = int(response)
        if len(page) < PAGE:
            break
        after = page[-1].position
    linked: set[int] = set()
    for part in batched(sorted(responses), CHUNK):
        query = TaskLink.select(TaskLink.task_id).where(
            (TaskLink.kind == "survey_response") & TaskLink.task_id.in_(part)
        )
        linked.update(task_id for (task_id,) in query.tuples())
    rows = [(task_id, "survey_response", ref) for task_id, ref in sorted(responses.items()) if task_id not in linked]
    bulk_insert("tasks_link", ("task_id", "kind", "ref_id"), rows, database=db)


def down(migrator: Any, db: peewee.Database) -> None:
    _Firing, TaskLink = _models(db)
    TaskLink.delete().where(TaskLink.kind == "survey_response").execute()
