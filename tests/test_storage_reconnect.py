"""A connection the server drops is replaced at the next transaction, never retried mid-transaction.

Issue 13, point 3. Each test ends the app's connection from the server's side
(``crm_core.testing.drop_connection``: ``pg_terminate_backend``, MariaDB's
``KILL``), between two calls or in the middle of one, in an embedding app,
the CLI and the worker. SQLite has no server connection to drop: these tests
run on PostgreSQL and MariaDB (``CRM_TEST_POSTGRES_URL``, ``CRM_TEST_MYSQL_URL``).
"""

from __future__ import annotations

import datetime as dt
import threading

import peewee
import pytest

from crm_core.errors import ConnectionLostError, CRMError, StorageError
from crm_core.testing import drop_connection
from crm_hookspecs.records import JobSpec


@pytest.fixture
def server(crm_db_url):
    if crm_db_url.startswith("sqlite"):
        pytest.skip("SQLite has no server connection to drop")
    return crm_db_url


@pytest.fixture
def app(server, crm_factory):
    return crm_factory(plugins=["contacts"])


def names(app):
    q = app.database.quote[0] + "{}" + app.database.quote[1]
    rows = app.database.execute_sql(f"SELECT {q.format('first_name')} FROM {q.format('contacts_contact')}").fetchall()
    return sorted(r[0] for r in rows)


def test_a_transaction_after_a_dropped_connection_just_works(app):
    contacts = app.plugin("contacts")
    ana = contacts.create(first_name="Ana", email="ana@example.com")
    drop_connection(app.database)
    contacts.create(first_name="Bea", email="bea@example.com")  # BEGIN notices, reconnects, runs
    drop_connection(app.database)
    assert contacts.get(ana.id).first_name == "Ana"  # a read outside a transaction, too
    assert names(app) == ["Ana", "Bea"]


def test_a_write_outside_a_transaction_after_a_dropped_connection_runs_once(app):
    q = app.database.quote[0] + "{}" + app.database.quote[1]
    app.database.execute_sql(f"CREATE TABLE {q.format('kt_note')} ({q.format('text')} VARCHAR(20))")
    app.database.execute_sql(f"INSERT INTO {q.format('kt_note')} VALUES ('first')")
    drop_connection(app.database)
    # an idle connection is checked before a write (it is not retried blindly: it may have run)
    app.database.execute_sql(f"INSERT INTO {q.format('kt_note')} VALUES ('second')")
    rows = app.database.execute_sql(f"SELECT {q.format('text')} FROM {q.format('kt_note')}").fetchall()
    assert sorted(r[0] for r in rows) == ["first", "second"]


def test_a_connection_dropped_mid_transaction_is_a_clear_error_and_the_next_transaction_works(app):
    contacts = app.plugin("contacts")
    with pytest.raises(ConnectionLostError) as info:
        with app.transaction():
            contacts.create(first_name="Ana", email="ana@example.com")
            with app.transaction():  # a savepoint: its rollback must not hide the error
                drop_connection(app.database)
                contacts.create(first_name="Bea", email="bea@example.com")
    error = info.value
    assert isinstance(error, StorageError) and error.exit_code == 4
    assert isinstance(error, peewee.OperationalError)  # code catching peewee's still catches it
    message = str(error)
    assert "\n" not in message
    assert "was lost in the middle of a transaction" in message and "none of its changes were saved" in message
    assert names(app) == []  # the server rolled it all back
    contacts.create(first_name="Cid", email="cid@example.com")
    assert names(app) == ["Cid"]


def test_every_statement_of_a_broken_transaction_fails_until_it_ends(app):
    contacts = app.plugin("contacts")
    with pytest.raises(ConnectionLostError):
        with app.transaction():
            contacts.create(first_name="Ana", email="ana@example.com")
            drop_connection(app.database)
            with pytest.raises(ConnectionLostError):
                contacts.create(first_name="Bea", email="bea@example.com")
            # a caller that swallowed the error cannot go on as if nothing happened
            contacts.create(first_name="Cid", email="cid@example.com")
    assert names(app) == []
    contacts.create(first_name="Dan", email="dan@example.com")
    assert names(app) == ["Dan"]


def test_a_connection_dropped_in_another_thread_leaves_this_one_alone(app):
    contacts = app.plugin("contacts")
    contacts.create(first_name="Ana", email="ana@example.com")
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with app.activate():
                contacts.create(first_name="Bea", email="bea@example.com")
                drop_connection(app.database)
                contacts.create(first_name="Cid", email="cid@example.com")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
        finally:
            app.database.close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert errors == []
    contacts.create(first_name="Dan", email="dan@example.com")  # this thread's connection was not touched
    assert names(app) == ["Ana", "Bea", "Cid", "Dan"]


