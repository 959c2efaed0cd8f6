"""Users and teams in the kernel: the service, the last-admin rule, the CLI and ``--as``."""

from __future__ import annotations

import json

import pytest

from crm_core.errors import NotFoundError, PermissionDenied, ValidationError
from crm_hookspecs.events import SecurityEvent

PASSWORD = "correct horse battery staple"


@pytest.fixture
def crm(crm_factory, crm_recorder):
    return crm_factory(plugins=[("recorder", crm_recorder)])


def test_add_and_read_a_user(crm):
    users = crm.authz.users
    crm.authz.teams.add("north")
    crm.authz.teams.add("south")
    ana = users.add(
        "Ana",
        display_name="Ana Silva",
        email="ana@example.com",
        language="pt-BR",
        timezone="Europe/Lisbon",
        teams=["north", "SOUTH"],
        roles=["sales"],
    )
    assert (ana.name, ana.display_name, ana.email, ana.language, ana.timezone) == (
        "Ana",
        "Ana Silva",
        "ana@example.com",
        "pt-BR",
        "Europe/Lisbon",
    )
    assert (
        ana.teams == ("north", "south") and ana.roles == ("sales",) and ana.active and ana.created_at == crm.clock.now()
    )
    assert users.get("ANA") == ana and users.get(ana.id) == ana
    assert [u.name for u in users.list()] == ["Ana"]


def test_names_differing_only_in_case_are_one_name(crm):
    crm.authz.users.add("Ana")
    with pytest.raises(ValidationError, match="user name 'ana' is taken: user 'Ana' exists"):
        crm.authz.users.add("ana")
    crm.authz.teams.add("North")
    with pytest.raises(ValidationError, match="team name 'NORTH' is taken"):
        crm.authz.teams.add("NORTH")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "a b"}, "user name 'a b'"),
        ({"name": "x", "email": "nobody"}, "e-mail address 'nobody' is not valid"),
        ({"name": "x", "language": "english!"}, "language 'english!' is not a language tag"),
        ({"name": "x", "timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"name": "x", "password": "short"}, "the password is too short"),
    ],
)
def test_bad_user_details_are_refused_and_nothing_is_written(crm, kwargs, message):
    kwargs = dict(kwargs)  # the parameters are shared by the backends' runs
    name = kwargs.pop("name")
    with pytest.raises(ValidationError, match=message):
        crm.authz.users.add(name, **kwargs)
    assert crm.authz.users.list() == []


def test_an_unknown_team_is_refused(crm):
    with pytest.raises(NotFoundError, match="no team 'nowhere'"):
        crm.authz.users.add("ana", teams=["nowhere"])


def test_edit_changes_details_teams_and_roles_and_audits(crm):
    users = crm.authz.users
    crm.authz.teams.add("north")
    users.add("ana", roles=["sales"])
    after = users.edit(
        "ana",
        display_name="Ana",
        email="a@example.com",
        add_teams=["north"],
        add_roles=["support"],
        remove_roles=["sales"],
    )
    assert after.teams == ("north",) and after.roles == ("support",) and after.email == "a@example.com"
    entry = crm.authz.audit.entries(action="user.changed")[0]
    assert entry["detail"]["roles"] == [["sales"], ["support"]]
    with pytest.raises(ValidationError, match="does not have role 'admin'"):
        users.edit("ana", remove_roles=["admin"])


def test_the_last_admin_cannot_be_disabled_or_lose_the_role(crm):
    users = crm.authz.users
    users.add("root", roles=["admin"])
    with pytest.raises(ValidationError, match="cannot disable 'root': they are the last active admin"):
        users.disable("root")
    with pytest.raises(ValidationError, match="cannot take the admin role from 'root'"):
        users.edit("root", remove_roles=["admin"])
    assert [e["action"] for e in crm.authz.audit.entries(action="admin.refused")] == ["admin.refused"] * 2
    users.add("second", roles=["admin"])
    users.disable("root")
    assert not users.get("root").active
    with pytest.raises(ValidationError, match="last active admin"):
        users.edit("second", remove_roles=["admin"])


def test_disabling_ends_sessions_at_once_and_enabling_does_not_revive_them(crm):
    users = crm.authz.users
    users.add("ana", password=PASSWORD)
    key = crm.authz.sessions.sign_in("ana", PASSWORD).session_key
    users.disable("ana")
    from crm_core.errors import AuthenticationError

    with pytest.raises(AuthenticationError, match="session has ended"):
        crm.authz.sessions.lookup(key)
    users.enable("ana")
    with pytest.raises(AuthenticationError):
        crm.authz.sessions.lookup(key)


