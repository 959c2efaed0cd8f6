"""Checked API tokens kept between requests on PostgreSQL, dropped the moment a change is announced.

Every test runs on every configured backend: on SQLite and MariaDB nothing
is kept (every request reads the token), and the same assertions about
what a request may do hold there trivially; the statement counts differ.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from crm_core.errors import PermissionDenied, TokenExpiredError, TokenRevokedError, UserDisabledError
from crm_core.testing import statements
from crm_hookspecs.records import PermissionSpec, RecordTypeSpec


@pytest.fixture
def shop(crm_plugin):
    return crm_plugin(
        "shop",
        crm_permissions=lambda: [
            RecordTypeSpec("shop.order"),
            PermissionSpec("shop.read", record_type="shop.order"),
            PermissionSpec("shop.edit", record_type="shop.order"),
        ],
    )


@pytest.fixture
def crm(crm_factory, shop, crm_user):
    app = crm_factory(plugins=[shop])
    crm_user(app, name="root", roles=["admin"])
    crm_user(app, name="seller", roles=["sales"], teams=["north"])
    return app


@pytest.fixture
def other(crm_factory, crm, shop):
    """A second app on the same database: another process, with connections of its own."""
    return crm_factory(plugins=[shop])


def _kept(backend: str) -> bool:
    return backend == "postgresql"


def _grants(crm, text: str) -> dict[str, str]:
    with crm.authz.as_token(text):
        return dict(crm.authz.acting.grants)


def _soon(check, *, within: float = 5.0):
    """Run ``check`` until it does not raise AssertionError (a notice crosses processes in moments)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def test_a_kept_token_costs_no_statement_and_its_use_is_stamped_each_minute(crm, crm_clock, crm_backend):
    tokens = crm.authz.tokens
    token = tokens.create("seller", "sync")
    tokens.authenticate(token.text)  # the first use: read, stamped and audited
    with statements(crm) as sql:
        auth = tokens.authenticate(token.text)
    assert auth.user.name == "seller" and auth.token.prefix == token.info.prefix
    assert len(sql) == (0 if _kept(crm_backend) else 1)
    crm_clock.advance(seconds=59)
    with statements(crm) as sql:
        tokens.authenticate(token.text)
    assert len(sql) == (0 if _kept(crm_backend) else 1)
    assert len(crm.authz.audit.entries(action="token.used")) == 1
    crm_clock.advance(seconds=2)  # a minute after the stamp: read and stamped again, kept anew
    tokens.authenticate(token.text)
    assert len(crm.authz.audit.entries(action="token.used")) == 2
    assert tokens.get(token.info.prefix).last_used_at == crm_clock.now()
    with statements(crm) as sql:
        tokens.authenticate(token.text)
    assert len(sql) == (0 if _kept(crm_backend) else 1)


def test_a_wrong_secret_is_refused_while_the_right_one_is_kept(crm):
    from crm_core.errors import TokenUnknownError

    tokens = crm.authz.tokens
    token = tokens.create("seller", "sync")
    tokens.authenticate(token.text)
    tokens.authenticate(token.text)
    forged = token.text[:-3] + ("x" if token.text[-3] != "x" else "y") + token.text[-2:]
    with pytest.raises(TokenUnknownError):
        tokens.authenticate(forged)
    assert tokens.authenticate(" " + token.text + "\n").user.name == "seller"


def test_a_kept_token_is_refused_when_it_expires(crm, crm_clock):
    from crm_core.auth.models import ApiToken

    tokens = crm.authz.tokens
    token = tokens.create("seller", "short")
    soon = crm_clock.now() + dt.timedelta(seconds=30)
    with crm.transaction():
        ApiToken.update(expires_at=soon).where(ApiToken.prefix == token.info.prefix).execute()
    tokens.authenticate(token.text)
    tokens.authenticate(token.text)
    crm_clock.advance(seconds=31)
    with pytest.raises(TokenExpiredError):
        tokens.authenticate(token.text)


@pytest.mark.parametrize(
    "change",
    ["revoke", "disable", "lose role", "leave team", "remove team", "narrow stored role", "sql"],
)
def test_a_change_made_by_another_process_counts_on_the_next_request(crm, other, change, crm_backend):
    """The token is kept by ``crm``; ``other`` (another process) changes what it may do."""
    from crm_core.auth.models import ApiToken

    if change == "narrow stored role":
        other.authz.roles.add("clerk", permissions=["shop.read", "shop.edit"], scopes={"shop.order": "all"})
        other.authz.users.edit("seller", add_roles=["clerk"])
    tokens = crm.authz.tokens
    token = tokens.create("seller", "sync")
    with crm.authz.as_token(token.text) as user:
        assert list(user.teams) == ["north"]
    before = _grants(crm, token.text)
    with statements(crm) as sql:
        assert _grants(crm, token.text) == before
    assert len(sql) == (0 if _kept(crm_backend) else 1 if change != "narrow stored role" else 4)

    if change == "revoke":
        other.authz.tokens.revoke(token.info.prefix)
        _soon(lambda: _refused(tokens, token.text, TokenRevokedError))
    elif change == "disable":
        other.authz.users.disable("seller")
        _soon(lambda: _refused(tokens, token.text, UserDisabledError))
    elif change == "lose role":
        other.authz.users.edit("seller", remove_roles=["sales"])
        _soon(lambda: _refused_permission(crm, token.text, "shop.read"))
    elif change == "leave team":
        other.authz.users.edit("seller", remove_teams=["north"])
        _soon(lambda: _teams(crm, token.text, []))
    elif change == "remove team":
        other.authz.teams.remove("north", force=True)
        _soon(lambda: _teams(crm, token.text, []))
    elif change == "narrow stored role":
        other.authz.roles.edit("clerk", revoke=["shop.edit"])
        other.authz.users.edit("seller", remove_roles=["sales"])
        _soon(lambda: _refused_permission(crm, token.text, "shop.edit"))
    else:  # a script writing SQL: the database's triggers announce it too
        with other.transaction():
            ApiToken.update(scopes='["shop.read"]').where(ApiToken.prefix == token.info.prefix).execute()
        _soon(lambda: _refused_permission(crm, token.text, "shop.edit"))