def test_a_pooled_connection_that_was_dropped_is_not_handed_out_again(server, crm_factory):
    # one connection, no waiting: a dead connection still counted as in use would block every call
    app = crm_factory(plugins=["contacts"], database=server + "?pool=true&pool_max_connections=1&pool_timeout=0")
    contacts = app.plugin("contacts")
    contacts.create(first_name="Ana", email="ana@example.com")
    drop_connection(app.database)
    contacts.create(first_name="Bea", email="bea@example.com")
    with pytest.raises(ConnectionLostError):
        with app.transaction():
            contacts.create(first_name="Cid", email="cid@example.com")
            drop_connection(app.database)
            contacts.create(first_name="Dan", email="dan@example.com")
    app.database.close()  # back to the pool, as the portal does after each request
    assert names(app) == ["Ana", "Bea"]
    drop_connection(app.database)
    app.database.close()
    assert names(app) == ["Ana", "Bea"]


def test_the_cli_reconnects_between_commands_and_reports_a_mid_transaction_loss_in_one_line(app, crm_cli, monkeypatch):
    first = crm_cli.invoke(["contacts", "add", "--first-name", "Ana", "--email", "ana@example.com"], app=app)
    assert first.exit_code == 0, first.output
    drop_connection(app.database)
    second = crm_cli.invoke(["contacts", "add", "--first-name", "Bea", "--email", "bea@example.com"], app=app)
    assert second.exit_code == 0, second.output

    from crm_core.events import EventBus

    real_emit = EventBus.emit

    def emit_after_losing_the_connection(self, event):
        drop_connection(app.database)  # inside the command's transaction, before its event is written
        return real_emit(self, event)

    monkeypatch.setattr(EventBus, "emit", emit_after_losing_the_connection)
    lost = crm_cli.invoke(["contacts", "add", "--first-name", "Cid", "--email", "cid@example.com"], app=app)
    monkeypatch.setattr(EventBus, "emit", real_emit)
    assert lost.exit_code == 4
    assert "Error: the connection to " in lost.output and "was lost in the middle of a transaction" in lost.output
    assert "Traceback" not in lost.output and "please report" not in lost.output
    third = crm_cli.invoke(["contacts", "add", "--first-name", "Dan", "--email", "dan@example.com"], app=app)
    assert third.exit_code == 0, third.output
    assert names(app) == ["Ana", "Bea", "Dan"]


def test_the_worker_reconnects_between_runs_and_records_a_job_that_lost_its_connection(
    server, crm_factory, crm_plugin, crm_clock
):
    from crm_core.worker import Worker
    from crm_core.worker.models import JobRun

    ran: list[str] = []

    def job(crm, scheduled_at):
        contacts = crm.plugin("contacts")
        with crm.transaction():
            contacts.create(first_name=f"Run{len(ran)}", email=f"run{len(ran)}@example.com")
            ran.append("once")
            if len(ran) == 2:
                drop_connection(crm.database)
                contacts.create(first_name="Never", email="never@example.com")
        return "made one"

    jobs = [JobSpec(name="probe.make", run=job, interval=dt.timedelta(minutes=1))]
    app = crm_factory(plugins=["contacts", crm_plugin("probe", crm_worker_jobs=lambda crm: jobs)])
    worker = Worker(app)
    [first] = [o for o in worker.run_pending() if o.job == "probe.make"]
    assert first.status == "done"

    drop_connection(app.database)  # between two runs: the next one starts on a new connection
    crm_clock.advance(dt.timedelta(minutes=1))
    [second] = [o for o in worker.run_pending() if o.job == "probe.make"]
    assert second.status == "failed" and "was lost in the middle of a transaction" in second.error

    crm_clock.advance(dt.timedelta(minutes=1))
    [third] = [o for o in worker.run_pending() if o.job == "probe.make"]
    assert third.status == "done"
    with app.activate():
        statuses = [r.status for r in JobRun.select().where(JobRun.job == "probe.make").order_by(JobRun.id)]
    assert statuses == ["done", "failed", "done"]  # the failure was recorded on a new connection
    assert names(app) == ["Run0", "Run2"]


def test_a_server_that_stays_down_is_a_storage_error_not_a_driver_error(app, monkeypatch):
    drop_connection(app.database)
    # the next connect fails: the server is gone for good
    monkeypatch.setitem(app.database.connect_params, "port", 1)
    with pytest.raises(StorageError) as info:
        app.plugin("contacts").create(first_name="Ana", email="ana@example.com")
    assert isinstance(info.value, CRMError) and info.value.exit_code == 4
    assert str(info.value).startswith("cannot open the database ") and "check that the server runs" in str(info.value)
