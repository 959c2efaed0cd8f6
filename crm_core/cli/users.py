"""``crm users``, ``crm teams``, ``crm roles`` and ``crm tokens``. Imported only when one of them runs.

Each command acts as the CLI's acting user (``--as USER``, or the shell
user's CRM user, or the system) and the services check that user's
permissions (``admin.users``, ``admin.roles``, ``admin.tokens``).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from crm_core.cli.main import CLIError, CLIState, pass_state
from crm_core.output import format_option, render


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CLIError("--password-stdin: no password on standard input", 2)
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


def _user_row(user: Any) -> dict[str, Any]:
    return {
        "name": user.name,
        "display_name": user.display_name,
        "email": user.email or "",
        "active": "yes" if user.active else "no",
        "teams": list(user.teams),
        "roles": list(user.roles),
        "last_sign_in_at": user.last_sign_in_at,
    }


def _scopes(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        record_type, sep, scope = value.partition("=")
        if not sep or not record_type or scope not in ("own", "team", "all"):
            raise CLIError(f"--scope {value!r}: write RECORD_TYPE=own|team|all, such as contacts.contact=team", 2)
        out[record_type] = scope
    return out


# -- users -----------------------------------------------------------------------


@click.group()
def users() -> None:
    """Add, list, edit, disable and enable users; set passwords."""


@users.command("add")
@click.argument("name")
@click.option("--display-name", default="", help="The name people see.")
@click.option("--email", default=None, help="E-mail address.")
@click.option("--language", default=None, help="Language tag (en, pt-BR).")
@click.option("--timezone", default=None, help="IANA time zone (Europe/Madrid).")
@click.option("--team", "teams", multiple=True, help="A team the user is in (repeat for several).")
@click.option("--role", "roles", multiple=True, help="A role to give (repeat for several).")
@click.option(
    "--set-password", is_flag=True, help="Ask for a password (else the user cannot sign in until 'crm users passwd')."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@pass_state
def users_add(
    state: CLIState,
    name: str,
    display_name: str,
    email: str | None,
    language: str | None,
    timezone: str | None,
    teams: tuple[str, ...],
    roles: tuple[str, ...],
    set_password: bool,
    password_stdin: bool,
) -> None:
    """Add a user (a name differing from another only in case is refused)."""
    app = state.crm()
    password = _read_password(password_stdin) if (set_password or password_stdin) else None
    user = app.authz.users.add(
        name,
        display_name=display_name,
        email=email,
        language=language,
        timezone=timezone,
        teams=teams,
        roles=roles,
        password=password,
    )
    click.echo(f"added user {_summary(user)}")


@users.command("list")
@click.option("--active", "active_only", is_flag=True, help="Leave out disabled users.")
@format_option()
@pass_state
def users_list(state: CLIState, active_only: bool, fmt: str) -> None:
    """List users with their teams and roles."""
    app = state.crm()
    app.authz.require("admin.users")
    rows = [_user_row(u) for u in app.authz.users.list(include_disabled=not active_only)]
    click.echo(render(rows, ["name", "display_name", "email", "active", "teams", "roles", "last_sign_in_at"], fmt))


@users.command("show")
@click.argument("name")
@pass_state
def users_show(state: CLIState, name: str) -> None:
    """Show one user, their permissions and open sessions."""
    app = state.crm()
    user = app.authz.users.get(name)
    acting = app.current_user
    if acting is None or acting.id != user.id:
        app.authz.require("admin.users")
    grants = app.authz.grants_for(user)
    lines = [
        ("name", user.name),
        ("display name", user.display_name),
        ("e-mail", user.email or ""),
        ("language", user.language or ""),
        ("time zone", user.timezone or ""),
        ("active", "yes" if user.active else "no"),
        ("teams", ", ".join(user.teams) or "none"),
        ("roles", ", ".join(user.roles) or "none"),
        ("two-factor", "on" if user.two_factor else "off"),
        ("created", user.created_at.isoformat() if user.created_at else ""),
        ("last sign-in", user.last_sign_in_at.isoformat() if user.last_sign_in_at else "never"),
        ("open sessions", str(app.authz.sessions.live(user.id))),
        (
            "permissions",
            ", ".join(
                f"{p} ({s})" if app.authz.declared.permissions[p].record_type else p for p, s in sorted(grants.items())
            )
            or "none",
        ),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<15} {value}")


@users.command("edit")
@click.argument("name")
@click.option("--display-name", default=None, help="The name people see.")
@click.option("--email", default=None, help="E-mail address ('' clears it).")
@click.option("--language", default=None, help="Language tag ('' clears it).")
@click.option("--timezone", default=None, help="IANA time zone ('' clears it).")
@click.option("--add-team", multiple=True, help="Put the user in a team.")
@click.option("--remove-team", multiple=True, help="Take the user out of a team.")
@click.option("--add-role", multiple=True, help="Give a role.")
@click.option("--remove-role", multiple=True, help="Take a role away (not the last admin's admin role).")
@pass_state
def users_edit(
    state: CLIState,
    name: str,
    display_name: str | None,
    email: str | None,
    language: str | None,
    timezone: str | None,
    add_team: tuple[str, ...],
    remove_team: tuple[str, ...],
    add_role: tuple[str, ...],
    remove_role: tuple[str, ...],
) -> None:
    """Change a user's details, teams and roles."""
    app = state.crm()
    kwargs: dict[str, Any] = {
        k: v for k, v in (("email", email), ("language", language), ("timezone", timezone)) if v is not None
    }
    user = app.authz.users.edit(
        name,
        display_name=display_name,
        add_teams=add_team,
        remove_teams=remove_team,
        add_roles=add_role,
        remove_roles=remove_role,
        **kwargs,
    )
    click.echo(f"changed user {_summary(user)}")


