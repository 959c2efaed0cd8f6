"""The test kit for plugin authors (crm_core.testing) works as its docstring says.

Most checks run an inner pytest session with ``pytester``, exactly as a
third-party plugin's own test suite would use the fixtures.
"""

from __future__ import annotations

import importlib
import os

import pytest

from crm_core.testing import BACKEND_ENV, configured_backends

pytest_plugins = ["pytester"]

# pytester restores sys.modules after each test to what it held before the
# test: a kernel module first imported by an inner session would be dropped
# while the crm_core package keeps pointing at it, and the next session would
# mix old and new module objects. Import the kernel before any session.
for _module in ("app", "models", "events", "schema", "doctor", "cli.main", "cli.kernel", "clock"):
    importlib.import_module(f"crm_core.{_module}")


@pytest.fixture
def inner(pytester, monkeypatch):
    """Run test source in an inner session, on SQLite only unless a test sets a server."""
    for name in ("CRM_TEST_POSTGRES_URL", "CRM_TEST_MYSQL_URL", "CRM_TEST_BACKENDS", "CRM_PLUGINS", "CRM_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def run(source: str, *args: str):
        pytester.makepyfile(test_inner=source)
        return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)

    return run


def test_crm_factory_crm_clock_and_closing(inner):
    result = inner(
        """
        import datetime as dt
        APPS = []

        import pytest

        @pytest.mark.sqlite_only
        def test_factory(crm_factory, crm_clock, crm_db_url):
            crm = crm_factory()
            APPS.append(crm)
            assert crm.pending_migrations() == []            # migrated
            assert crm.clock is crm_clock
            assert crm.config.core.mail.transport == "memory"
            assert crm.database.database in crm_db_url
            raw = crm_factory(migrate=False, timezone="Europe/Madrid", database=crm_db_url.replace("crm.db", "raw.db"))
            APPS.append(raw)
            assert raw.pending_migrations() and str(raw.tz) == "Europe/Madrid"
            before = crm.now()
            crm_clock.advance(days=3)
            assert crm.now() - before == dt.timedelta(days=3)

        def test_the_apps_were_closed_after_the_test():
            assert len(APPS) == 2 and all(app._closed for app in APPS)
        """
    )
    result.assert_outcomes(passed=2)


def test_the_crm_fixture_takes_plugins_from_the_marker(inner, fake_site):
    fake_site.add("alpha", "")
    result = inner(
        """
        import pytest

        @pytest.mark.crm_plugins("alpha")
        def test_marked(crm):
            assert crm.enabled_plugins == ["alpha"]

        def test_unmarked(crm):
            assert crm.enabled_plugins == []
        """
    )
    result.assert_outcomes(passed=2)


def test_apps_of_the_kit_are_strict(inner, fake_site):
    fake_site.add("broken", "raise RuntimeError('broken at import')\n")
    result = inner(
        """
        import pytest
        from crm_core.errors import PluginImportError

        def test_strict(crm_factory):
            with pytest.raises(PluginImportError, match="broken at import"):
                crm_factory(["broken"])

        def test_relaxed_on_request(crm_factory):
            crm = crm_factory(["broken"], strict=False)
            assert crm.plugins["broken"].state == "failed"
        """
    )
    result.assert_outcomes(passed=2)


def test_crm_db_url_is_parametrised_over_the_configured_backends(inner, monkeypatch):
    monkeypatch.setenv("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    result = inner(
        """
        import pytest

        def test_every_backend(crm_db_url):
            pass

        @pytest.mark.sqlite_only
        def test_sqlite_only(crm_db_url):
            assert crm_db_url.startswith("sqlite:///")
        """,
        "-v",
    )
    result.stdout.fnmatch_lines(
        [
            "*test_every_backend?sqlite? PASSED*",
            "*test_every_backend?postgresql? ERROR*",
            "*test_sqlite_only?sqlite? PASSED*",
        ]
    )
    # a configured but unreachable server fails loudly instead of being skipped
    result.stdout.fnmatch_lines(["*DatabaseUnavailable: cannot open the database *127.0.0.1*"])
    result.assert_outcomes(passed=2, errors=1)


