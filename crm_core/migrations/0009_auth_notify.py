"""PostgreSQL: announce every change to who may use an API token, so API processes can keep checked tokens.

Every API request checks its bearer token: one read of the token, its user,
the user's teams and roles (``crm_core.auth.tokens``). On PostgreSQL that
read is a round trip of its own, as long as the request's real work, and it
halved the API's throughput of single-record reads. With these triggers a
change to a token, a user, a team, a membership or a stored role is
announced on the channel ``crm_auth`` (``NOTIFY``, sent when the change
commits) by the database itself, whoever makes it (the CLI, the staff web
app, another API process, a script writing SQL). An API process that
listens on the channel keeps the tokens it has checked and drops them all
the moment a notice arrives; see "API tokens" in ``docs/users.md``.

The triggers fire once per statement, not per row. On ``crm_api_token``
they leave out the once-a-minute stamp of ``last_used_at``, which changes
nothing a request is allowed to do (a later migration that adds a column
to that table names it in the trigger again). SQLite and MariaDB have no such
notices: their processes check the token on every request, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

from crm_core.storage import dialect

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

FUNCTION = "crm_auth_changed"
CHANNEL = "crm_auth"
#: table -> the events that fire its trigger
TABLES = {
    "crm_api_token": (
        "INSERT OR DELETE OR TRUNCATE OR UPDATE OF "
        '"id", "prefix", "secret_hash", "user_id", "name", "scopes", "created_at", "expires_at", "revoked_at"'
    ),
    "crm_user": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "crm_team": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "crm_user_team": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "crm_user_role": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "crm_role": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "crm_role_permission": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "crm_role_scope": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
}


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    if dialect(db) != "postgresql":
        return
    db.execute_sql(
        f'CREATE OR REPLACE FUNCTION "{FUNCTION}"() RETURNS trigger LANGUAGE plpgsql AS $$ '
        f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table, events in TABLES.items():
        db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_auth_notify" ON "{table}"')
        db.execute_sql(
            f'CREATE TRIGGER "{table}_auth_notify" AFTER {events} ON "{table}" '
            f'FOR EACH STATEMENT EXECUTE FUNCTION "{FUNCTION}"()'
        )


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    if dialect(db) != "postgresql":
        return
    for table in TABLES:
        db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_auth_notify" ON "{table}"')
    # the function lives in the schema it was made in; the tables of another CRM in another schema of the
    # same database may still fire it: it goes with the last trigger that uses it
    (users,) = db.execute_sql(
        "SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = %s", (FUNCTION,)
    ).fetchone()
    if not users:
        db.execute_sql(f'DROP FUNCTION IF EXISTS "{FUNCTION}"()')