def _summary(user: Any) -> str:
    """``'ana' (roles: sales; teams: north)``, as the add and edit commands confirm."""
    return f"{user.name!r} (roles: {', '.join(user.roles) or 'none'}; teams: {', '.join(user.teams) or 'none'})"


@users.command("disable")
@click.argument("name")
@pass_state
def users_disable(state: CLIState, name: str) -> None:
    """Disable a user: no sign-in, no acting, sessions and tokens stop working at once."""
    app = state.crm()
    user = app.authz.users.disable(name)
    click.echo(f"disabled user {user.name!r}; their sessions are ended and their tokens refused")


@users.command("enable")
@click.argument("name")
@pass_state
def users_enable(state: CLIState, name: str) -> None:
    """Enable a disabled user again."""
    user = state.crm().authz.users.enable(name)
    click.echo(f"enabled user {user.name!r}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@pass_state
def users_passwd(state: CLIState, name: str, password_stdin: bool) -> None:
    """Set a user's password (their open sessions end)."""
    app = state.crm()
    user = app.authz.users.get(name)
    app.authz.users.set_password(user.id, _read_password(password_stdin))
    click.echo(f"set the password of {user.name!r}; their open sessions are ended")


@users.command("signout")
@click.argument("name")
@pass_state
def users_signout(state: CLIState, name: str) -> None:
    """End every open session of a user."""
    app = state.crm()
    user = app.authz.users.get(name)
    app.authz.require_over("admin.users", user)
    count = app.authz.sessions.end_all(user.id)
    click.echo(f"ended {count} session(s) of {user.name!r}")


@users.command("reset-two-factor")
@click.argument("name")
@pass_state
def users_reset_two_factor(state: CLIState, name: str) -> None:
    """Turn a user's two-factor sign-in off (they lost their device and recovery codes)."""
    app = state.crm()
    app.authz.sessions.disable_two_factor(name)
    click.echo(f"two-factor sign-in is off for {app.authz.users.get(name).name!r}; they can turn it on again")


@users.command("audit")
@click.option("--user", default=None, help="Only the entries of this user name.")
@click.option("--action", default=None, help="Only this action (signin.failed), or a prefix ending in a dot (token.).")
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, 100000), help="How many entries, newest first."
)
@format_option()
@pass_state
def users_audit(state: CLIState, user: str | None, action: str | None, limit: int, fmt: str) -> None:
    """Show the security audit, newest first."""
    app = state.crm()
    app.authz.require("admin.audit")
    rows = app.authz.audit.entries(user=user, action=action, limit=limit)
    click.echo(render(rows, ["id", "occurred_at", "action", "user", "actor", "address", "detail"], fmt))


