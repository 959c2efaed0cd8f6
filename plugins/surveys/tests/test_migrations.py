"""The surveys plugin's migrations: an upgrade keeps every answer and reshapes the indexes."""

from __future__ import annotations

from pathlib import Path

import crm_surveys


def test_upgrading_from_the_first_migration_keeps_the_answers(crm_factory, definition):
    from playhouse.migrations import Runner

    app = crm_factory(plugins=["contacts", "surveys"], settings={"surveys": {"secret": "s"}}, migrate=False)
    steps = app.migrate(dry_run=True)
    assert [s.name for s in steps if s.owner == "surveys"] == [
        "0001_initial",
        "0002_results_indexes",
        "0003_secret_to_kernel",
    ]
    # bring everything up to date except the surveys plugin's second migration
    with app.activate():
        for step in steps:
            if step.owner != "surveys":
                Runner(app.database, str(step.path.parent), table_name=f"{step.owner}_schema_migration").up(
                    target=step.name
                )
        folder = Path(crm_surveys.__file__).parent / "migrations"
        Runner(app.database, str(folder), table_name="surveys_schema_migration").up(target="0001_initial")
    api = app.plugin("surveys")
    api.save(definition)
    ana = app.plugin("contacts").create(first_name="Ana", email="ana@example.com", region="ES").id
    api.answer("csat", ana, {"recommend": 4, "why": "Slow", "channel": "Shop"})
    assert [s.name for s in app.migrate()] == ["0002_results_indexes", "0003_secret_to_kernel"]
    results = api.results("csat")
    recommend = next(q for q in results.overall.questions if q.key == "recommend")
    assert results.overall.responses == 1 and recommend.detractors == 1
    indexes = {tuple(i.columns) for i in app.database.get_indexes("surveys_answer")}
    assert ("survey_id", "question", "version", "region", "month", "value", "choice") in indexes
    assert ("survey_id", "version", "question", "region", "month", "value", "choice") not in indexes
    indexes = {tuple(i.columns) for i in app.database.get_indexes("surveys_response")}
    assert ("survey_id", "complete", "region", "month") in indexes and ("survey_id", "complete") not in indexes


def test_upgrading_moves_the_plugins_own_key_to_the_kernel_and_old_links_keep_working(crm_factory, definition):
    """Migration 0003: ``surveys_secret`` becomes ``crm_secret`` row ``legacy:surveys``; links signed with it still open."""
    import base64
    import datetime as dt
    import hashlib
    import hmac

    from playhouse.migrations import Runner

    app = crm_factory(plugins=["contacts", "surveys"], migrate=False)
    steps = app.migrate(dry_run=True)
    with app.activate():
        for step in steps:
            if step.owner != "surveys":
                Runner(app.database, str(step.path.parent), table_name=f"{step.owner}_schema_migration").up(
                    target=step.name
                )
        folder = Path(crm_surveys.__file__).parent / "migrations"
        Runner(app.database, str(folder), table_name="surveys_schema_migration").up(target="0002_results_indexes")
        app.database.execute_sql(
            "INSERT INTO surveys_secret (name, value, created_at) VALUES ('token', 'the-old-generated-key', '2026-01-01 00:00:00')"
        )
    assert [s.name for s in app.migrate()] == ["0003_secret_to_kernel"]
    assert "surveys_secret" not in app.database.get_tables()
    api = app.plugin("surveys")
    api.save(definition)
    ana = app.plugin("contacts").create(first_name="Ana", email="ana@example.com").id
    fresh = api.token("csat", ana)  # new links: the kernel's format and key
    invitation = api.form(fresh)
    expires = int((app.clock.now() + dt.timedelta(days=3)).timestamp())

    def b36(n: int) -> str:
        out = ""
        while True:
            n, r = divmod(n, 36)
            out = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + out
            if not n:
                return out

    with app.activate():
        from crm_surveys.models import Invitation

        row = Invitation.get(Invitation.original_contact_id == ana)
        survey_id, round_id = row.survey_id, row.round_id
    payload = "-".join(b36(n) for n in (survey_id, round_id, ana, expires))
    signature = base64.urlsafe_b64encode(
        hmac.new(b"the-old-generated-key", b"token:" + payload.encode(), hashlib.sha256).digest()[:16]
    )
    old = payload + "." + signature.rstrip(b"=").decode()
    assert api.form(old).contact_id == invitation.contact_id == ana
