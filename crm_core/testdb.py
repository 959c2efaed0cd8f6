"""Migrated template databases for the test kit (:mod:`crm_core.testing`).

Migrating every test's database from nothing costs little on SQLite but
seconds per test on MariaDB, so the kit migrates each *set of migrations*
once per backend and starts later tests from that state:

- the set is keyed on a hash of the migration folders (the kernel's and the
  app's plugins', file names and contents: :func:`migration_key`);
- on SQLite the migrated database is kept in memory and copied into each
  new test's database file with SQLite's backup API (:class:`SqliteTemplates`);
- on PostgreSQL and MySQL/MariaDB the migrated tables stay in the server's
  test database; before the next test they are emptied, their sequences
  (AUTO_INCREMENT) put back where the migrations left them, and the rows the
  migrations inserted are put back (:class:`ServerTemplate`). Which template
  the database holds is recognised by a fingerprint of its schema (tables,
  columns, indexes, foreign keys, triggers), so a test that changed the
  schema is noticed and the database is dropped and migrated again. A set
  that gives way to another is moved aside, not dropped, and moved back
  when a test needs it again (:meth:`ServerTemplate.switch`).

Only the rows of the migrations are kept: the rows an app writes when it
starts (``crm_plugin`` states, event cursors) depend on the app and are
written by it, as on a fresh database.
"""

from __future__ import annotations

import collections
import graphlib
import hashlib
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from crm_core import rows as typed_rows
from crm_core.storage import connect, dialect

if TYPE_CHECKING:
    import peewee

    from crm_core.app import CRM

__all__ = ["ServerTemplate", "SqliteTemplates", "TemplateStore", "TestDatabase", "drop_tables", "migration_key"]


