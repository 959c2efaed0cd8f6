"""The portal and its database: dropped connections, /healthz and /readyz (issue 13, points 3 and 5)."""

from __future__ import annotations

import pytest

from crm_core.testing import drop_connection


@pytest.fixture
def server_app(crm_db_url, app):
    if crm_db_url.startswith("sqlite"):
        pytest.skip("SQLite has no server connection to drop")
    return app


def test_a_request_after_the_server_dropped_the_connection_succeeds(kit, server_app):
    web = kit.Web(server_app)
    ana = kit.add_contact(server_app)
    token = server_app.plugin("contacts").issue_update_link(ana.id).token
    assert web.get("/contacts/update?token=" + token).status_code == 200
    drop_connection(server_app.database)  # the test client serves requests in this thread, on this connection
    assert web.get("/contacts/update?token=" + token).status_code == 200
    assert "Ana" in web.text
    drop_connection(server_app.database)
    assert web.get("/healthz").status_code == 200


def test_a_connection_dropped_during_a_request_is_503_and_the_next_request_works(kit, server_app, monkeypatch):
    web = kit.Web(server_app)
    ana = kit.add_contact(server_app)
    contacts = server_app.plugin("contacts")
    token = contacts.issue_update_link(ana.id).token
    real = type(contacts).inspect_update_token
    calls: list[str] = []

    def dropped_midway(self, token):
        calls.append(token)
        if len(calls) == 1:
            with server_app.transaction():
                real(self, token)
                drop_connection(server_app.database)
                return real(self, token)
        return real(self, token)

    monkeypatch.setattr(type(contacts), "inspect_update_token", dropped_midway)
    assert web.get("/contacts/update?token=" + token).status_code == 503
    assert "Not available right now" in web.text and "connection" not in web.text
    assert web.get("/contacts/update?token=" + token).status_code == 200


def test_readyz_says_whether_the_database_can_be_written(kit, app, crm_factory, crm_db_url):
    web = kit.Web(app)
    ready = web.get("/readyz")
    assert ready.status_code == 200 and web.text == "ready\n"
    if crm_db_url.startswith("sqlite"):
        read_only = crm_factory(
            plugins=["contacts", "surveys", "portal"],
            settings=kit.settings(),
            database=crm_db_url + "?mode=ro",
            migrate=False,
        )
    elif crm_db_url.startswith("postgres"):
        read_only = crm_factory(
            plugins=["contacts", "surveys", "portal"],
            settings=kit.settings(),
            migrate=False,
            database=crm_db_url + "?options=-c%20default_transaction_read_only%3Don",
        )
    else:
        read_only = crm_factory(plugins=["contacts", "surveys", "portal"], settings=kit.settings(), migrate=False)
        read_only.database.execute_sql(
            "SET SESSION TRANSACTION READ ONLY"
        )  # this thread's connection serves the test client
    blocked = kit.Web(read_only)
    assert blocked.get("/healthz").status_code == 200  # alive: it answers
    page = blocked.get("/readyz")
    assert page.status_code == 503 and blocked.text == "not ready: the database cannot be written\n"
    assert page.headers["Retry-After"] == "10"


def test_healthz_is_503_when_the_database_cannot_be_reached(kit, app, monkeypatch):
    from crm_core.errors import DatabaseUnavailableError

    web = kit.Web(app)
    assert web.get("/healthz").status_code == 200

    def unreachable(*args, **kwargs):
        raise DatabaseUnavailableError("cannot open the database: the server is down")

    monkeypatch.setattr(type(app.database), "execute_sql", unreachable)
    assert web.get("/healthz").status_code == 503
    assert web.get("/readyz").status_code == 503


def test_with_a_pool_each_request_hands_its_connection_back(kit, crm_db_url, crm_factory):
    if crm_db_url.startswith("sqlite"):
        pytest.skip("the pool is for the servers")
    app = crm_factory(
        plugins=["contacts", "surveys", "portal"],
        settings=kit.settings(),
        database=crm_db_url + "?pool=true&pool_max_connections=1&pool_timeout=0",
    )
    web = kit.Web(app)
    ana = kit.add_contact(app)
    token = app.plugin("contacts").issue_update_link(ana.id).token
    app.database.close()
    for _ in range(3):
        assert web.get("/contacts/update?token=" + token).status_code == 200
        assert app.database.is_closed()  # back in the pool: with one connection, the next request needs it
    drop_connection(app.database)  # takes the pooled connection, and the server drops it
    app.database.close()
    assert web.get("/contacts/update?token=" + token).status_code == 200