def test_crm_plugin_crm_recorder_and_crm_cli(inner):
    result = inner(
        """
        from crm_hookspecs.events import ContactCreated, ContactDeleted

        def test_kit(crm_factory, crm_plugin, crm_recorder, crm_cli):
            started = []
            crm = crm_factory([crm_plugin("probe", crm_startup=lambda crm: started.append(crm)), ("rec", crm_recorder)])
            assert started == [crm]
            crm.emit(ContactCreated(contact_id=1))
            crm.emit(ContactDeleted(contact_id=1))
            assert crm_recorder.types() == ["ContactCreated", "ContactDeleted"]
            assert [e.contact_id for e in crm_recorder.events] == [1, 1]
            result = crm_cli.invoke(["events", "status", "--format", "csv"], app=crm)
            assert result.exit_code == 0
            assert result.output.splitlines() == ["handler,enabled,position,pending,failed", "rec,True,2,0,0"]
            assert not crm._closed  # the runner does not close an app it was given
        """
    )
    result.assert_outcomes(passed=1)


def test_crm_cli_with_a_config_file_and_input(inner, tmp_path):
    result = inner(
        """
        def test_cli(crm_cli, tmp_path):
            path = tmp_path / "crm.toml"
            result = crm_cli.invoke(["init", "--plugins", ""], config=path)
            assert result.exit_code == 0, result.output
            shown = crm_cli.invoke(["config", "show", "--format", "json"], config=path, env={"CRM_PLUGINS": ""})
            assert '"enabled": []' in shown.output
        """
    )
    result.assert_outcomes(passed=1)


FAILING_HANDLER = """
import pytest
from crm_hookspecs.events import ContactCreated


def explode(crm, events):
    raise RuntimeError("the handler is broken")


def emit(crm_factory, crm_plugin):
    crm = crm_factory([crm_plugin("probe", crm_handle_events=explode)])
    with crm.transaction():
        crm.emit(ContactCreated(contact_id=1))
    return crm


def test_silent_failure(crm_factory, crm_plugin):
    emit(crm_factory, crm_plugin)  # the change commits; only the delivery failed


@pytest.mark.crm_allow_delivery_failures
def test_failure_on_purpose(crm_factory, crm_plugin):
    crm = emit(crm_factory, crm_plugin)
    assert len(crm.events.failed()) == 1
"""


@pytest.mark.crm_allow_delivery_failures  # the inner session's handler fails, in this process
def test_a_handler_that_raises_fails_the_test_unless_marked(inner):
    result = inner(FAILING_HANDLER)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 event delivery failure(s) during the test: a handler raised*crm_allow_delivery_failures*",
            "*handler probe, event 1:*",
            "*RuntimeError: the handler is broken*",
        ]
    )


# -- one process per backend (CRM_TEST_BACKENDS) -------------------------------------------------


BACKEND_SOURCE = """
import pytest

def test_on_a_backend(crm):
    assert crm.migrate() == []

def test_on_no_backend():
    pass

@pytest.mark.sqlite_only
def test_only_sqlite(crm):
    pass
"""


def test_backends_narrows_the_configured_backends(monkeypatch):
    from crm_core.testing import configured_backends

    monkeypatch.setenv("CRM_TEST_POSTGRES_URL", "postgresql://u@h/db")
    monkeypatch.setenv("CRM_TEST_MYSQL_URL", "mysql://u@h/db")
    monkeypatch.delenv("CRM_TEST_BACKENDS", raising=False)
    assert configured_backends() == ["sqlite", "postgresql", "mysql"]
    monkeypatch.setenv("CRM_TEST_BACKENDS", "sqlite")
    assert configured_backends() == ["sqlite"]
    monkeypatch.setenv("CRM_TEST_BACKENDS", "mysql, postgresql")
    assert configured_backends() == ["postgresql", "mysql"]
    monkeypatch.delenv("CRM_TEST_MYSQL_URL")
    assert configured_backends() == ["postgresql"]  # a backend without its URL is not run
    monkeypatch.setenv("CRM_TEST_BACKENDS", "oracle")
    with pytest.raises(pytest.UsageError, match="names oracle; the backends are sqlite, postgresql, mysql"):
        configured_backends()