def test_security_events_are_audited_and_emitted(crm, crm_recorder):
    crm.authz.users.add("root", roles=["admin"])
    with crm.as_user("root"):
        crm.authz.users.add("ana")
        crm.authz.users.disable("ana")
    rows = crm.authz.audit.entries()
    assert [r["action"] for r in rows] == ["user.disabled", "user.added", "user.added"]
    assert rows[0]["actor"] == "root" and rows[2]["actor"] is None
    events = [e for e in crm_recorder.events if isinstance(e, SecurityEvent)]
    assert [(e.action, e.user_name, e.actor) for e in events] == [
        ("user.added", "root", None),
        ("user.added", "ana", "root"),
        ("user.disabled", "ana", "root"),
    ]
    assert events[-1].audit_id == rows[0]["id"]


def test_managing_users_needs_admin_users(crm, crm_as_user):
    with crm_as_user(crm, roles=["manager"]):
        with pytest.raises(PermissionDenied, match="may not admin.users"):
            crm.authz.users.add("x")
        with pytest.raises(PermissionDenied):
            crm.authz.teams.add("x")


def test_a_user_sets_their_own_password_but_not_others(crm, crm_user):
    ana = crm_user(crm, name="ana")
    crm_user(crm, name="bob")
    with crm.as_user(ana):
        crm.authz.users.set_password("ana", PASSWORD)
        with pytest.raises(PermissionDenied):
            crm.authz.users.set_password("bob", PASSWORD)


def test_teams_remove_refuses_members_unless_forced(crm, crm_user):
    crm_user(crm, name="ana", teams=["north"])
    with pytest.raises(ValidationError, match="team 'north' has 1 member"):
        crm.authz.teams.remove("north")
    assert crm.authz.teams.remove("north", force=True) == 1
    assert crm.authz.users.get("ana").teams == ()


# -- the CLI -------------------------------------------------------------------


