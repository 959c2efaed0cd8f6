"""crm_core.statements: a hot query's SQL is built once per dialect and shape, and binds new values."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest

from crm_core.errors import StorageError
from crm_core.statements import Statement
from crm_core.testing import statements


def _users(ids):
    from crm_core.auth.models import User

    return User.select(User.name, User.created_at).where(User.id.in_(ids)).order_by(User.name)


def test_a_statement_binds_new_values_to_the_sql_it_built_once(crm_factory, crm_user, monkeypatch):
    crm = crm_factory()
    made = [crm_user(crm, name=n) for n in ("ana", "bea", "cho")]
    query = Statement("test.users", _users)
    built = []
    monkeypatch.setattr(query, "_build", lambda ids: built.append(list(ids)) or _users(ids))
    with crm.activate():
        first = query.rows([made[0].id, made[1].id])
        second = query.rows([made[2].id, made[1].id])
        third = query.rows([made[2].id])
    assert [name for name, _ in first] == ["ana", "bea"]
    assert [name for name, _ in second] == ["bea", "cho"]
    assert [name for name, _ in third] == ["cho"]
    assert len(built) == 2  # one build per shape: two ids, then one
    # the selected fields convert their columns, as peewee's .tuples() does (a text time on SQLite)
    assert all(isinstance(created, dt.datetime) for _, created in first)


def test_padded_lists_share_shapes_and_find_the_same_rows(crm_factory, crm_user):
    crm = crm_factory()
    ids = [crm_user(crm, name=f"u{n}").id for n in range(5)]
    query = Statement("test.users.padded", _users, pad_lists=True)
    with crm.activate(), statements(crm) as sql:
        three = query.rows(ids[:3])
        four = query.rows(ids[:4])
    assert [n for n, _ in three] == ["u0", "u1", "u2"] and len(four) == 4
    sent = [s.rsplit("; ", 1)[-1] for s in sql]  # on PostgreSQL the first also prepares it: its EXECUTE
    assert sent[0] == sent[1] and sent[0].count("?") + sent[0].count("%s") == 4  # three ids padded to four
    assert "shape" in repr(query) and repr(query).startswith("<Statement 'test.users.padded'")


def test_a_builder_that_binds_other_values_is_refused_by_name(crm_factory):
    from crm_core.auth.models import User

    crm = crm_factory()
    limited = Statement("test.limited", lambda name: User.select().where(User.name == name).limit(1))
    with crm.activate(), pytest.raises(StorageError, match=r"statement 'test.limited'.*binds \['x', 1\]"):
        limited.rows("x")
    converted = Statement("test.converted", lambda flag: User.select().where(User.active == peewee.Value(flag) + 1))
    with crm.activate(), pytest.raises(StorageError, match="test.converted"):
        converted.rows(True)


def test_the_kit_counts_statements_and_restores_the_database(crm_factory):
    crm = crm_factory()
    with statements(crm) as sql:
        crm.database.execute_sql("SELECT 1")
        crm.database.execute_sql("SELECT 2")
    assert sql == ["SELECT 1", "SELECT 2"]
    assert "cursor" not in vars(crm.database)


def test_the_kit_counts_bulk_inserts_and_savepoints_too(crm_factory):
    from crm_core.storage import bulk_insert

    crm = crm_factory()
    with statements(crm) as sql, crm.transaction():
        bulk_insert("crm_lock", ("name",), [(f"lock{i}",) for i in range(150)])  # more than one statement's worth
    assert any(s.startswith(("INSERT INTO", "COPY ")) for s in sql) and any("SAVEPOINT" in s for s in sql), sql


# -- prepared on PostgreSQL ------------------------------------------------------------------------


def _by_name(name):
    from crm_core.auth.models import User

    # a literal percent sign beside the bound value: psycopg's %% must reach the server as one %
    return User.select(User.name).where((User.name == name) & peewee.SQL("'a%%' LIKE 'a%%'"))


@pytest.fixture
def postgres(crm_db_url):
    if not crm_db_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("statements are prepared on PostgreSQL only")
    return crm_db_url


def test_on_postgresql_a_statement_is_prepared_once_per_connection(postgres, crm_factory, crm_user):
    """The first call on a connection prepares it in the same round trip; later calls send EXECUTE and values."""
    from crm_core.testing import drop_connection

    crm = crm_factory()
    crm_user(crm, name="ana")
    crm_user(crm, name="bea")
    query = Statement("test.prepared", _by_name)
    with crm.activate(), statements(crm) as sql:
        assert query.rows("ana") == [("ana",)]
        assert query.rows("bea") == [("bea",)]
        with crm.transaction():
            assert query.rows("ana") == [("ana",)]
    first, second, third = (s for s in sql if s.startswith(("PREPARE", "EXECUTE")))
    assert first.startswith("PREPARE crm_") and "$1" in first and first.endswith("; EXECUTE " + second[8:])
    assert second == third and second.startswith("EXECUTE crm_") and second.endswith("(%s)")
    # a connection the server dropped is replaced, and the new one prepares the statement again
    drop_connection(crm.database)
    with crm.activate(), statements(crm) as sql:
        assert query.rows("bea") == [("bea",)]
        assert query.rows("ana") == [("ana",)]
    # sent on the dead connection, it fails there and runs again on a new one, which prepares it
    assert [s.split()[0] for s in sql] == ["EXECUTE", "PREPARE", "EXECUTE"]
    drop_connection(crm.database)
    with crm.activate(), crm.transaction(), statements(crm) as sql:
        assert query.rows("ana") == [("ana",)]
    assert [s.split()[0] for s in sql if not s.startswith(("BEGIN", "COMMIT"))] == ["PREPARE"]


def test_pooled_connections_each_prepare_what_they_lack(postgres, crm_factory, crm_user):
    import threading

    crm = crm_factory(database=postgres + "?pool=true&pool_max_connections=2")
    crm_user(crm, name="ana")
    query = Statement("test.prepared.pooled", _by_name)
    found = []

    def read():
        with crm.activate():
            found.append(query.rows("ana"))
        crm.database.close()  # back to the pool: the next thread may take this connection, or the other

    for _ in range(3):
        threads = [threading.Thread(target=read) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert found == [[("ana",)]] * 6


def test_prepare_false_sends_plain_statements(postgres, crm_factory, crm_user):
    crm = crm_factory(database=postgres + "?prepare=false")
    crm_user(crm, name="ana")
    query = Statement("test.plain", _by_name)
    with crm.activate(), statements(crm) as sql:
        assert query.rows("ana") == query.rows("ana") == [("ana",)]
    assert len(sql) == 2 and all(s.startswith("SELECT") for s in sql)


# -- RowInsert ---------------------------------------------------------------------------------------


def test_a_row_insert_builds_its_sql_once_converts_values_and_returns_the_id(crm_factory):
    from crm_core.auth.models import User
    from crm_core.statements import RowInsert

    crm = crm_factory()
    insert = RowInsert(User, ("name", "name_key", "display_name", "active", "totp_enabled", "created_at"))
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with crm.activate(), statements(crm) as sql:
        first = insert.run("Ana", "ana", "Ana Ruiz", True, False, at)
        second = insert.run("Bea", "bea", "", False, False, at)
    assert isinstance(first, int) and second > first and len(sql) == 2 and sql[0] == sql[1]
    with crm.activate():
        ana, bea = User.get_by_id(first), User.get_by_id(second)
    # the time went through its field (naive UTC in the table, aware UTC back), the flag through BooleanField
    assert ana.created_at == at and ana.created_at.tzinfo is not None and (ana.active, bea.active) == (True, False)
    assert (ana.name, ana.display_name, bea.name) == ("Ana", "Ana Ruiz", "Bea")
    assert repr(insert) == "<RowInsert crm_user: 6 column(s)>"


def test_a_row_insert_names_a_wrong_column_or_count(crm_factory):
    from crm_core.auth.models import User
    from crm_core.statements import RowInsert

    with pytest.raises(ValueError, match=r"RowInsert into crm_user: 'nmae' is no field of User \(.*name.*\)"):
        RowInsert(User, ("nmae",))
    insert = RowInsert(User, ("name", "name_key"))
    crm = crm_factory()
    with crm.activate(), pytest.raises(ValueError, match="RowInsert into crm_user: 1 value.s. for 2 columns"):
        insert.run("ana")


def test_a_row_insert_returning_gives_the_fields_as_stored(crm_factory):
    from crm_core.auth.models import User
    from crm_core.statements import RowInsert
    from crm_core.storage import _returns_rows

    crm = crm_factory()
    if not _returns_rows(crm.database):
        pytest.skip("this database has no INSERT … RETURNING")
    insert = RowInsert(
        User,
        ("name", "name_key", "display_name", "active", "totp_enabled", "created_at"),
        returning=("id", "active", "created_at"),
    )
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with crm.activate(), statements(crm) as sql:
        user_id, active, created = insert.run("Ana", "ana", "", False, False, at)
    assert len(sql) == 1 and "RETURNING" in sql[0]
    # converted as a SELECT gives them: the flag a bool, the time aware UTC
    assert active is False and created == at and created.tzinfo == dt.UTC
    with crm.activate():
        assert User.get_by_id(user_id).name == "Ana"


def test_insert_returning_builds_its_statement_once_and_adds_the_model_defaults(crm_factory):
    """The columns not given take the model's defaults (as ``Model.insert`` gives them); the text is kept."""
    from crm_core.auth.models import User
    from crm_core.storage import insert_returning

    crm = crm_factory()
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    fields = ("id", "display_name", "active", "totp_enabled", "created_at")
    with crm.activate(), statements(crm) as sql:
        first = insert_returning(User, {"name": "Ana", "name_key": "ana", "created_at": at}, fields)
        second = insert_returning(User, {"name": "Bea", "name_key": "bea", "created_at": at, "active": False}, fields)
        third = insert_returning(User, {"name": "Cid", "name_key": "cid", "created_at": at}, fields)
    assert first[1:] == ("", True, False, at) and second[1:] == ("", False, False, at) and third[2] is True
    work = [s for s in sql if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    assert work[0] == work[2] != work[1]  # one text per set of columns given
    with crm.activate():
        assert [u.active for u in User.select().where(User.id.in_([first[0], second[0]])).order_by(User.id)] == [
            True,
            False,
        ]
