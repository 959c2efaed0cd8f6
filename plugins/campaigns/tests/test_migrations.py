"""The campaigns plugin's migration builds exactly the tables its models describe, and undoes them."""

from __future__ import annotations

from pathlib import Path

import crm_campaigns

from crm_core.testing import assert_no_schema_drift

TABLES = {"campaigns_campaign", "campaigns_recurring", "campaigns_send", "campaigns_recipient"}


def test_the_migration_matches_the_models_and_goes_down_and_up_again(crm_factory):
    from playhouse.migrations import Runner

    app = crm_factory(plugins=["contacts", "campaigns"], mail={"unsubscribe_mailto": "out@example.com"})
    assert_no_schema_drift(app)
    assert TABLES <= set(app.database.get_tables())
    folder = Path(crm_campaigns.__file__).parent / "migrations"
    with app.activate():
        runner = Runner(app.database, str(folder), table_name="campaigns_schema_migration")
        runner.down(target="0001_initial")
    assert not TABLES & set(app.database.get_tables())
    assert [s.name for s in app.migrate() if s.owner == "campaigns"] == ["0001_initial"]
    assert_no_schema_drift(app)
