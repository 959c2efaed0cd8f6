"""The surveys plugin: sending a survey by e-mail, and its results over a million answers.

1. **Send.** A survey with a Jinja2 invitation goes to a mailing list of
   100,000 contacts (``--quick``: 10,000) imported through the contacts
   plugin, with the ``file`` transport:

   * ``send``: ``crm.plugin("surveys").send`` — the audience read from the
     contacts plugin, one token and one rendered message per recipient, the
     invitations, ``crm.mail.queue_many`` and the ``SurveySent`` events
     (the issue's figure: at least 2,000 messages/s);
   * ``deliver``: ``crm.mail.deliver()`` writing the queued messages as
     ``.eml`` files to the outbox;
   * ``send + deliver``: the two together;
   * baseline: the kernel's ``crm.mail.queue_many`` of the same number of
     messages already rendered (what any plugin pays to queue mail), so
     the ratio is the surveys plugin's cost on top of the queue.

   Each repeat sends in a new round (everyone again) to a fresh outbox.

2. **Results.** A survey with 1,000,000 complete answers (``--quick``:
   100,000) — an NPS, a CSAT and a single-choice question each, a free-text
   answer from one in twenty — written with ``bulk_insert`` as the API would
   have stored them, over 8 regions and 24 months, on SQLite:

   * ``results()`` overall, ``by=region``, and ``by=region, quarter``
     (target: under 2 s);
   * baseline: the one ``GROUP BY`` over ``surveys_answer`` that any
     SQL-computed result needs, run with ``sqlite3`` on the same file.

    python -m bench.bench_surveys [--quick] [--recipients N] [--answers N] [--repeat N]
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section, timed

SEND_TARGET = 2000.0  # messages per second
RESULTS_TARGET = 2.0  # seconds

SURVEY: dict[str, Any] = {
    "key": "bench",
    "title": "How did we do?",
    "introduction": "Two minutes of your time help us serve you better.",
    "email": {
        "subject": "{{ first_name or display_name }}, how did we do?",
        "text": (
            "Dear {{ display_name }},\n\n{{ survey.introduction }}\n\n"
            'Please answer our survey "{{ survey.title }}" here:\n{{ link }}\n\n'
            "The link is personal and works until {{ expires_on }}.\n"
            "{% if region %}Your region: {{ region }}{% endif %}\n"
        ),
        "html": '<p>Dear {{ display_name }},</p><p><a href="{{ link }}">Answer the survey</a> until {{ expires_on }}.</p>',
    },
    "questions": [
        {"key": "recommend", "kind": "nps", "text": "Would you recommend us?", "required": True},
        {
            "key": "why",
            "kind": "text",
            "text": "What should we do better?",
            "show_if": {"question": "recommend", "op": "<=", "value": 6},
        },
        {"key": "satisfaction", "kind": "csat", "text": "How satisfied are you?"},
        {
            "key": "channel",
            "kind": "single_choice",
            "text": "How do you contact us?",
            "choices": ["Phone", "E-mail", "Shop", "Web"],
        },
    ],
}
REGIONS = ("ES-MD", "ES-CT", "ES-AN", "PT-11", "FR-IDF", "FR-ARA", "DE-BY", None)
MONTHS = [f"{2024 + m // 12}-{m % 12 + 1:02d}" for m in range(24)]


def _add_args(parser: Any) -> None:
    parser.add_argument(
        "--recipients", type=int, default=None, help="recipients of the send (default 100,000; --quick 10,000)"
    )
    parser.add_argument(
        "--answers", type=int, default=None, help="answers for the results (default 1,000,000; --quick 100,000)"
    )
    parser.add_argument("--repeat", type=int, default=None, help="repeats of each measurement (default 3; --quick 2)")


def _app(folder: Path, outbox: Path | None = None) -> Any:
    from crm_core.app import CRM

    settings = {"surveys": {"secret": "bench-secret"}}
    mail = {"transport": "file", "outbox": str(outbox)} if outbox else {"transport": "memory"}
    # invitations are bulk mail: without the portal, a mailto: is their unsubscribe link
    mail["unsubscribe_mailto"] = "unsubscribe@example.com"
    from crm_core.config import Config, CoreSettings, structure_section

    core = structure_section({"database": f"sqlite:///{folder / 'crm.db'}", "mail": mail}, CoreSettings, "bench", "crm")
    config = Config(core=core, enabled=("contacts", "surveys"), plugin_tables=settings, path=folder / "crm.toml")
    app = CRM(config=config, strict=True)
    app.migrate()
    app.deliver_events = "worker"  # the send's events wait for the worker, as in a bulk job
    return app


# -- 1. sending -------------------------------------------------------------------


def bench_send(recipients: int, repeat: int) -> list[Figure]:
    from crm_core.mail import OutgoingMessage

    section(f"send: {recipients:,} recipients, {repeat} repeat(s)")
    folder = Path(tempfile.mkdtemp(prefix="bench_surveys_send_"))
    try:
        outbox = folder / "outbox"
        app = _app(folder, outbox)
        contacts = app.plugin("contacts")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["first_name", "last_name", "email", "region"])
        for i in range(recipients):
            writer.writerow([f"Ana{i}", "García Núñez", f"ana.garcia{i}@example.com", REGIONS[i % 7]])
        buffer.seek(0)
        contacts.create_list("bench")
        seconds, report = timed(
            lambda: contacts.import_csv(
                buffer,
                list_name="bench",
                mapping={"first_name": "first_name", "last_name": "last_name", "email": "email", "region": "region"},
            )
        )
        print(f"  set-up: {report.created:,} contacts imported into list 'bench' in {seconds:.1f} s", flush=True)
        api = app.plugin("surveys")
        api.save(SURVEY)
        sends, delivers, both, baselines = [], [], [], []
        for n in range(repeat):
            shutil.rmtree(outbox, ignore_errors=True)
            t_send, result = timed(lambda: api.send("bench", "bench", round=f"bench-{n}"))
            assert result.sent == recipients, result
            t_deliver, delivered = timed(lambda: _deliver_all(app))
            assert delivered == recipients, delivered
            files = sum(1 for _ in outbox.rglob("*.eml"))
            assert files == recipients, files
            # the baseline: the kernel's queue alone, the same number of messages already rendered
            messages = [
                OutgoingMessage(
                    f"Ana{i} García Núñez <ana.garcia{i}@example.com>",
                    f"Ana{i}, how did we do?",
                    f"Dear Ana{i},\n\nhttp://localhost:8000/surveys/{i}\n",
                    key=f"baseline:{n}:{i}",
                )
                for i in range(recipients)
            ]
            t_base, queued = timed(lambda: app.mail.queue_many(messages))
            assert queued == recipients
            _forget_queue(app)
            sends.append(recipients / t_send)
            delivers.append(recipients / t_deliver)
            both.append(recipients / (t_send + t_deliver))
            baselines.append(recipients / t_base)
            print(
                f"  run {n + 1}: send {t_send:.2f} s, deliver to .eml {t_deliver:.2f} s, "
                f"baseline queue_many {t_base:.2f} s",
                flush=True,
            )
        app.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    base = median(baselines)
    return [
        Figure(
            "send (render + queue)",
            median(sends),
            "msg/s",
            f"{recipients:,}",
            baseline=base,
            baseline_name="queue_many of rendered messages",
            higher_is_better=True,
            target_value=SEND_TARGET,
        ),
        # the kernel's delivery (crm.mail.deliver building each message and writing its .eml), for reference
        Figure("deliver to the file transport", median(delivers), "msg/s", f"{recipients:,}", higher_is_better=True),
        Figure("send + deliver", median(both), "msg/s", f"{recipients:,}", higher_is_better=True),
    ]


def _deliver_all(app: Any) -> int:
    total = 0
    while True:
        report = app.mail.deliver()
        total += report.sent
        if not report.sent:
            return total


def _forget_queue(app: Any) -> None:
    """Drop the baseline's queued messages, so that the next run's delivery does not send them."""
    from crm_core.mail.models import MailMessage

    with app.activate():
        MailMessage.delete().where(MailMessage.key.startswith("baseline:")).execute()


# -- 2. results ---------------------------------------------------------------------


def _fill(app: Any, answers: int) -> int:
    """``answers`` complete responses to survey 'bench', written as the API stores them."""
    from crm_core.storage import bulk_insert
    from crm_surveys.models import Answer, Invitation, Response, Round, Survey

    rng = random.Random(1)
    api = app.plugin("surveys")
    api.save(SURVEY)
    with app.activate():
        survey = Survey.get(Survey.key == "bench")
        now = dt.datetime(2026, 1, 1)
        round_id = Round.insert(survey=survey.id, key="manual", created_at=now).execute()
        nps = [rng.choices(range(11), weights=[2, 1, 1, 2, 2, 4, 6, 10, 16, 22, 20])[0] for _ in range(997)]
        plan = [(i, REGIONS[rng.randrange(8)], MONTHS[rng.randrange(24)], nps[i % 997]) for i in range(1, answers + 1)]
        database = app.database
        with database.atomic():
            bulk_insert(
                Invitation,
                (
                    "id",
                    "survey_id",
                    "round_id",
                    "version",
                    "contact_id",
                    "original_contact_id",
                    "medium",
                    "region",
                    "month",
                    "sent_at",
                    "answered_at",
                ),
                ((i, survey.id, round_id, 1, i, i, "email", region, month, now, now) for i, region, month, _ in plan),
                database=database,
            )
            # a tenth more invitations that were never answered
            extra = answers // 10
            bulk_insert(
                Invitation,
                (
                    "id",
                    "survey_id",
                    "round_id",
                    "version",
                    "contact_id",
                    "original_contact_id",
                    "medium",
                    "region",
                    "month",
                    "sent_at",
                ),
                (
                    (
                        answers + i,
                        survey.id,
                        round_id,
                        1,
                        answers + i,
                        answers + i,
                        "email",
                        REGIONS[i % 8],
                        MONTHS[i % 24],
                        now,
                    )
                    for i in range(1, extra + 1)
                ),
                database=database,
            )
            bulk_insert(
                Response,
                (
                    "id",
                    "invitation_id",
                    "survey_id",
                    "version",
                    "contact_id",
                    "channel",
                    "complete",
                    "negative",
                    "region",
                    "month",
                    "data",
                    "created_at",
                    "updated_at",
                    "answered_at",
                ),
                (
                    (i, i, survey.id, 1, i, "web", True, score <= 6, region, month, "{}", now, now, now)
                    for i, region, month, score in plan
                ),
                database=database,
            )

            def rows():
                channels = ("Phone", "E-mail", "Shop", "Web")
                for i, region, month, score in plan:
                    yield (i, survey.id, 1, "recommend", region, month, score, None, None)
                    yield (
                        i,
                        survey.id,
                        1,
                        "satisfaction",
                        region,
                        month,
                        max(1, min(5, round(1 + score * 0.4))),
                        None,
                        None,
                    )
                    yield (i, survey.id, 1, "channel", region, month, None, channels[i % 4], None)
                    if score <= 6 and i % 20 == 0:
                        yield (i, survey.id, 1, "why", region, month, None, None, f"Too slow, case {i}")

            rows_written = bulk_insert(
                Answer,
                ("response_id", "survey_id", "version", "question", "region", "month", "value", "choice", "text"),
                rows(),
                database=database,
            )
        database.execute_sql("ANALYZE")
    return rows_written


def bench_results(answers: int, repeat: int) -> list[Figure]:
    section(f"results: {answers:,} answers, {repeat} repeat(s)")
    folder = Path(tempfile.mkdtemp(prefix="bench_surveys_results_"))
    try:
        app = _app(folder)
        seconds, rows = timed(lambda: _fill(app, answers))
        print(f"  set-up: {answers:,} responses, {rows:,} answer rows written in {seconds:.1f} s", flush=True)
        api = app.plugin("surveys")
        plain = sqlite3.connect(str(folder / "crm.db"))
        baseline_sql = (
            "SELECT version, question, region, month, value, choice, COUNT(*) FROM surveys_answer WHERE survey_id = ? "
            "GROUP BY version, question, region, month, value, choice"
        )
        overall, by_region, by_both, baselines = [], [], [], []
        for n in range(repeat):
            t, result = timed(lambda: api.results("bench"))
            overall.append(t)
            assert result.overall.responses == answers, result.overall.responses
            t, _ = timed(lambda: api.results("bench", by=["region"]))
            by_region.append(t)
            t, result = timed(lambda: api.results("bench", by=["region", "quarter"]))
            by_both.append(t)
            t, groups = timed(lambda: plain.execute(baseline_sql, (1,)).fetchall())
            baselines.append(t)
            recommend = next(q for q in result.overall.questions if q.key == "recommend")
            print(
                f"  run {n + 1}: results {overall[-1]:.2f} s, by region {by_region[-1]:.2f} s, by region and quarter "
                f"{by_both[-1]:.2f} s, baseline GROUP BY {t:.2f} s ({len(groups):,} groups); NPS {recommend.nps}, "
                f"{len(result.segments)} segments",
                flush=True,
            )
        plain.close()
        app.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    base = median(baselines)
    n = f"{answers:,}"
    name = "GROUP BY over surveys_answer (sqlite3)"
    return [
        Figure("results()", median(overall), "s", n, baseline=base, baseline_name=name, target_value=RESULTS_TARGET),
        Figure(
            "results(by=region)",
            median(by_region),
            "s",
            n,
            baseline=base,
            baseline_name=name,
            target_value=RESULTS_TARGET,
        ),
        Figure(
            "results(by=region, quarter)",
            median(by_both),
            "s",
            n,
            baseline=base,
            baseline_name=name,
            target_value=RESULTS_TARGET,
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "The surveys plugin: sending by e-mail and results over many answers.", _add_args)
    recipients = args.recipients or (10_000 if args.quick else 100_000)
    answers = args.answers or (100_000 if args.quick else 1_000_000)
    repeat = args.repeat or (2 if args.quick else 3)
    send = bench_send(recipients, repeat)
    print_table(f"Surveys: render and queue a survey for {recipients:,} recipients (file transport)", send)
    results = bench_results(answers, repeat)
    print_table(f"Surveys: results of a survey with {answers:,} answers (SQLite)", results)


if __name__ == "__main__":
    main()
