"""Staff become CRM users: one user for each ``[[plugins.tasks.staff]]`` member who is not one yet.

A migration is given only the migrator and the database; this one needs
the app too (its configuration, and the kernel's user API, which checks
names, audits the additions and keeps the roles and teams right), and
gets it from :func:`crm_core.storage.current_app`: ``crm migrate`` runs
every migration inside ``app.activate()``.

Each new user has the configured name, e-mail and full name, no password
(they cannot sign in until an administrator sets one with
``crm users passwd``), the role ``sales``, and the member's teams (made
kernel teams when missing). A member with ``active = false`` becomes a
disabled user, so that it still gets no new tasks. A name that is a user
already, in any case (``Ana`` and ``ana`` are one user), is left as it is,
so running this again, or over users made by hand, changes nothing.

Adding a user is audited, and the audit emits a ``SecurityEvent``; the
events are left in the outbox for the worker (``deliver_events = "worker"``
while this runs) instead of being delivered at each commit, when the
plugins that migrate after this one have no tables yet to take them.

``down`` removes nothing: the users may have signed in or acted since.
"""

from typing import Any

import peewee


def up(migrator: Any, db: peewee.Database) -> None:
    from crm_core.storage import current_app

    app = current_app()
    staff = app.settings("tasks").staff
    if not staff:
        return
    delivery, app.deliver_events = app.deliver_events, "worker"
    try:
        _add_users(app, staff)
    finally:
        app.deliver_events = delivery


def _add_users(app: Any, staff: Any) -> None:
    authz = app.authz
    users = {u.name.casefold() for u in authz.users.list()}
    teams = {t["name"].casefold(): t["name"] for t in authz.teams.list()}
    for member in staff:
        if member.name.casefold() in users:
            continue
        wanted = []
        for team in member.teams:
            if team.casefold() not in teams:
                authz.teams.add(team)
                teams[team.casefold()] = team
            wanted.append(teams[team.casefold()])
        authz.users.add(
            member.name,
            display_name=member.full_name,
            email=member.email,
            roles=["sales"],
            teams=wanted,
        )
        if not member.active:
            authz.users.disable(member.name)
        users.add(member.name.casefold())
        app.log.info("tasks: staff member %r is now a CRM user (role sales, no password)", member.name)


def down(migrator: Any, db: peewee.Database) -> None:
    """The users stay (they may have acted since); remove them with 'crm users disable' if need be."""