# -- teams -----------------------------------------------------------------------


@click.group()
def teams() -> None:
    """Add, list, show and remove teams."""


@teams.command("add")
@click.argument("name")
@click.option("--description", default="", help="What the team is.")
@pass_state
def teams_add(state: CLIState, name: str, description: str) -> None:
    """Add a team."""
    team = state.crm().authz.teams.add(name, description)
    click.echo(f"added team {team['name']!r}; put users in it with 'crm users edit NAME --add-team {team['name']}'")


@teams.command("list")
@format_option()
@pass_state
def teams_list(state: CLIState, fmt: str) -> None:
    """List teams and their members."""
    rows = state.crm().authz.teams.list()
    click.echo(render(rows, ["name", "description", "members"], fmt))


@teams.command("show")
@click.argument("name")
@pass_state
def teams_show(state: CLIState, name: str) -> None:
    """Show a team and its members."""
    team = state.crm().authz.teams.get(name)
    click.echo(
        f"name:        {team['name']}\ndescription: {team['description']}\nmembers:     {', '.join(team['members']) or 'none'}"
    )


@teams.command("remove")
@click.argument("name")
@click.option("--force", is_flag=True, help="Remove the team even with members (the users stay, without this team).")
@pass_state
def teams_remove(state: CLIState, name: str, force: bool) -> None:
    """Remove a team (refused while it has members, unless --force)."""
    count = state.crm().authz.teams.remove(name, force=force)
    click.echo(f"removed team {name!r}" + (f"; {count} user(s) left it" if count else ""))


# -- roles -----------------------------------------------------------------------


@click.group()
def roles() -> None:
    """List, show and define roles and the permissions they grant."""


def _warn(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"Warning: {line}", err=True)


@roles.command("list")
@format_option()
@pass_state
def roles_list(state: CLIState, fmt: str) -> None:
    """List every role: built-in, from the configuration, and made with 'crm roles add'."""
    app = state.crm()
    _warn(app.authz.warnings)
    rows = [
        {
            "name": r.name,
            "source": r.source,
            "permissions": len(app.authz.declared.granted_by(r)),
            "description": r.description,
        }
        for r in app.authz.roles.all()
    ]
    click.echo(render(rows, ["name", "source", "permissions", "description"], fmt))


@roles.command("show")
@click.argument("name")
@pass_state
def roles_show(state: CLIState, name: str) -> None:
    """Show a role: its grants as written, the permissions they give, and its scopes."""
    app = state.crm()
    role = app.authz.roles.get(name)
    click.echo(f"name:        {role.name} ({role.source})\ndescription: {role.description}")
    click.echo(f"grants:      {', '.join(role.permissions) or 'nothing'}")
    scopes = ", ".join(f"{t}={s}" for t, s in sorted(role.scopes.items())) or "none (own)"
    click.echo(f"scopes:      {scopes}")
    granted = app.authz.declared.granted_by(role)
    click.echo(f"permissions: {', '.join(granted) or 'none'}")


@roles.command("permissions")
@format_option()
@pass_state
def roles_permissions(state: CLIState, fmt: str) -> None:
    """List the permissions and owned record types the kernel and the enabled plugins declare."""
    declared = state.crm().authz.declared
    rows = [
        {
            "name": p.name,
            "kind": "permission",
            "plugin": declared.owners[p.name],
            "record_type": p.record_type or "",
            "description": p.description,
        }
        for p in sorted(declared.permissions.values(), key=lambda p: p.name)
    ] + [
        {
            "name": t.name,
            "kind": "record type",
            "plugin": declared.owners[t.name],
            "record_type": "",
            "description": t.description,
        }
        for t in sorted(declared.record_types.values(), key=lambda t: t.name)
    ]
    click.echo(render(rows, ["name", "kind", "plugin", "record_type", "description"], fmt))


@roles.command("check")
@pass_state
def roles_check(state: CLIState) -> None:
    """Check the configuration's roles against the declared permissions (errors stop, warnings are listed)."""
    app = state.crm()
    _warn(app.authz.warnings)
    click.echo(f"{len(app.config.core.roles)} configured role(s) checked; {len(app.authz.warnings)} warning(s)")