def migration_key(app: CRM) -> str:
    """A hash of every migration the app would run: owners, file names and contents."""
    from crm_core.schema import KERNEL, KERNEL_MIGRATIONS

    digest = hashlib.sha256()
    sources = [(KERNEL, KERNEL_MIGRATIONS)] + [(name, schema.migrations) for name, schema in app.hooks.schemas()]
    for owner, folder in sources:
        digest.update(f"\0owner {owner}\0".encode())
        folder = Path(folder)
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".py") if folder.is_dir() else []
        for path in files:
            digest.update(f"\0file {path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def drop_tables(database: peewee.Database) -> None:
    """Drop every table of an open server database (foreign keys ignored)."""
    tables = database.get_tables()
    if not tables:
        return
    if dialect(database) == "mysql":
        typed_rows.execute(database, "SET FOREIGN_KEY_CHECKS = 0")
        try:
            for table in tables:
                typed_rows.execute(database, f"DROP TABLE IF EXISTS `{table}`")
        finally:
            typed_rows.execute(database, "SET FOREIGN_KEY_CHECKS = 1")
    else:
        typed_rows.execute(database, "DROP TABLE IF EXISTS " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


class SqliteTemplates:
    """Migrated SQLite databases, in memory, by migration key."""

    def __init__(self) -> None:
        self._templates: dict[str, sqlite3.Connection] = {}

    def restore(self, app: CRM, key: str) -> bool:
        """Copy the template ``key`` into the app's (new, empty) database; ``False`` if there is none."""
        template = self._templates.get(key)
        if template is None:
            return False
        template.backup(typed_rows.connection(app.database))
        return True

    def capture(self, app: CRM, key: str) -> None:
        """Keep the app's freshly migrated database as the template ``key``."""
        template = sqlite3.connect(":memory:", check_same_thread=False)
        typed_rows.connection(app.database).backup(template)
        self._templates[key] = template

    def close(self) -> None:
        for template in self._templates.values():
            template.close()
        self._templates.clear()


@attrs.define
class Snapshot:
    """What a migrated server database looked like right after its migrations."""

    key: str
    fingerprint: str
    #: every table, in an order safe to empty them one by one (referencing tables first)
    tables: list[str]
    #: the rows the migrations inserted: COPY text (PostgreSQL) or (columns, rows) (MySQL)
    rows: dict[str, Any]
    #: sequence -> (value, is_called) (PostgreSQL), table -> AUTO_INCREMENT (MySQL)
    counters: dict[str, Any]
    #: whether the foreign keys form a cycle, so that tables are emptied with TRUNCATE … CASCADE
    cyclic: bool = False


_PG_FINGERPRINT = """
SELECT 'c', c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       a.attnotnull::text, pg_get_expr(d.adbin, d.adrelid)
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
UNION ALL
SELECT 'i', tablename::text, indexname::text, indexdef, NULL, NULL FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL
SELECT 'k', conrelid::regclass::text, conname::text, pg_get_constraintdef(oid), NULL, NULL
  FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
UNION ALL
SELECT 't', tgrelid::regclass::text, tgname::text, pg_get_triggerdef(t.oid), NULL, NULL
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
UNION ALL
SELECT 'q', sequencename::text, data_type::text, start_value::text, increment_by::text, NULL
  FROM pg_sequences WHERE schemaname = current_schema()
"""

_MYSQL_FINGERPRINT = """
SELECT 'c', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA
  FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
UNION ALL
SELECT 'i', TABLE_NAME, INDEX_NAME, COLUMN_NAME, NON_UNIQUE, SEQ_IN_INDEX, NULL
  FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
UNION ALL
SELECT 'k', k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,
       CONCAT(r.UPDATE_RULE, ' ', r.DELETE_RULE)
  FROM information_schema.KEY_COLUMN_USAGE k
  JOIN information_schema.REFERENTIAL_CONSTRAINTS r
    ON r.CONSTRAINT_SCHEMA = k.TABLE_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
 WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
UNION ALL
SELECT 't', EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT, NULL
  FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
"""


class ServerTemplate:
    """The kit's handle on one server test database (PostgreSQL or MySQL/MariaDB).

    It keeps its own connection for the session, and a snapshot of each
    migrated state it has seen, found again by the schema's fingerprint.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: peewee.Database | None = None
        self._by_fingerprint: dict[str, Snapshot] = {}
        #: migration key -> the snapshot of a set whose tables wait in a namespace of their own
        self._parked: dict[str, Snapshot] = {}

    @property
    def database(self) -> peewee.Database:
        if self._db is None:
            database = connect(self.url)
            database.connect()
            self._db = database
            # MySQL 8 caches AUTO_INCREMENT in information_schema for a day; MariaDB has no such cache
            if dialect(database) == "mysql" and typed_rows.fetchall(
                database, "SHOW VARIABLES LIKE 'information_schema_stats_expiry'"
            ):
                typed_rows.execute(database, "SET SESSION information_schema_stats_expiry = 0")
            self._drop_namespaces()  # left by a session that was killed
        return self._db

    @property
    def kind(self) -> str:
        return dialect(self.database)

    def fingerprint(self) -> str:
        """A hash of the database's schema: columns, indexes, constraints, triggers, sequences."""
        sql = _MYSQL_FINGERPRINT if self.kind == "mysql" else _PG_FINGERPRINT
        rows = sorted(
            tuple("" if v is None else str(v) for v in row) for row in typed_rows.fetchall(self.database, sql)
        )
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    def drop_all(self) -> None:
        drop_tables(self.database)

    def reset(self) -> Snapshot | None:
        """Put back the migrated state the database holds, or empty it when it holds none we know.

        Returns the snapshot restored, or ``None`` when every table was dropped.
        """
        database = self.database
        if not database.get_tables():
            return None
        snapshot = self._by_fingerprint.get(self.fingerprint())
        if snapshot is None:
            self.drop_all()
            return None
        if self.kind == "mysql":
            self._restore_mysql(snapshot)
        else:
            self._restore_postgresql(snapshot)
        return snapshot

    def capture(self, key: str) -> Snapshot:
        """Remember the database's state, right after migrating the set ``key``."""
        database = self.database
        tables = database.get_tables()
        order, cyclic = self._emptying_order(tables)
        rows: dict[str, Any] = {}
        counters: dict[str, Any] = {}
        if self.kind == "mysql":
            for table in tables:
                cursor = typed_rows.execute(database, f"SELECT * FROM `{table}`")
                found = cursor.fetchall()
                if found:
                    rows[table] = ([d[0] for d in cursor.description or ()], found)
            counters = dict(
                typed_rows.fetchall(
                    database,
                    "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL",
                )
            )
        else:
            with database.atomic():
                raw = typed_rows.cursor(database)
                for table in tables:
                    buffer = io.StringIO()
                    raw.copy_expert(f'COPY "{table}" TO STDOUT', buffer)
                    if buffer.getvalue():
                        rows[table] = buffer.getvalue()
            for name, value, called in typed_rows.fetchall(
                database,
                "SELECT sequencename, COALESCE(last_value, start_value), last_value IS NOT NULL "
                "FROM pg_sequences WHERE schemaname = current_schema()",
            ):
                counters[name] = (value, called)
        snapshot = Snapshot(
            key=key, fingerprint=self.fingerprint(), tables=order, rows=rows, counters=counters, cyclic=cyclic
        )
        self._by_fingerprint[snapshot.fingerprint] = snapshot
        return snapshot

    def _emptying_order(self, tables: list[str]) -> tuple[list[str], bool]:
        """The tables, those that reference others first; ``cyclic`` when no such order exists."""
        referenced_by: dict[str, set[str]] = {t: set() for t in tables}
        for table in tables:
            for fk in self.database.get_foreign_keys(table):
                if fk.dest_table != table and fk.dest_table in referenced_by:
                    referenced_by[fk.dest_table].add(table)
        try:
            return list(graphlib.TopologicalSorter(referenced_by).static_order()), False
        except graphlib.CycleError:
            return list(tables), True

    def _restore_postgresql(self, snapshot: Snapshot) -> None:
        database = self.database
        quoted = ", ".join(f'"{t}"' for t in snapshot.tables)
        with database.atomic():
            if snapshot.cyclic:
                typed_rows.execute(database, f"TRUNCATE {quoted} CASCADE")
            else:
                # DELETE is ten times faster than TRUNCATE on tables this small
                for table in snapshot.tables:
                    typed_rows.execute(database, f'DELETE FROM "{table}"')
            cursor = typed_rows.cursor(database)
            for table, text in snapshot.rows.items():
                cursor.copy_expert(f'COPY "{table}" FROM STDIN', io.StringIO(text))
            if snapshot.counters:
                calls = ", ".join(
                    f"setval('\"{name}\"', {int(value)}, {'true' if called else 'false'})"
                    for name, (value, called) in snapshot.counters.items()
                )
                typed_rows.execute(database, f"SELECT {calls}")

    def _restore_mysql(self, snapshot: Snapshot) -> None:
        database = self.database
        typed_rows.execute(database, "SET FOREIGN_KEY_CHECKS = 0")
        try:
            with database.atomic():
                for table in snapshot.tables:
                    typed_rows.execute(database, f"DELETE FROM `{table}`")
                for table, (columns, found) in snapshot.rows.items():
                    names = ", ".join(f"`{c}`" for c in columns)
                    marks = ", ".join(["%s"] * len(columns))
                    typed_rows.cursor(database).executemany(f"INSERT INTO `{table}` ({names}) VALUES ({marks})", found)
        finally:
            typed_rows.execute(database, "SET FOREIGN_KEY_CHECKS = 1")
        now = dict(
            typed_rows.fetchall(
                database,
                "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL",
            )
        )
        # DELETE keeps AUTO_INCREMENT; ALTER only the tables a test wrote to (it is a schema change, ~10 ms)
        for table, value in snapshot.counters.items():
            if now.get(table) != value:
                typed_rows.execute(database, f"ALTER TABLE `{table}` AUTO_INCREMENT = {int(value)}")

    # -- parking: several sets of migrations kept on one server database ------
    #
    # Tests of different sets alternate (a kernel test, a contacts test…).
    # Instead of dropping one set's tables to migrate the other, the kit moves
    # them aside, into a namespace named after the set (a schema on
    # PostgreSQL, a database ``<name>_kit_<hash>`` on MySQL/MariaDB), and moves
    # them back when a test needs that set again: a catalogue change, much
    # cheaper than migrating.

    def _namespace(self, key: str) -> str:
        if self.kind == "mysql":
            return f"{self.database.database}_kit_{key[:12]}"
        return f"crm_kit_{key[:12]}"

    def switch(self, key: str) -> Snapshot | None:
        """Move the set the database holds aside and bring back set ``key``, rows restored.

        ``None`` when ``key`` was not parked: the database is then empty, for
        the caller to migrate.
        """
        if self.database.get_tables():
            current = self._by_fingerprint.get(self.fingerprint())
            if current is not None and current.key not in self._parked:
                self._move(current.key, park=True)
                self._parked[current.key] = current
            else:
                self.drop_all()
        snapshot = self._parked.pop(key, None)
        if snapshot is None:
            return None
        if not self._move(key, park=False):  # its namespace is gone (another session on this database dropped it)
            return None
        if self.fingerprint() != snapshot.fingerprint:  # moving changed something: do it the slow way
            self.drop_all()
            return None
        if self.kind == "mysql":
            self._restore_mysql(snapshot)
        else:
            self._restore_postgresql(snapshot)
        return snapshot

    def _move(self, key: str, park: bool) -> bool:
        """Move the live tables into set ``key``'s namespace, or back; ``False`` if there is nothing to move back."""
        database = self.database
        space = self._namespace(key)
        if self.kind == "mysql":
            if park:
                tables = database.get_tables()
                # a namespace of that name is not ours (we never park a set twice): start it afresh
                typed_rows.execute(database, f"DROP DATABASE IF EXISTS `{space}`")
                typed_rows.execute(database, f"CREATE DATABASE `{space}`")
                moves = [f"`{t}` TO `{space}`.`{t}`" for t in tables]
            else:
                found = typed_rows.fetchall(
                    database,
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'",
                    (space,),
                )
                moves = [f"`{space}`.`{t}` TO `{t}`" for (t,) in found]
            if moves:  # one statement: the tables move together, foreign keys with them
                typed_rows.execute(database, "RENAME TABLE " + ", ".join(moves))
            return bool(moves)
        live = typed_rows.fetchall(database, "SELECT current_schema()")[0][0]
        with database.atomic():
            if park:
                typed_rows.execute(database, f'DROP SCHEMA IF EXISTS "{space}" CASCADE')
                typed_rows.execute(database, f'CREATE SCHEMA "{space}"')
                tables = database.get_tables()
                for table in tables:
                    typed_rows.execute(database, f'ALTER TABLE "{table}" SET SCHEMA "{space}"')
            else:
                tables = database.get_tables(schema=space)
                for table in tables:
                    typed_rows.execute(database, f'ALTER TABLE "{space}"."{table}" SET SCHEMA "{live}"')
        return bool(tables)

    def _drop_namespaces(self) -> None:
        """Drop every parking namespace of this database (the sets parked there are forgotten)."""
        database = self.database
        self._parked.clear()
        if self.kind == "mysql":
            pattern = f"{database.database}_kit_".replace("_", "\\_") + "%"
            for (name,) in typed_rows.fetchall(database, "SHOW DATABASES LIKE %s", (pattern,)):
                typed_rows.execute(database, f"DROP DATABASE IF EXISTS `{name}`")
        else:
            for (name,) in typed_rows.fetchall(
                database, "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", ("crm\\_kit\\_%",)
            ):
                typed_rows.execute(database, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def close(self, drop: bool = True) -> None:
        """Drop every table and parked set (the database is left empty, as the kit found it) and disconnect."""
        if self._db is None:
            return
        try:
            if drop:
                self.drop_all()
                self._drop_namespaces()
        finally:
            self._db.close()
            self._db = None


class TemplateStore:
    """The migrated templates of a test session: SQLite's in memory, one handle per server database."""

    def __init__(self) -> None:
        self.sqlite = SqliteTemplates()
        self.servers: dict[str, ServerTemplate] = {}
        #: ``(backend, "migrated" | "template")``: how each test's first migrated app started
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def summary(self) -> str:
        """One line: per backend, how many first apps were migrated and how many started from a template."""
        backends = sorted({backend for backend, _ in self.counts})
        return "crm test databases (migrated / from a template): " + ", ".join(
            f"{b} {self.counts[b, 'migrated']}/{self.counts[b, 'template']}" for b in backends
        )

    def server(self, url: str) -> ServerTemplate:
        if url not in self.servers:
            self.servers[url] = ServerTemplate(url)
        return self.servers[url]

    def close(self) -> None:
        self.sqlite.close()
        for server in self.servers.values():
            server.close()


class TestDatabase:
    """The database of one test, on one backend; it prepares itself when first used.

    Its first app, when migrated, starts from the template of its set of
    migrations (see :mod:`crm_core.testdb`); any other first use (the raw
    URL, an app left unmigrated) gets an empty database.
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, backend: str, url: str, store: TemplateStore) -> None:
        self.backend = backend
        self.url = url
        self._store = store
        #: nothing has used the database in this test yet
        self.pristine = True

    def ensure_empty(self) -> None:
        """An empty database, as a test that uses the URL itself expects."""
        self.pristine = False
        if self.backend != "sqlite":
            self._store.server(self.url).drop_all()

    def first_app(self, build: Callable[[], CRM], migrate: bool, keep: Callable[[CRM], None]) -> CRM:
        """Build the test's first app on this database (``keep`` registers it for closing)."""
        self.pristine = False
        if not migrate:
            self.ensure_empty()
            app = build()
            keep(app)
            return app
        if self.backend == "sqlite":
            return self._first_sqlite_app(build, keep)
        return self._first_server_app(build, keep)

    def _first_sqlite_app(self, build: Callable[[], CRM], keep: Callable[[CRM], None]) -> CRM:
        from crm_core import schema

        app = build()  # on a new, empty file, as without templates
        keep(app)
        key = migration_key(app)
        if self._store.sqlite.restore(app, key):
            self._store.counts["sqlite", "template"] += 1
        else:
            schema.migrate(app)
            self._store.sqlite.capture(app, key)
            self._store.counts["sqlite", "migrated"] += 1
        app.migrate()  # nothing left to apply: records the plugins' states, as after migrating
        return app

    def _first_server_app(self, build: Callable[[], CRM], keep: Callable[[CRM], None]) -> CRM:
        from crm_core import schema

        server = self._store.server(self.url)
        # the previous test's migrated state, rows put back, or nothing at all
        snapshot = server.reset()
        app = build()
        keep(app)
        key = migration_key(app)
        if snapshot is not None and snapshot.key != key:
            # the database holds another set: move it aside, bring this one back if it waits there
            snapshot = server.switch(key)
        if snapshot is None:
            schema.migrate(app)
            server.capture(key)
            self._store.counts[self.backend, "migrated"] += 1
        else:
            self._store.counts[self.backend, "template"] += 1
        app.migrate()
        return app
