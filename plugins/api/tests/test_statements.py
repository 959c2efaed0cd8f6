"""The statements of the requests the benchmark loads (bench/bench_api.py), counted: a count does not depend on
the machine, so a change that adds a round trip to a hot path fails here, not only in a noisy benchmark."""

from __future__ import annotations

import pytest

from crm_core.testing import statements


@pytest.fixture
def served(crm_factory, crm_user):
    """The API as ``crm api serve`` runs it (its events left to the worker), a manager's and a seller's token,
    and 60 contacts: a page of 50 is full."""
    from crm_api.wsgi import served_app

    crm = crm_factory(plugins=["contacts", "api"])
    crm_user(crm, name="boss", roles=["manager"], teams=["north"])
    crm_user(crm, name="ana", roles=["sales"], teams=["north"])
    contacts = crm.plugin("contacts")
    ids = [
        contacts.create(
            first_name=f"Ana{n}",
            last_name="García",
            email=f"ana{n}@example.com",
            phone=f"+34 600 000 {n:03}",
            tags=["vip"],
            owner="ana" if n % 2 else "boss",
        ).id
        for n in range(60)
    ]
    tokens = {name: crm.authz.tokens.create(name, "bench").text for name in ("boss", "ana")}
    client = served_app(crm).test_client()

    class Served:
        def call(self, method, path, user="boss", **kwargs):
            return client.open(path, method=method, headers={"Authorization": f"Bearer {tokens[user]}"}, **kwargs)

        def counted(self, method, path, user="boss", status=200, **kwargs):
            """The request's statements, once its token's use of this minute is stamped (the steady state)."""
            self.call(method, path, user=user, **kwargs)
            with statements(crm) as sql:
                answer = self.call(method, path, user=user, **kwargs)
            assert answer.status_code == status, answer.get_data(as_text=True)
            return [s for s in sql if s.split()[0].upper() not in ("BEGIN", "COMMIT")], answer

    served = Served()
    served.crm, served.ids, served.client = crm, ids, client
    # PostgreSQL keeps a checked token until the database announces a change (tests/test_tokens_kept.py):
    # its requests make no statement for the token
    served.token = 0 if crm.config.core.database.startswith("postgres") else 1
    return served


def _shown(sql: list[str]) -> str:
    return "\n".join(s[:100] for s in sql)


def test_healthz_is_one_statement(served):
    with statements(served.crm) as sql:
        assert served.client.get("/healthz").status_code == 200
    assert sql == ["SELECT 1"]


@pytest.mark.parametrize(("user", "count"), [("boss", 1), ("ana", 2)])
def test_reading_a_contact_is_two_statements(served, user, count):
    """The token with its user, teams and roles (not on PostgreSQL, which keeps it); the contact with its
    e-mails, phones, addresses, tags, custom fields and organization's name. A seller's scope (own) is
    checked on the contact's owner first, so that nothing out of scope is loaded: one statement more."""
    sql, answer = served.counted("GET", f"/api/v1/contacts/{served.ids[1]}", user=user)
    assert len(sql) == served.token + count, _shown(sql)
    assert answer.json["emails"][0]["address"] == "ana1@example.com" and answer.json["tags"] == ["vip"]


@pytest.mark.parametrize(("user", "count"), [("boss", 2), ("ana", 3)])
def test_listing_a_page_of_fifty(served, user, count):
    """The token (but on PostgreSQL); the page with its cards (the page of every contact, in name order, for a reader who sees
    them all); their tags. A seller's scope is a condition of the page's query: the page's ids, then the cards."""
    sql, answer = served.counted("GET", "/api/v1/contacts?limit=50", user=user)
    assert len(sql) == served.token + count, _shown(sql)
    assert len(answer.json["data"]) == (50 if user == "boss" else 30)
    assert all(card["tags"] == ["vip"] for card in answer.json["data"])
    if user == "boss":  # the next page, after the last row (keyset): the same
        sql, following = served.counted("GET", answer.json["next"], user=user)
        assert len(sql) == served.token + count, _shown(sql)
        seen = [c["id"] for c in answer.json["data"] + following.json["data"]]
        assert sorted(seen) == sorted(served.ids) and len(following.json["data"]) == 10
        assert following.json["next"] is None


def test_creating_a_contact_commits_once(served):
    """The token (but on PostgreSQL); the contact, the words of its name, its e-mail; the event (with the outbox's lock); one
    commit, and no delivery to the handlers in the request. The record answered is built from what was
    written (no read-back of its e-mails, phones, addresses, tags and custom fields)."""
    n = iter(range(100))

    def create():
        i = next(n)
        return served.call(
            "POST",
            "/api/v1/contacts",
            json={"first_name": f"New{i}", "last_name": "Client", "emails": [{"address": f"new{i}@example.com"}]},
        )

    create()
    with statements(served.crm) as sql:
        assert create().status_code == 201
    commits = [s for s in sql if s.split()[0].upper() == "COMMIT"]
    work = [s for s in sql if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    # MariaDB locks the outbox in a statement of its own; PostgreSQL takes its (shared) lock with the insert
    assert len(commits) <= 1 and len(work) == served.token + (5 if served.crm.database.quote[0] == "`" else 4), _shown(
        sql
    )
    assert not [s for s in sql if "crm_event_lane" in s], _shown(sql)
