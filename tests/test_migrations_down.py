"""Every migration of the kernel and of every installed plugin can be undone.

`down()` is what an operator runs to back out an upgrade; a broken one is
found here rather than on a production database.
"""

from __future__ import annotations

from crm_core import schema
from crm_core.plugins import discover


def test_every_migration_goes_down_and_up_again(crm_factory):
    app = crm_factory(plugins=sorted(discover()))
    owners = schema._sources(app)
    with app.activate():
        before = set(app.database.get_tables())
        assert before, "migrate created no tables"
        for owner, directory in reversed(owners):
            runner = schema._runner(app, owner, directory)
            applied = [m for m in runner.status() if m.applied]
            for _ in applied:
                runner.down()
            assert not [m for m in runner.status() if m.applied], f"{owner}: migrations still applied after down()"
        left = set(app.database.get_tables()) - {f"{owner}_schema_migration" for owner, _ in owners}
        assert not left, f"tables left after every down(): {sorted(left)}"
    assert app.migrate(), "nothing re-applied after going down"
    with app.activate():
        assert set(app.database.get_tables()) == before
