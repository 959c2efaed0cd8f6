"""A long-running worker while its database is away: it backs off, logs twice, and comes back.

The database "goes away" by refusing new connections (as a server being
restarted does): the worker gives its connection back after each error, so
every attempt is a new connection, refused until the test lets it through.
The waits the worker asks for are recorded instead of slept, so the test
checks the back-off itself, not a machine's timing.
"""

from __future__ import annotations

import datetime as dt
import logging

import peewee
import pytest

from crm_core.errors import StorageError
from crm_core.worker import Worker
from crm_core.worker.backoff import Backoff, is_database_outage
from crm_hookspecs.records import JobSpec


class Outage:
    """Refuses the app's new database connections for the next ``attempts`` tries."""

    def __init__(self, app, monkeypatch, attempts: int) -> None:
        self.left = attempts
        self.refused = 0
        real = app.database._connect

        def connect(*args, **kwargs):
            if self.left > 0:
                self.left -= 1
                self.refused += 1
                raise peewee.OperationalError("could not connect to server: Connection refused")
            return real(*args, **kwargs)

        monkeypatch.setattr(app.database, "_connect", connect)


def worker_with_recorded_waits(app, monkeypatch) -> tuple[Worker, list[float]]:
    worker = Worker(app)
    waits: list[float] = []

    def wait(timeout=None):  # noqa: ANN001 - threading.Event.wait's signature
        waits.append(timeout)
        return worker.stopping

    monkeypatch.setattr(worker._wake, "wait", wait)
    return worker, waits


def app_with_probe(crm_factory, crm_plugin, ran: list, stop_after: int = 1):
    holder: dict[str, Worker] = {}

    def job(crm, scheduled_at):
        ran.append(scheduled_at)
        if len(ran) >= stop_after:
            holder["worker"].stop()
        return "ran"

    plugin = crm_plugin(
        "probe", crm_worker_jobs=lambda crm: [JobSpec(name="probe.a", run=job, interval=dt.timedelta(minutes=1))]
    )
    return crm_factory(plugins=[plugin]), holder


def database_lines(caplog) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "crm.worker" and r.levelno >= logging.INFO and "database" in r.getMessage()
    ]


def test_the_worker_backs_off_exponentially_and_logs_only_when_the_database_goes_and_comes_back(
    crm_factory, crm_plugin, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="crm.worker")
    ran: list = []
    app, holder = app_with_probe(crm_factory, crm_plugin, ran)
    worker, waits = worker_with_recorded_waits(app, monkeypatch)
    holder["worker"] = worker
    app.database.close()  # the worker's first query opens a new connection: refused
    outage = Outage(app, monkeypatch, attempts=10)
    worker.run(handle_signals=False)
    assert outage.refused == 10 and outage.left == 0
    # poll_interval is 5 s: the first wait is a second, then twice as long each time, at most a minute
    assert waits[:10] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0]
    assert len(ran) == 1  # it came back and ran the job
    lines = [r for r in database_lines(caplog) if r.levelno >= logging.WARNING]
    assert [r.levelname for r in lines] == ["ERROR", "WARNING"]
    # the kernel's StorageError names the database and the fix (the driver's text stays on the exception's cause)
    first = lines[0].getMessage()
    assert (
        first.startswith(f"worker {worker.id}: database error (cannot open the database ")
        and "trying again in 1 s" in first
    )
    assert "database reachable again after 10 failed attempt(s)" in lines[1].getMessage()
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 2  # nothing else was logged


def test_a_second_outage_starts_again_from_the_shortest_wait(crm_factory, crm_plugin, monkeypatch, caplog):
    ran: list = []
    app, holder = app_with_probe(crm_factory, crm_plugin, ran)
    worker, waits = worker_with_recorded_waits(app, monkeypatch)
    holder["worker"] = worker
    app.database.close()
    Outage(app, monkeypatch, attempts=3)
    worker.run(handle_signals=False)
    assert waits[:3] == [1.0, 2.0, 4.0]
    again = Backoff(logging.getLogger("crm.worker"), "w", first=1.0, cap=60.0)
    assert [again.failed(RuntimeError("x")) for _ in range(3)] == [1.0, 2.0, 4.0]
    again.succeeded()
    assert again.failed(RuntimeError("x")) == 1.0  # reset by the recovery


def test_worker_once_reports_a_database_error_instead_of_waiting(crm_factory, crm_plugin, monkeypatch):
    ran: list = []
    app, _ = app_with_probe(crm_factory, crm_plugin, ran)
    worker = Worker(app)
    app.database.close()
    Outage(app, monkeypatch, attempts=1)
    with pytest.raises(peewee.OperationalError, match="Connection refused"):
        worker.run(once=True, handle_signals=False)  # for cron: the error, and exit


def test_what_counts_as_an_outage():
    assert is_database_outage(peewee.OperationalError("server closed the connection unexpectedly"))
    assert is_database_outage(peewee.InterfaceError("connection already closed"))
    try:
        try:
            raise peewee.OperationalError("terminating connection due to administrator command")
        except peewee.OperationalError as exc:
            raise StorageError("the database connection was lost") from exc
    except StorageError as mapped:
        assert is_database_outage(mapped)  # the storage layer's mapped error, with its cause
    # a pending migration is no outage: waiting would not fix it
    assert not is_database_outage(StorageError("kernel migration 0002_mail_worker is pending; run 'crm migrate'"))
    assert not is_database_outage(RuntimeError("a job's own bug"))