def _refused(tokens, text, error):
    try:
        tokens.authenticate(text)
    except error:
        return
    raise AssertionError(f"the token was still accepted, not refused with {error.__name__}")


def _refused_permission(crm, text, permission):
    with crm.authz.as_token(text):
        try:
            crm.authz.require(permission)
        except PermissionDenied:
            return
    raise AssertionError(f"the token still has {permission}")


def _teams(crm, text, expected):
    with crm.authz.as_token(text) as user:
        assert list(user.teams) == expected


def test_the_last_used_stamp_does_not_make_other_processes_read_again(crm, other, crm_clock, crm_backend):
    """The once-a-minute stamp of ``last_used_at`` is left out of the announced changes."""
    tokens = crm.authz.tokens
    mine, theirs = tokens.create("seller", "mine"), tokens.create("root", "theirs")
    tokens.authenticate(mine.text)
    tokens.authenticate(mine.text)
    other.authz.tokens.authenticate(theirs.text)  # stamps 'theirs'
    time.sleep(0.05)  # were it announced, the notice would have arrived by now
    with statements(crm) as sql:
        tokens.authenticate(mine.text)
    assert len(sql) == (0 if _kept(crm_backend) else 1)


def test_notices_on_postgresql(crm, other, crm_backend):
    """``database.announced``: True on a connection's first look and after a notice, else False;
    None where the database cannot tell."""
    database = crm.database
    if not _kept(crm_backend):
        assert database.announced("crm_test") is None
        return
    with crm.activate():
        assert database.announced("crm_test") is True  # LISTEN: what came before is unknown
        assert database.announced("crm_other") is True
        assert database.announced("crm_test") is False
        other.database.execute_sql("NOTIFY crm_test")
        other.database.execute_sql("NOTIFY crm_other")
        _soon(lambda: _is(database.announced("crm_test"), True))
        assert database.announced("crm_test") is False
        with crm.transaction():
            assert database.announced("crm_test") is None
        conn = database.connection()
        other.database.execute_sql("NOTIFY crm_test")
        time.sleep(0.05)
        # an idle connection with a notice to read is alive: checked before a write, it is kept
        database._check_idle()
        assert database.connection() is conn
        assert database.announced("crm_test") is True
        assert [n.channel for n in conn.notifies] == ["crm_other"]  # another channel's notice is left
        assert database.announced("crm_other") is True
        assert database.announced("crm_other") is False


def _is(value, expected):
    assert value is expected


def test_nothing_is_kept_behind_pgbouncer(crm, crm_factory, shop, crm_backend):
    """``prepare=false`` (PgBouncer's transaction mode keeps no session's LISTEN): every request reads."""
    if not _kept(crm_backend):
        pytest.skip("PostgreSQL's URL option")
    url = crm.config.core.database
    bouncer = crm_factory(plugins=[shop], database=url + ("&" if "?" in url else "?") + "prepare=false")
    token = bouncer.authz.tokens.create("seller", "sync")
    tokens = bouncer.authz.tokens
    tokens.authenticate(token.text)
    assert bouncer.database.announced("crm_auth") is None
    with statements(bouncer) as sql:
        tokens.authenticate(token.text)
    assert len(sql) == 1


def test_a_connection_the_server_dropped_cannot_vouch_for_a_kept_token(crm, other, crm_backend):
    """Notices sent after the server ended this connection's session never arrive: read the token again."""
    from crm_core.testing import drop_connection

    if not _kept(crm_backend):
        pytest.skip("PostgreSQL keeps tokens")
    tokens = crm.authz.tokens
    token = tokens.create("seller", "sync")
    tokens.authenticate(token.text)
    tokens.authenticate(token.text)
    with crm.activate():
        drop_connection(crm.database)
    time.sleep(0.05)  # the server's goodbye reaches the socket
    other.authz.tokens.revoke(token.info.prefix)  # announced to every live session, not to the dropped one
    with pytest.raises(TokenRevokedError):
        tokens.authenticate(token.text)
