"""API tokens: shown once, kept as SHA-256, narrowing scopes, expiry, revocation, and distinct refusals."""

from __future__ import annotations

import hashlib

import pytest

from crm_core.errors import (
    NotFoundError,
    PermissionDenied,
    TokenExpiredError,
    TokenRevokedError,
    TokenUnknownError,
    UserDisabledError,
    ValidationError,
)
from crm_hookspecs.records import PermissionSpec, RecordTypeSpec


@pytest.fixture
def crm(crm_factory, crm_plugin, crm_user):
    plugin = crm_plugin(
        "shop",
        crm_permissions=lambda: [
            RecordTypeSpec("shop.order"),
            PermissionSpec("shop.read", record_type="shop.order"),
            PermissionSpec("shop.edit", record_type="shop.order"),
            PermissionSpec("shop.refund"),
        ],
    )
    app = crm_factory(plugins=[plugin])
    crm_user(app, name="root", roles=["admin"])
    crm_user(app, name="seller", roles=["sales"])
    return app


def test_a_token_is_shown_once_and_kept_as_a_hash(crm):
    from crm_core.auth.models import ApiToken

    new = crm.authz.tokens.create("seller", "nightly export")
    prefix = new.info.prefix
    assert new.text.startswith(f"crm_{prefix}_") and len(prefix) == 8 and len(new.text) > 50
    assert new.text not in repr(new)
    with crm.activate():
        row = ApiToken.get(ApiToken.prefix == prefix)
    assert row.secret_hash == hashlib.sha256(new.text.encode()).hexdigest()
    assert new.info.expires_at == crm.clock.now() + __import__("datetime").timedelta(days=90)


def test_authenticate_acts_with_the_tokens_scopes(crm, crm_clock):
    tokens = crm.authz.tokens
    narrow = tokens.create("seller", "reader", scopes=["shop.read"])
    full = tokens.create("seller", "everything")
    with crm.authz.as_token(narrow.text, address="192.0.2.1") as user:
        assert user.name == "seller" and crm.authz.scope("shop.read") == "own"
        with pytest.raises(PermissionDenied, match="the API token's scopes do not include it"):
            crm.authz.require("shop.edit")
    with crm.authz.as_token(full.text):
        crm.authz.require("shop.edit")
    assert tokens.get(narrow.info.prefix).last_used_at == crm_clock.now()
    used = crm.authz.audit.entries(action="token.used")
    assert len(used) == 2 and used[-1]["address"] == "192.0.2.1"
    crm.authz.tokens.authenticate(full.text)  # within a minute: not audited again
    assert len(crm.authz.audit.entries(action="token.used")) == 2


def test_a_token_cannot_ask_for_more_than_its_user_has(crm):
    with pytest.raises(PermissionDenied, match="cannot have 'shop.refund': the user does not hold it"):
        crm.authz.tokens.create("seller", "too much", scopes=["shop.read", "shop.refund"])
    with pytest.raises(ValidationError, match="unknown permission 'shop.raed'.*'shop.read'"):
        crm.authz.tokens.create("seller", "typo", scopes=["shop.raed"])
    assert crm.authz.tokens.list() == []


def test_refusals_are_distinct_and_audited(crm, crm_clock):
    tokens = crm.authz.tokens
    with pytest.raises(TokenUnknownError, match="unknown API token") as err:
        tokens.authenticate("crm_zzzzzzzz_nope")
    assert err.value.code == "token_unknown" and err.value.http_status == 401
    good = tokens.create("seller", "good", days=1)
    with pytest.raises(TokenUnknownError):
        tokens.authenticate(good.text[:-1] + ("A" if good.text[-1] != "A" else "B"))  # right prefix, wrong secret
    revoked = tokens.create("seller", "revoked")
    tokens.revoke(revoked.info.prefix)
    with pytest.raises(TokenRevokedError, match="was revoked") as err:
        tokens.authenticate(revoked.text)
    assert err.value.code == "token_revoked"
    crm_clock.advance(days=1)
    with pytest.raises(TokenExpiredError, match="expired on") as err:
        tokens.authenticate(good.text)
    assert err.value.code == "token_expired"
    other = tokens.create("seller", "other")
    crm.authz.users.disable("seller")
    with pytest.raises(UserDisabledError, match="belongs to user 'seller', who is disabled"):
        tokens.authenticate(other.text)
    reasons = [e["detail"]["reason"] for e in crm.authz.audit.entries(action="token.refused")]
    assert reasons == ["user disabled", "expired", "revoked", "unknown", "unknown"]


def test_users_manage_their_own_tokens_and_admins_everyones(crm):
    mine = crm.authz.tokens.create("root", "root's")
    with crm.as_user("seller"):
        own = crm.authz.tokens.create("seller", "mine")
        assert [t.prefix for t in crm.authz.tokens.list()] == [own.info.prefix]
        with pytest.raises(PermissionDenied, match="admin.tokens"):
            crm.authz.tokens.create("root", "not mine")
        with pytest.raises(PermissionDenied):
            crm.authz.tokens.revoke(mine.info.prefix)
    with crm.as_user("root"):
        assert len(crm.authz.tokens.list()) == 2
        crm.authz.tokens.revoke(own.text)
    with pytest.raises(NotFoundError, match="no API token with prefix 'nothere1'"):
        crm.authz.tokens.revoke("nothere1")
    assert [e["action"] for e in crm.authz.audit.entries(action="token.")] == [
        "token.revoked",
        "token.created",
        "token.created",
    ]


def test_a_disabled_user_gets_no_token(crm):
    crm.authz.users.disable("seller")
    with pytest.raises(UserDisabledError):
        crm.authz.tokens.create("seller", "x")


def test_a_token_its_user_teams_and_roles_are_one_statement(crm, crm_user, crm_backend):
    """Every API request checks its token: the token, its user, and the user's teams and roles come in one
    read (a change to any of them counts on the very next request). PostgreSQL keeps a checked token
    until a change is announced (tests/test_tokens_kept.py): no read at all."""
    from crm_core.testing import statements

    crm_user(crm, name="lead", roles=["sales", "manager"], teams=["north", "east"])
    crm_user(crm, name="loner")
    tokens = crm.authz.tokens
    lead, loner = tokens.create("lead", "crm sync"), tokens.create("loner", "nothing")
    tokens.authenticate(lead.text)  # the first use of a minute is stamped: not the steady state
    tokens.authenticate(loner.text)
    reads = 0 if crm_backend == "postgresql" else 1
    with statements(crm) as sql:
        auth = tokens.authenticate(lead.text)
    assert len(sql) == reads
    assert (auth.user.name, list(auth.user.roles), list(auth.user.teams)) == (
        "lead",
        ["manager", "sales"],
        ["east", "north"],
    )
    assert len(auth.user.team_ids) == 2 and auth.token.name == "crm sync"
    with statements(crm) as sql:
        auth = tokens.authenticate(loner.text)
    assert len(sql) == reads and not (auth.user.roles or auth.user.teams or auth.user.team_ids)
    crm.authz.users.edit("lead", remove_roles=["manager"], remove_teams=["north"])
    with statements(crm) as sql:
        auth = tokens.authenticate(lead.text)
    assert len(sql) == 1
    assert (list(auth.user.roles), list(auth.user.teams)) == (["sales"], ["east"])
    crm.authz.users.disable("lead")
    with pytest.raises(UserDisabledError):
        tokens.authenticate(lead.text)