def test_cli_users_teams_and_roles(crm, crm_cli):
    run = lambda *args, **kw: crm_cli.invoke(list(args), app=crm, **kw)  # noqa: E731
    assert run("teams", "add", "north").exit_code == 0
    result = run(
        "users",
        "add",
        "ana",
        "--role",
        "admin",
        "--team",
        "north",
        "--email",
        "ana@example.com",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert (
        run("users", "add", "bob", "--role", "sales", "--set-password", input=f"{PASSWORD}\n{PASSWORD}\n").exit_code
        == 0
    )
    listing = json.loads(run("users", "list", "--format", "json").output)
    assert [(u["name"], u["roles"]) for u in listing] == [("ana", ["admin"]), ("bob", ["sales"])]
    shown = run("users", "show", "ana").output
    assert "teams:          north" in shown and "admin.users" in shown
    assert run("users", "edit", "bob", "--add-team", "north", "--display-name", "Bob").exit_code == 0
    assert "ana, bob" in run("teams", "show", "north").output
    refused = run("users", "add", "ANA")
    assert refused.exit_code == 2 and "user name 'ANA' is taken" in refused.output
    weak = run("users", "passwd", "bob", "--password-stdin", input="password1234\n")
    assert weak.exit_code == 2 and "most common passwords" in weak.output
    last = run("users", "disable", "ana")
    assert last.exit_code == 2 and "last active admin" in last.output
    assert run("users", "disable", "bob").exit_code == 0 and run("users", "enable", "bob").exit_code == 0
    assert "sales" in run("roles", "list").output and "admin.tokens" in run("roles", "permissions").output
    assert run("roles", "add", "helpdesk", "--grant", "admin.audit", "--scope", "*=team").exit_code == 0
    assert "admin.audit" in run("roles", "show", "helpdesk").output
    assert run("roles", "edit", "helpdesk", "--revoke", "admin.audit").exit_code == 0
    assert run("roles", "remove", "helpdesk").exit_code == 0
    bad_scope = run("roles", "add", "x", "--scope", "contacts")
    assert bad_scope.exit_code == 2 and "RECORD_TYPE=own|team|all" in bad_scope.output
    assert "user.added" in run("users", "audit", "--action", "user.added").output
    assert "ended 0 session(s)" in run("users", "signout", "bob").output
    assert run("teams", "remove", "north", "--force").exit_code == 0
    assert run("teams", "list").output.strip() == "(none)"
    assert "configured role(s) checked" in run("roles", "check").output
    assert "two-factor sign-in is off" in run("users", "reset-two-factor", "bob").output


def test_cli_as_user_checks_permissions(crm, crm_cli, crm_user):
    crm_user(crm, name="boss", roles=["admin"])
    crm_user(crm, name="seller", roles=["sales"])
    denied = crm_cli.invoke(["--as", "seller", "users", "add", "carl"], app=crm)
    assert denied.exit_code == 6 and "user 'seller' may not admin.users" in denied.output
    assert crm_cli.invoke(["--as", "boss", "users", "add", "carl"], app=crm).exit_code == 0
    assert crm.authz.audit.entries(action="user.added")[0]["actor"] == "boss"
    assert crm.current_user is None  # the CLI's acting user does not leak out of the command
    unknown = crm_cli.invoke(["--as", "nobody", "users", "list"], app=crm)
    assert unknown.exit_code == 5 and "no user 'nobody'" in unknown.output
    crm.authz.users.disable("seller")
    disabled = crm_cli.invoke(["--as", "seller", "users", "list"], app=crm)
    assert disabled.exit_code == 7 and "user 'seller' is disabled and cannot act" in disabled.output


def test_cli_maps_the_shell_user_by_name_else_acts_as_the_system(crm, crm_cli, crm_user, monkeypatch):
    monkeypatch.setenv("LOGNAME", "Seller")
    monkeypatch.setenv("USER", "Seller")
    assert (
        crm_cli.invoke(["users", "add", "seller", "--role", "sales"], app=crm).exit_code == 0
    )  # no such user yet: the system
    denied = crm_cli.invoke(["users", "add", "other"], app=crm)  # now the shell user is the CRM user 'seller'
    assert denied.exit_code == 6 and "'seller' may not admin.users" in denied.output
    monkeypatch.setenv("LOGNAME", "nobody-here")
    monkeypatch.setenv("USER", "nobody-here")
    assert crm_cli.invoke(["users", "add", "other"], app=crm).exit_code == 0


def test_cli_tokens(crm, crm_cli, crm_user):
    crm_user(crm, name="ana", roles=["admin"])
    created = crm_cli.invoke(
        ["tokens", "create", "ana", "--name", "export", "--scope", "admin.users", "--days", "7"], app=crm
    )
    assert created.exit_code == 0, created.output
    text = created.stdout.strip().splitlines()[0]
    assert text.startswith("crm_") and "copy it now" in created.stderr
    listing = json.loads(crm_cli.invoke(["tokens", "list", "--format", "json"], app=crm).output)
    assert (
        listing[0]["prefix"] == text.split("_")[1]
        and listing[0]["state"] == "active"
        and text not in json.dumps(listing)
    )
    assert crm_cli.invoke(["tokens", "revoke", listing[0]["prefix"]], app=crm).exit_code == 0
    assert json.loads(crm_cli.invoke(["tokens", "list", "--format", "json"], app=crm).output)[0]["state"] == "revoked"
    beyond = crm_cli.invoke(["tokens", "create", "ana", "--name", "x", "--scope", "admin.nothing"], app=crm)
    assert beyond.exit_code == 2 and "unknown permission 'admin.nothing'" in beyond.output


def test_a_user_manager_cannot_take_over_a_user_with_more_rights(crm, crm_user):
    crm.authz.roles.add("user-admin", permissions=["admin.users", "admin.tokens"])
    crm_user(crm, name="root", roles=["admin"])
    helper = crm_user(crm, name="helper", roles=["user-admin"])
    crm_user(crm, name="clerk", roles=["read-only"])
    with crm.as_user(helper):
        crm.authz.users.set_password("clerk", PASSWORD)  # holds nothing the helper lacks
        crm.authz.tokens.create("clerk", "clerk's")
        for attempt in (
            lambda: crm.authz.users.set_password("root", PASSWORD),
            lambda: crm.authz.users.disable("root"),
            lambda: crm.authz.users.edit("root", email="me@example.com"),
            lambda: crm.authz.tokens.create("root", "take over"),
            lambda: crm.authz.sessions.disable_two_factor("root"),
        ):
            with pytest.raises(
                PermissionDenied,
                match="may not manage 'root', who holds permissions they do not \\(admin.audit, admin.roles, admin.system\\)",
            ):
                attempt()


def test_crm_help_imports_neither_argon2_nor_the_auth_modules(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from crm_core.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('argon2', 'crm_core.auth', 'crm_core.cli.users'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_warehouse_keeps_security_events_when_installed(crm_factory):
    crm = crm_factory(plugins=["contacts", "warehouse"])
    crm.authz.users.add("ana", roles=["sales"])
    crm.authz.users.disable("ana")
    stored = crm.plugin("warehouse").events(type_name="SecurityEvent")
    assert [(s.event.action, s.event.user_name) for s in reversed(stored)] == [
        ("user.added", "ana"),
        ("user.disabled", "ana"),
    ]
    assert all(s.known for s in stored)


def test_the_worker_always_acts_as_the_system(crm, crm_cli, crm_user, monkeypatch):
    from crm_core.cli.main import CLIState

    crm_user(crm, name="operator", roles=["read-only"])
    monkeypatch.setenv("LOGNAME", "operator")
    monkeypatch.setenv("USER", "operator")
    refused = crm_cli.invoke(["--as", "operator", "worker", "--once"], app=crm)
    assert refused.exit_code == 2 and "'crm worker' always acts as the system" in refused.output
    state = CLIState(app=crm)
    state.command = "worker"
    state.crm()
    assert crm.current_user is None  # the shell user is a CRM user, yet the worker is the system
    state.command = "users"
    state._acted = False
    state.crm()
    assert crm.current_user.name == "operator"
    state.close()
    assert crm.current_user is None