@roles.command("add")
@click.argument("name")
@click.option("--description", default="", help="What the role is for.")
@click.option(
    "--grant", "grants", multiple=True, help="A permission or pattern (contacts.*, *.read, !admin.*) to grant; repeat."
)
@click.option("--scope", "scopes", multiple=True, help="RECORD_TYPE=own|team|all ('*' for every other type); repeat.")
@pass_state
def roles_add(state: CLIState, name: str, description: str, grants: tuple[str, ...], scopes: tuple[str, ...]) -> None:
    """Make a role."""
    app = state.crm()
    _warn(app.authz.roles.add(name, description=description, permissions=grants, scopes=_scopes(scopes)))
    click.echo(f"added role {name!r}; give it with 'crm users edit NAME --add-role {name}'")


@roles.command("edit")
@click.argument("name")
@click.option("--description", default=None, help="What the role is for.")
@click.option("--grant", "grants", multiple=True, help="A permission or pattern to grant; repeat.")
@click.option(
    "--revoke", "revokes", multiple=True, help="A grant to take away, as written in 'crm roles show'; repeat."
)
@click.option("--scope", "scopes", multiple=True, help="RECORD_TYPE=own|team|all; repeat.")
@pass_state
def roles_edit(
    state: CLIState,
    name: str,
    description: str | None,
    grants: tuple[str, ...],
    revokes: tuple[str, ...],
    scopes: tuple[str, ...],
) -> None:
    """Change a role made with 'crm roles add'."""
    app = state.crm()
    _warn(app.authz.roles.edit(name, grant=grants, revoke=revokes, scopes=_scopes(scopes), description=description))
    click.echo(f"changed role {name!r}")


@roles.command("remove")
@click.argument("name")
@pass_state
def roles_remove(state: CLIState, name: str) -> None:
    """Remove a role made with 'crm roles add' (refused while users hold it)."""
    state.crm().authz.roles.remove(name)
    click.echo(f"removed role {name!r}")


# -- tokens ----------------------------------------------------------------------


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", required=True, help="What uses the token ('nightly export').")
@click.option(
    "--scope", "scopes", multiple=True, help="A permission the token may use (repeat); none: all of the user's."
)
@click.option("--days", type=int, default=None, help="Days until it expires [default: [crm.auth] token_days].")
@pass_state
def tokens_create(state: CLIState, user: str, name: str, scopes: tuple[str, ...], days: int | None) -> None:
    """Create a token for a user and print it once."""
    app = state.crm()
    new = app.authz.tokens.create(user, name, scopes=list(scopes) or None, days=days)
    click.echo(new.text)
    click.echo(
        f"API token {new.info.prefix!r} for {new.info.user!r}, expires {new.info.expires_at:%Y-%m-%d}; "
        "copy it now: it is not stored and cannot be shown again",
        err=True,
    )


@tokens.command("list")
@click.option("--user", default=None, help="Only this user's tokens.")
@format_option()
@pass_state
def tokens_list(state: CLIState, user: str | None, fmt: str) -> None:
    """List tokens (never their secret): prefix, name, user, scopes, expiry, last use."""
    app = state.crm()
    now = app.clock.now()
    rows = [
        {
            "prefix": t.prefix,
            "name": t.name,
            "user": t.user,
            "scopes": list(t.scopes) if t.scopes is not None else "all of the user's",
            "state": "revoked" if t.revoked_at else ("expired" if t.expires_at and t.expires_at <= now else "active"),
            "expires_at": t.expires_at,
            "last_used_at": t.last_used_at,
        }
        for t in app.authz.tokens.list(user)
    ]
    click.echo(render(rows, ["prefix", "name", "user", "scopes", "state", "expires_at", "last_used_at"], fmt))


@tokens.command("revoke")
@click.argument("prefix")
@pass_state
def tokens_revoke(state: CLIState, prefix: str) -> None:
    """Revoke a token by its prefix (or its whole text)."""
    info = state.crm().authz.tokens.revoke(prefix)
    click.echo(f"revoked API token {info.prefix!r} ({info.name}) of {info.user!r}")
