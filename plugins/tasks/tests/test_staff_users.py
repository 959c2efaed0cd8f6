"""Staff become CRM users: the migration 0002_staff_users, the fallback to the config list, the deprecation."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from crm_core.errors import AuthenticationError, ValidationError

MIGRATION = Path(__file__).parents[1] / "crm_tasks" / "migrations" / "0002_staff_users.py"


def _run_migration_again(app: Any) -> None:
    """Call the migration's ``up`` as ``crm migrate`` does (inside the app's activation)."""
    spec = importlib.util.spec_from_file_location("tasks_0002_staff_users", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with app.activate():
        module.up(None, app.database)


def _users(app: Any) -> list[tuple[Any, ...]]:
    return [
        (u.id, u.name, u.email, u.display_name, list(u.roles), list(u.teams), u.active) for u in app.authz.users.list()
    ]


def test_each_configured_staff_member_became_a_user(tasks_app):
    app = tasks_app()
    assert [row[1:] for row in _users(app)] == [
        ("ana", "ana@example.com", "Ana Ruiz", ["sales"], ["sales"], True),
        ("luis", "luis@example.com", "", ["sales"], ["sales", "support"], True),
        ("marta", "marta@example.com", "", ["sales"], ["support"], True),
        ("old", "old@example.com", "", ["sales"], [], False),  # active = false: disabled, gets no new tasks
    ]
    assert [t["name"] for t in app.authz.teams.list()] == ["sales", "support"]
    with pytest.raises(AuthenticationError):  # no password: nobody can sign in as them yet
        app.authz.sessions.sign_in("ana", "")
    api = app.plugin("tasks")
    assert api.add("Call", assignee="ana").assignee == "ana"  # assignments by name keep working
    assert api.add("Call", assignee="Luis").assignee == "luis"  # in any case, stored as the user spells it
    with pytest.raises(ValidationError, match="assignee 'old' is inactive"):
        api.add("Call", assignee="old")
    assert api.teams() == {"sales": ["ana", "luis"], "support": ["luis", "marta"]}


def test_running_the_migration_again_changes_nothing(tasks_app):
    app = tasks_app()
    before = _users(app)
    _run_migration_again(app)
    _run_migration_again(app)
    assert _users(app) == before
    assert [t["name"] for t in app.authz.teams.list()] == ["sales", "support"]


def test_a_user_named_in_another_case_is_the_same_person(tasks_app, tasks_staff):
    first = tasks_app()
    first.authz.teams.add("LEGAL")
    first.authz.users.add("ZOE", email="zoe@corp.example", roles=["manager"])
    staff = [
        *tasks_staff,
        {"name": "zoe", "email": "zoe@example.com", "teams": ["legal"]},
        {"name": "pablo", "email": "pablo@example.com", "teams": ["Legal", "SUPPORT"]},
    ]
    app = tasks_app(staff=staff)  # the same database, with two more configured
    _run_migration_again(app)
    users = {u.name: u for u in app.authz.users.list()}
    assert sorted(users, key=str.casefold) == ["ana", "luis", "marta", "old", "pablo", "ZOE"]
    assert (list(users["ZOE"].roles), users["ZOE"].email, list(users["ZOE"].teams)) == (
        ["manager"],
        "zoe@corp.example",
        [],
    )
    assert sorted(users["pablo"].teams) == ["LEGAL", "support"]  # the teams that existed, in another case
    assert [t["name"] for t in app.authz.teams.list()] == ["LEGAL", "sales", "support"]
    api = app.plugin("tasks")
    assert api.add("Call", assignee="zoe").assignee == "ZOE"


def test_without_users_the_configured_staff_are_used(crm_factory, tasks_staff):
    from crm_tasks.staff import Staff

    # not migrated: no users table yet, as before users existed
    app = crm_factory(plugins=["contacts", "tasks"], settings={"tasks": {"staff": tasks_staff}}, migrate=False)
    staff = Staff(app)
    roster = staff.roster()
    assert roster.source == "config" and roster.names() == "ana, luis, marta, old"
    assert staff.check_assignee("ana") == "ana"
    with pytest.raises(ValidationError, match=r"unknown assignee 'bob': not a staff member \(staff: ana, luis"):
        staff.check_assignee("bob")


def test_an_assignee_who_is_no_user_is_refused_naming_crm_users_add(tasks_app):
    app = tasks_app()
    app.authz.users.add("pedro")
    api = app.plugin("tasks")
    assert api.add("Call", assignee="pedro").assignee == "pedro"  # users not in the config list count too
    with pytest.raises(ValidationError, match="no CRM user has that name .*add one with: crm users add zoe"):
        api.add("Call", assignee="zoe")


def test_the_staff_list_is_deprecated_at_startup(tasks_app, caplog):
    with caplog.at_level(logging.WARNING):
        tasks_app()
    warnings = [r.getMessage() for r in caplog.records if "[[plugins.tasks.staff]] is deprecated" in r.getMessage()]
    assert len(warnings) == 1 and "crm users" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        tasks_app(staff=[])
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]


def test_rules_name_users_not_in_the_config_list(tasks_app):
    rule = {
        "name": "to-pedro",
        "trigger": "event",
        "event": "RequestReceived",
        "action": "task",
        "task": {"title": "Request {record_id}", "assignee": "Pedro"},
    }
    first = tasks_app()
    first.authz.users.add("pedro")
    app = tasks_app(rules=[rule])  # checked against the users when the app starts
    from crm_hookspecs.events import RequestReceived

    app.emit(RequestReceived(record_id=3, contact_id=None, kind="rfp"))
    app.events.deliver()
    assert [t.assignee for t in app.plugin("tasks").list(rule="to-pedro")] == ["pedro"]


@pytest.mark.sqlite_only  # a configuration file and the CLI: the backend does not matter
def test_crm_doctor_shows_the_deprecation(crm_cli, tmp_path):
    path = tmp_path / "crm.toml"
    path.write_text(
        f"""
[crm]
database = "sqlite:///{tmp_path / "crm.db"}"
timezone = "UTC"

[plugins]
enabled = ["contacts", "tasks"]

[[plugins.tasks.staff]]
name = "ana"
email = "ana@example.com"
"""
    )
    assert crm_cli.invoke(["migrate"], config=path).exit_code == 0
    result = crm_cli.invoke(["doctor"], config=path)
    assert "plugin tasks: [[plugins.tasks.staff]] is deprecated" in result.output, result.output
    assert "manage them with 'crm users'" in result.output
    assert result.exit_code == 0, result.output  # a warning, not a problem
    result = crm_cli.invoke(["users", "list", "--format", "json"], config=path)
    assert [u["name"] for u in json.loads(result.output)] == ["ana"]
