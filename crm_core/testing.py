"""The test kit for plugin authors: a pytest plugin (entry point ``pytest11``).

Fixtures:

``crm_factory``
    ``crm_factory(plugins=["contacts"], settings={...})`` builds a migrated app
    on a fresh database (closed after the test). Plugin names, and
    ``(name, object)`` pairs for plugins made in the test, as for ``CRM``.
``crm``
    An app with the plugins named by ``@pytest.mark.crm_plugins("contacts", ...)``.
``crm_backend``
    The backend the test runs on (``sqlite``, ``postgresql``, ``mysql``),
    parametrised over every configured backend: SQLite always, PostgreSQL
    when ``CRM_TEST_POSTGRES_URL`` is set, MySQL/MariaDB when
    ``CRM_TEST_MYSQL_URL`` is set (a set but unreachable server fails).
    ``crm_factory``, ``crm`` and ``crm_db_url`` use it.
``crm_db_url``
    The URL of the test's database, empty when the test gets it.
``crm_clock``
    A :class:`~crm_core.clock.FakeClock` the apps use: ``crm_clock.advance(days=3)``.
``crm_cli``
    ``crm_cli.invoke(["contacts", "list"], app=crm)`` runs the CLI against an app.
``crm_plugin``
    ``crm_plugin("probe", crm_handle_events=fn)`` makes a plugin object from
    functions, to register for one test.
``crm_recorder``
    A plugin that records every event delivered to it (``.events``, ``.types()``).
``crm_user``
    ``crm_user(app, roles=["sales"], teams=["north"])`` adds a user (as the
    system; teams are made when missing) and returns its ``UserInfo``.
``crm_as_user``
    ``with crm_as_user(app, roles=["read-only"]) as user:`` runs the block as a
    new user with those roles (or ``crm_as_user(app, user=info)`` as an
    existing one). Code outside such a block acts as the system.

Apps built here are strict: a plugin that fails to load fails the test.

Speed: a test's first migrated app does not run its migrations when an
earlier test of the session ran the same ones on the same backend: it starts
from that migrated state, kept as a template (:mod:`crm_core.testdb`), with
exactly the rows the migrations inserted and ids counting from 1 again.

An event handler that raises while a test runs fails the test too (a
delivery failure is otherwise only recorded, for a retry, and the test would
pass). A test whose point is a failing handler opts out with
``@pytest.mark.crm_allow_delivery_failures``.

Assertions:

``assert_no_schema_drift(app)``
    Fails, naming each difference, when a migrated table does not match its
    model (:mod:`crm_core.drift`): a plugin's test of its migrations calls it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from crm_hookspecs import hookimpl

if TYPE_CHECKING:
    from click.testing import Result

    from crm_core.app import CRM
    from crm_core.clock import FakeClock
    from crm_core.testdb import TemplateStore, TestDatabase

__all__ = [
    "ALLOW_DELIVERY_FAILURES",
    "BACKEND_ENV",
    "CLIRunner",
    "DeliveryFailureWatcher",
    "EventRecorder",
    "UserMaker",
    "assert_no_schema_drift",
    "configured_backends",
    "drop_all_tables",
    "drop_connection",
    "make_plugin",
    "statements",
]

#: environment variable naming each server backend's test database
BACKEND_ENV = {"postgresql": "CRM_TEST_POSTGRES_URL", "mysql": "CRM_TEST_MYSQL_URL"}


#: a comma-separated subset of backends to run (``CRM_TEST_BACKENDS=postgresql``): CI runs one process per backend
BACKENDS_ENV = "CRM_TEST_BACKENDS"


def configured_backends() -> list[str]:
    """``sqlite`` plus each server backend whose variable is set, narrowed by ``$CRM_TEST_BACKENDS`` when set."""
    available = ["sqlite"] + [name for name, var in BACKEND_ENV.items() if os.environ.get(var)]
    chosen = os.environ.get(BACKENDS_ENV)
    if not chosen:
        return available
    wanted = [name.strip() for name in chosen.split(",") if name.strip()]
    unknown = sorted(set(wanted) - {"sqlite", *BACKEND_ENV})
    if unknown:
        raise pytest.UsageError(
            f"${BACKENDS_ENV} names {', '.join(unknown)}; the backends are sqlite, {', '.join(BACKEND_ENV)}"
        )
    return [name for name in available if name in wanted]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without SQLite in ``$CRM_TEST_BACKENDS``, keep only the tests that run on a server backend.

    The other tests (those that take no backend) run in the process that
    has SQLite, so that running one process per backend runs each test once.
    """
    if "sqlite" in configured_backends() or not os.environ.get(BACKENDS_ENV):
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        on_server = any(params.get(name) in BACKEND_ENV for name in ("crm_backend", "backend"))
        (kept if on_server else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def assert_no_schema_drift(app: CRM) -> None:
    """Fail the test, naming each difference, when a migrated table does not match its model."""
    from crm_core.drift import schema_drift

    drift = schema_drift(app)
    if drift:
        pytest.fail(
            "the migrated tables do not match the models:\n" + "\n".join(f"  {d}" for d in drift), pytrace=False
        )


class _CountingCursor:
    """A driver cursor that records the SQL of each ``execute``, ``executemany`` and ``copy_expert`` (one entry each)."""

    def __init__(self, cursor: Any, seen: list[str]) -> None:
        self._cursor = cursor
        self._seen = seen

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(sql.decode() if isinstance(sql, bytes) else str(sql))
        return self._cursor.execute(sql, *args, **kwargs)

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(sql.decode() if isinstance(sql, bytes) else str(sql))
        return self._cursor.executemany(sql, *args, **kwargs)

    def copy_expert(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(sql.decode() if isinstance(sql, bytes) else str(sql))
        return self._cursor.copy_expert(sql, *args, **kwargs)

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@contextlib.contextmanager
def statements(app: CRM) -> Iterator[list[str]]:
    """Collect the SQL text of every statement ``app``'s database runs in the block.

    Every statement the driver is given counts: peewee's queries, raw SQL,
    savepoints, and bulk inserts (one entry per ``executemany``, page of
    rows or ``COPY``). For tests that bound the statements of a call or a page, a count
    that does not depend on the machine: ``assert len(sql) <= 8``.
    """
    seen: list[str] = []
    database = app.database
    open_cursor: Any = database.cursor

    def counting(*args: Any, **kwargs: Any) -> Any:
        return _CountingCursor(open_cursor(*args, **kwargs), seen)

    database.cursor = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del database.cursor


#: the databases made for a pytest-xdist worker's session, dropped when it ends: (kind, server URL, name)
_WORKER_DATABASES = pytest.StashKey[list[tuple[str, str, str]]]()


def _worker_url(url: str, worker: str) -> tuple[str, str, str]:
    """``url`` with its database renamed ``<name>_<worker>``: (new URL, the server's URL without a database, the new name)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise pytest.UsageError(
            f"the test database URL {url} names no database; add one, e.g. {url.rstrip('/')}/crm_test"
        )
    mine = f"{name}_{worker}"
    return urlunsplit(parts._replace(path="/" + mine)), urlunsplit(parts._replace(path="/")), mine


def _server_connection(kind: str, server_url: str) -> Any:
    """A connection to the server of ``server_url`` outside any test database, to create and drop them."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(server_url)
    common = {"host": parts.hostname or "127.0.0.1", "user": unquote(parts.username or "")}
    if parts.password:
        common["password"] = unquote(parts.password)
    if kind == "postgresql":
        import psycopg2

        connection = psycopg2.connect(dbname="postgres", port=parts.port or 5432, connect_timeout=10, **common)
        connection.autocommit = True
        return connection
    import pymysql

    return pymysql.connect(port=parts.port or 3306, connect_timeout=10, autocommit=True, **common)


def _recreate_database(kind: str, server_url: str, name: str, create: bool) -> None:
    """Drop database ``name`` (and, on MySQL, the kit's parked sets ``<name>_kit_*``), then create it if asked."""
    connection = _server_connection(kind, server_url)
    try:
        with connection.cursor() as cursor:
            if kind == "postgresql":
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                if create:
                    cursor.execute(f'CREATE DATABASE "{name}"')
            else:
                cursor.execute("SHOW DATABASES LIKE %s", (name.replace("_", "\\_") + "\\_kit\\_%",))
                for (parked,) in cursor.fetchall():
                    cursor.execute(f"DROP DATABASE IF EXISTS `{parked}`")
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                if create:
                    cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        connection.close()


def _use_worker_databases(config: pytest.Config) -> None:
    """Under pytest-xdist, give this worker a database of its own on each configured server.

    Tests on a server backend share the server's test database between
    tests (:mod:`crm_core.testdb` empties it between them), so two workers
    on one database would empty each other's tables. Worker ``gw1`` uses
    ``<name>_gw1`` instead, created here (a leftover of an interrupted run is
    dropped first) and dropped when the worker ends; the variable is changed
    for the worker, so tests that read it get that database too.
    """
    workerinput = getattr(config, "workerinput", None)  # set by pytest-xdist on a worker's own session only
    if workerinput is None:
        return
    worker = str(workerinput["workerid"])
    made = config.stash.setdefault(_WORKER_DATABASES, [])
    for kind, var in BACKEND_ENV.items():
        url = os.environ.get(var)
        if not url:
            continue
        mine, server, name = _worker_url(url, worker)
        try:
            _recreate_database(kind, server, name, create=True)
        except Exception as error:  # the server is down or refuses: the backend's tests report it as before
            raise pytest.UsageError(
                f"${var} is {url}, but the database {name} for worker {worker} could not be made there: {error}"
            ) from error
        made.append((kind, server, name))
        os.environ[var] = mine


def pytest_unconfigure(config: pytest.Config) -> None:
    made = config.stash.get(_WORKER_DATABASES, [])
    while made:
        kind, server, name = made.pop()
        try:
            _recreate_database(kind, server, name, create=False)
        except Exception as error:  # the tests are over: say so, and the next run drops the leftover first
            sys.stderr.write(f"the worker's test database {name} could not be dropped ({error}); drop it by hand\n")


def pytest_configure(config: pytest.Config) -> None:
    _use_worker_databases(config)
    # the CLI's plugin discovery cache goes to a folder of the test run's own (for the
    # in-process CLI runner and for subprocesses alike), not to the user's ~/.cache/crm
    if "CRM_CACHE_DIR" not in os.environ:
        import tempfile

        os.environ["CRM_CACHE_DIR"] = tempfile.mkdtemp(prefix="crm-test-cache-")
        config.add_cleanup(_remove_test_cache)
    config.addinivalue_line("markers", "crm_plugins(*names): plugins enabled in the `crm` fixture's app")
    config.addinivalue_line("markers", "sqlite_only: the test runs on SQLite only (it checks SQLite behaviour)")
    config.addinivalue_line(
        "markers", f"{ALLOW_DELIVERY_FAILURES}: an event handler may fail in this test (it does not fail the test)"
    )


def _remove_test_cache() -> None:
    import shutil

    shutil.rmtree(os.environ.pop("CRM_CACHE_DIR"), ignore_errors=True)


#: the marker that lets a test's event handlers fail
ALLOW_DELIVERY_FAILURES = "crm_allow_delivery_failures"


class DeliveryFailureWatcher(logging.Handler):
    """Collects the delivery failures that apps log (on the ``crm`` logger) while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        #: ``(handler, event id, traceback)`` of each failure, in order
        self.failures: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        failure = getattr(record, "crm_delivery_failure", None)
        if failure is not None:
            self.failures.append(failure)

    def report(self) -> str:
        lines = [
            f"{len(self.failures)} event delivery failure(s) during the test: a handler raised. Fix the handler, "
            f"or mark the test @pytest.mark.{ALLOW_DELIVERY_FAILURES} if the failure is what it checks."
        ]
        for handler, event_pk, text in self.failures:
            lines.append(f"\nhandler {handler}, event {event_pk}:\n{text.rstrip()}")
        return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[Any]:
    """Fail a test in which an event handler raised, unless it is marked to allow it."""
    if item.get_closest_marker(ALLOW_DELIVERY_FAILURES):
        return (yield)
    watcher = DeliveryFailureWatcher()
    logger = logging.getLogger("crm")
    logger.addHandler(watcher)
    try:
        result = yield
    finally:
        logger.removeHandler(watcher)
    if watcher.failures:
        pytest.fail(watcher.report(), pytrace=False)
    return result


def drop_all_tables(url: str) -> None:
    """Empty a server test database: drop every table in it."""
    from crm_core.storage import connect
    from crm_core.testdb import drop_tables

    database = connect(url)
    database.connect()
    try:
        drop_tables(database)
    finally:
        database.close()


def drop_connection(database: Any) -> None:
    """End this thread's connection to a server ``database`` from the server's side.

    As a server restart, ``pg_terminate_backend`` or MariaDB's ``KILL`` (and
    ``wait_timeout``) would: the client is not told until it next uses the
    connection. For testing what happens then, on PostgreSQL and MySQL/MariaDB.
    """
    import time

    from crm_core.storage import dialect

    kind = dialect(database)
    if kind == "sqlite":
        raise ValueError("drop_connection needs a PostgreSQL or MySQL/MariaDB database; SQLite has no server")
    cursor = database.connection().cursor()  # the driver's own: no reconnect in between
    cursor.execute("SELECT pg_backend_pid()" if kind == "postgresql" else "SELECT CONNECTION_ID()")
    (backend,) = cursor.fetchone()
    admin = type(database)(database.database, **database.connect_params)  # the same server and user
    try:
        if kind == "postgresql":
            admin.execute_sql("SELECT pg_terminate_backend(%s)", (backend,))
            gone = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
        else:
            admin.execute_sql(f"KILL {int(backend)}")
            gone = "SELECT count(*) FROM information_schema.processlist WHERE id = %s"
        deadline = time.monotonic() + 10
        while admin.execute_sql(gone, (backend,)).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.02)  # the server ends the session asynchronously
    finally:
        if getattr(admin, "close_all", None):
            admin.close_all()
        else:
            admin.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crm_backend" in metafunc.fixturenames:
        backends = configured_backends()
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = ["sqlite"]
        metafunc.parametrize("crm_backend", backends, indirect=True, ids=backends)


_TEMPLATES = pytest.StashKey["TemplateStore"]()


@pytest.fixture(scope="session")
def _crm_templates(pytestconfig: pytest.Config) -> Iterator[TemplateStore]:
    from crm_core.testdb import TemplateStore

    store = TemplateStore()
    pytestconfig.stash[_TEMPLATES] = store
    yield store
    store.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """With ``-v``: how many tests migrated their database and how many started from a template."""
    store = config.stash.get(_TEMPLATES, None)
    if store is not None and store.counts and config.option.verbose > 0:
        terminalreporter.write_line(store.summary())


@pytest.fixture
def crm_backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def _crm_test_database(crm_backend: str, tmp_path: Any, _crm_templates: TemplateStore) -> TestDatabase:
    from crm_core.testdb import TestDatabase

    if crm_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
    else:
        url = os.environ[BACKEND_ENV[crm_backend]]
    return TestDatabase(crm_backend, url, _crm_templates)


@pytest.fixture
def crm_db_url(_crm_test_database: TestDatabase) -> str:
    # the test uses the URL itself: it gets an empty database, unless an app
    # of this test (built by a fixture set up first) already uses it
    if _crm_test_database.pristine:
        _crm_test_database.ensure_empty()
    return _crm_test_database.url


@pytest.fixture
def crm_clock() -> FakeClock:
    from crm_core.clock import FakeClock

    return FakeClock()


@pytest.fixture
def crm_factory(_crm_test_database: TestDatabase, crm_clock: FakeClock, tmp_path: Any) -> Iterator[Callable[..., CRM]]:
    from crm_core.app import CRM
    from crm_core.config import Config, CoreSettings

    apps: list[CRM] = []

    def make(
        plugins: Sequence[Any] = (),
        *,
        settings: dict[str, dict[str, Any]] | None = None,
        migrate: bool = True,
        database: str | None = None,
        timezone: str = "UTC",
        strict: bool = True,
        mail: dict[str, Any] | None = None,
        core: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> CRM:
        from crm_core.config import structure_section

        core = {
            "database": database or _crm_test_database.url,
            "timezone": timezone,
            "mail": {"transport": "memory", **(mail or {})},
            **(core or {}),
        }
        config = Config(
            core=structure_section(core, CoreSettings, "the test", "crm"),
            enabled=(),
            plugin_tables=settings or {},
            path=tmp_path / "crm.toml",
            enabled_source="the test",
        )
        kwargs.setdefault("clock", crm_clock)

        def build() -> CRM:
            return CRM(config=config, plugins=list(plugins), strict=strict, **kwargs)

        if database is None and _crm_test_database.pristine:
            return _crm_test_database.first_app(build, migrate, apps.append)
        app = build()
        apps.append(app)
        if migrate:
            app.migrate()
        return app

    yield make
    for app in reversed(apps):
        app.close()


@pytest.fixture
def crm(request: pytest.FixtureRequest, crm_factory: Callable[..., CRM]) -> CRM:
    marker = request.node.get_closest_marker("crm_plugins")
    return crm_factory(plugins=list(marker.args) if marker else [])


class CLIRunner:
    """Runs ``crm`` commands in-process against a given app or config file."""

    def invoke(
        self,
        args: Sequence[str],
        *,
        app: CRM | None = None,
        config: str | os.PathLike[str] | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        from click.testing import CliRunner

        from crm_core.cli.main import CLIState, cli

        state = CLIState(config, app=app)
        return CliRunner().invoke(cli, list(args), obj=state, input=input, env=env, catch_exceptions=False)


@pytest.fixture
def crm_cli() -> CLIRunner:
    return CLIRunner()


def make_plugin(name: str = "probe", **hooks: Callable[..., Any]) -> tuple[str, Any]:
    """A ``(name, plugin)`` pair whose hooks are the given functions.

    ``make_plugin("probe", crm_startup=lambda crm: ...)``; pass the pair in
    ``plugins=[...]``.
    """
    ns = types.SimpleNamespace()
    for hook, fn in hooks.items():
        if not hook.startswith("crm_"):
            raise ValueError(f"{hook!r} is not a hook name (hooks start with crm_)")
        setattr(ns, hook, hookimpl(fn))
    return name, ns


@pytest.fixture
def crm_plugin() -> Callable[..., tuple[str, Any]]:
    return make_plugin


class EventRecorder:
    """A plugin that keeps every event delivered to it."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    @hookimpl
    def crm_handle_events(self, crm: Any, events: Sequence[Any]) -> None:
        self.events.extend(events)

    def types(self) -> list[str]:
        return [e.type_name for e in self.events]


@pytest.fixture
def crm_recorder() -> EventRecorder:
    return EventRecorder()


class UserMaker:
    """Adds users for a test: ``crm_user(app, roles=[...], teams=[...], name=None)``."""

    def __init__(self) -> None:
        self._count = 0

    def __call__(
        self, app: CRM, *, roles: Sequence[str] = (), teams: Sequence[str] = (), name: str | None = None, **fields: Any
    ) -> Any:
        from crm_core.auth.models import Team

        self._count += 1
        name = name or f"user{self._count}"
        authz = app.authz
        with app.activate():
            known = {t.name_key for t in Team.select(Team.name_key)}
        for team in teams:
            if team.casefold() not in known:
                authz.teams.add(team)
                known.add(team.casefold())
        return authz.users.add(name, roles=list(roles), teams=list(teams), **fields)


@pytest.fixture
def crm_user() -> UserMaker:
    return UserMaker()


@pytest.fixture
def crm_as_user(crm_user: UserMaker) -> Callable[..., Any]:
    def as_user(
        app: CRM, *, user: Any = None, roles: Sequence[str] = (), teams: Sequence[str] = (), **fields: Any
    ) -> Any:
        if user is None:
            user = crm_user(app, roles=roles, teams=teams, **fields)
        return app.as_user(user)

    return as_user