def test_a_server_process_runs_only_the_server_tests(inner, monkeypatch):
    monkeypatch.setenv("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/never")
    monkeypatch.setenv("CRM_TEST_BACKENDS", "postgresql")
    result = inner(BACKEND_SOURCE, "--collect-only", "-q")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == ["test_inner.py::test_on_a_backend[postgresql]"]
    assert "2 deselected" in result.stdout.str()


def test_the_sqlite_process_runs_everything_else(inner, monkeypatch):
    monkeypatch.setenv("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/never")
    monkeypatch.setenv("CRM_TEST_BACKENDS", "sqlite")
    result = inner(BACKEND_SOURCE, "--collect-only", "-q")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == [
        "test_inner.py::test_on_a_backend[sqlite]",
        "test_inner.py::test_on_no_backend",
        "test_inner.py::test_only_sqlite[sqlite]",
    ]


# --- pytest-xdist: a database of its own per worker on each server --------------------------------


def test_a_worker_database_is_named_after_the_worker():
    from crm_core.testing import _worker_url

    assert _worker_url("postgresql://u:secret@db.example:5433/crm_test?sslmode=require", "gw3") == (
        "postgresql://u:secret@db.example:5433/crm_test_gw3?sslmode=require",
        "postgresql://u:secret@db.example:5433/?sslmode=require",
        "crm_test_gw3",
    )
    with pytest.raises(pytest.UsageError, match="names no database; add one, e.g. mysql://root@h/crm_test"):
        _worker_url("mysql://root@h/", "gw0")


WORKER_SOURCE = """
import os
import pathlib

import pytest

from crm_core.testing import BACKEND_ENV


@pytest.mark.parametrize("n", range(6))
def test_where(n, crm_backend, crm_db_url):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    out = pathlib.Path(os.environ["WORKER_REPORT"]) / f"{worker}-{n}"
    out.write_text(os.environ[BACKEND_ENV[crm_backend]])
    assert crm_db_url == os.environ[BACKEND_ENV[crm_backend]]
"""


@pytest.mark.parametrize("backend", [b for b in configured_backends() if b != "sqlite"])
@pytest.mark.slow
def test_each_xdist_worker_gets_its_own_server_database_dropped_at_the_end(pytester, monkeypatch, backend, tmp_path):
    from crm_core.testing import _server_connection, _worker_url

    var = BACKEND_ENV[backend]
    url = os.environ[var]
    monkeypatch.setenv("CRM_TEST_BACKENDS", backend)
    monkeypatch.setenv("WORKER_REPORT", str(tmp_path))
    for name in ("CRM_PLUGINS", "CRM_CONFIG", *(v for v in BACKEND_ENV.values() if v != var)):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_inner=WORKER_SOURCE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=6)

    seen = {path.read_text() for path in tmp_path.iterdir()}
    assert seen == {_worker_url(url, "gw0")[0], _worker_url(url, "gw1")[0]}
    connection = _server_connection(backend, _worker_url(url, "gw0")[1])
    try:
        with connection.cursor() as cursor:
            if backend == "postgresql":
                cursor.execute("SELECT datname FROM pg_database")
            else:
                cursor.execute("SHOW DATABASES")
            names = {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()
    assert not {_worker_url(url, w)[2] for w in ("gw0", "gw1")} & names  # dropped when the workers ended
