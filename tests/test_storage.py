"""Storage: URLs, SQLite settings, app routing, bulk_insert, datetimes (crm_core.storage)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import threading
import time
import zoneinfo
from pathlib import Path

import peewee
import pytest

from crm_core import CRM, storage
from crm_core.errors import AppContextError, StorageError
from crm_core.storage import Model, UTCDateTimeField, bulk_insert, dialect, for_update
from crm_hookspecs import hookimpl
from crm_hookspecs.records import PluginSchema

ITEM_MIGRATION = """
import peewee


def up(migrator, db):
    class Item(peewee.Model):
        name = peewee.CharField(max_length=100)
        qty = peewee.IntegerField(null=True)
        price = peewee.DecimalField(max_digits=10, decimal_places=2, null=True)
        seen_at = peewee.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "kt_item"

    db.create_tables([Item])
"""


class Item(Model):
    name = peewee.CharField(max_length=100)
    qty = peewee.IntegerField(null=True)
    price = peewee.DecimalField(max_digits=10, decimal_places=2, null=True)
    seen_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "kt_item"


class ItemPlugin:
    """A plugin owning kt_item, made in the test (no installation)."""

    def __init__(self, migrations: Path) -> None:
        self.migrations = migrations

    @hookimpl
    def crm_schema(self):
        return PluginSchema(migrations=self.migrations, models=(Item,))


@pytest.fixture
def item_plugin(tmp_path, kit):
    folder = kit.write_migrations(tmp_path / "kt_migrations", {"0001_item": ITEM_MIGRATION})
    return ("kt", ItemPlugin(folder))


# -- URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite:///crm.db", "sqlite"),
        ("crm.db", "sqlite"),
        ("sqlite:///:memory:", "sqlite"),
        ("postgresql://u@h/db", "postgresql"),
        ("postgres://u:p@h:5433/db", "postgresql"),
        ("mysql://u@h/db", "mysql"),
        ("mariadb://u@h/db", "mysql"),
    ],
)
def test_connect_understands_the_schemes(url, kind, tmp_path):
    database = storage.connect(url, tmp_path)
    assert dialect(database) == kind
    assert database.is_closed()  # made, not opened


def test_relative_sqlite_paths_are_relative_to_the_base_dir(tmp_path):
    assert storage.connect("sqlite:///data/crm.db", tmp_path).database == str(tmp_path / "data" / "crm.db")
    assert storage.connect(f"sqlite:///{tmp_path}/abs.db", Path("/elsewhere")).database == str(tmp_path / "abs.db")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("oracle://scott:tiger@db/crm", "unknown database scheme 'oracle'"),
        ("sqlite://", "names no file"),
        ("postgresql://postgres@localhost", "names no database; add it: postgresql://host/dbname"),
    ],
)
def test_bad_urls_are_storage_errors(url, expected):
    with pytest.raises(StorageError, match=expected) as info:
        storage.connect(url)
    assert "tiger" not in str(info.value)


def test_describe_url_hides_the_password():
    assert storage.describe_url("postgresql://crm:s3cret@db/crm") == "postgresql://crm:***@db/crm"
    assert storage.describe_url("sqlite:///crm.db") == "sqlite:///crm.db"


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres:pw@127.0.0.1:1/crm", "mysql://root:pw@127.0.0.1:1/crm"],
    ids=["postgresql", "mysql"],
)
def test_an_unreachable_server_is_a_one_line_storage_error(url):
    with pytest.raises(StorageError) as info:
        CRM(database=url)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot open the database ")
    assert ":***@127.0.0.1:1/crm" in message and "pw@" not in message
    assert "check that the server runs" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_sqlite_file_in_a_missing_folder_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError) as info:
        CRM(database=f"sqlite:///{tmp_path / 'no' / 'such' / 'crm.db'}")
    assert "cannot open the database" in str(info.value)
    assert "folder" in str(info.value)


def test_the_cli_on_an_unreachable_postgresql_exits_non_zero_without_a_traceback(tmp_path, kit):
    config = tmp_path / "crm.toml"
    config.write_text('[crm]\ndatabase = "postgresql://postgres@127.0.0.1:1/crm"\n[plugins]\nenabled = []\n')
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_PLUGINS", "CRM_CONFIG")}
    result = subprocess.run(
        [str(kit.VENV_BIN / "crm"), "--config", str(config), "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == StorageError.exit_code
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: cannot open the database postgresql://postgres@127.0.0.1:1/crm"
    )
    assert result.stdout == ""


# -- SQLite -----------------------------------------------------------------


@pytest.mark.sqlite_only
def test_sqlite_pragmas(crm_factory):
    crm = crm_factory()
    database = crm.database
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == storage.SQLITE_BUSY_TIMEOUT_MS


@pytest.mark.sqlite_only
def test_sqlite_write_transactions_begin_immediate(crm_factory, crm_db_url):
    """A transaction holds the write lock from its start, before it writes anything."""
    crm = crm_factory()
    path = crm.database.database
    with crm.transaction():
        crm.database.execute_sql("SELECT 1")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


WRITER = """
import os, sys, time
from crm_core import CRM

url, start, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with CRM(database=url) as crm:
    deadline = time.monotonic() + 30
    while not os.path.exists(start) and time.monotonic() < deadline:
        time.sleep(0.002)
    for i in range(count):
        # read, then write: a deferred transaction would fail to upgrade its lock
        with crm.transaction():
            seen = crm.database.execute_sql("SELECT COUNT(*) FROM kt_item").fetchone()[0]
            crm.database.execute_sql("INSERT INTO kt_item (name, qty) VALUES (?, ?)", (tag, seen))
"""


@pytest.mark.sqlite_only
def test_two_writer_processes_never_fail_with_database_is_locked(crm_factory, item_plugin, tmp_path):
    crm = crm_factory([item_plugin])
    url = f"sqlite:///{crm.database.database}"
    start = tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    per_process = 150
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, str(start), str(per_process), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    try:
        time.sleep(0.3)  # let both open the database before they start
        start.touch()
        outputs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err
        assert "locked" not in err
    with crm.activate():
        rows = list(Item.select(Item.name, Item.qty).order_by(Item.id).tuples())
    assert len(rows) == 2 * per_process
    # every transaction saw all the rows committed before it: the counts are 0..n-1
    assert [qty for _, qty in rows] == list(range(2 * per_process))


# -- apps and routing -------------------------------------------------------


def test_two_apps_on_two_databases_do_not_see_each_others_data(crm_factory, item_plugin, tmp_path):
    first = crm_factory([item_plugin])
    second = crm_factory([item_plugin], database=f"sqlite:///{tmp_path / 'second.db'}")

    with first.transaction():
        Item.create(name="in first")
    with second.transaction():
        Item.create(name="in second")
        Item.create(name="also in second")

    with first.activate():
        assert [i.name for i in Item.select()] == ["in first"]
    with second.activate():
        assert sorted(i.name for i in Item.select()) == ["also in second", "in second"]
        with first.activate():  # nesting switches, and switches back
            assert Item.select().count() == 1
        assert Item.select().count() == 2


def test_with_two_apps_open_and_none_active_a_query_is_refused(crm_factory, item_plugin, tmp_path):
    first = crm_factory([item_plugin])
    crm_factory([item_plugin], database=f"sqlite:///{tmp_path / 'second.db'}")

    with pytest.raises(AppContextError) as info:
        Item.select().count()
    assert "2 CRM apps are open" in str(info.value)
    assert "with crm.activate():" in str(info.value)

    results = []

    def in_a_thread():
        try:
            Item.select().count()
        except AppContextError as exc:
            results.append(exc)
        with first.activate():
            results.append(Item.select().count())

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert isinstance(results[0], AppContextError) and results[1] == 0


def test_one_open_app_is_active_everywhere(crm_factory, item_plugin):
    crm = crm_factory([item_plugin])
    Item.create(name="no activate needed")
    assert Item.select().count() == 1
    assert storage.current_app() is crm


def test_no_open_app(item_plugin):
    with pytest.raises(AppContextError, match="no CRM app is open"):
        Item.select().count()


def test_a_closed_app_refuses_use(crm_factory, item_plugin):
    from crm_hookspecs.events import ContactCreated

    crm = crm_factory([item_plugin])
    with crm.activate():
        crm.close()
        with pytest.raises(AppContextError, match="closed"):
            Item.select().count()  # the app still active here is closed
    with pytest.raises(AppContextError, match="this CRM app is closed; build a new one"):
        crm.activate()
    with pytest.raises(AppContextError, match="closed"):
        with crm.transaction():
            pass
    with pytest.raises(AppContextError, match="closed"):
        crm.migrate()
    with pytest.raises(AppContextError, match="closed"):
        crm.emit(ContactCreated(contact_id=1, data={}))
    crm.close()  # closing twice is harmless
    with pytest.raises(AppContextError, match="no CRM app is open"):
        Item.select().count()


def test_the_db_proxy_cannot_be_repointed():
    with pytest.raises(TypeError, match="follows the active app"):
        storage.db.initialize(peewee.SqliteDatabase(":memory:"))


def test_dialect_and_for_update(crm_factory, item_plugin, crm_db_url):
    crm = crm_factory([item_plugin])
    kind = dialect(crm.database)
    assert kind == crm_db_url.split(":")[0].replace("postgres", "postgresql").replace("postgresqlql", "postgresql")
    assert dialect(storage.db) == kind
    with crm.transaction():
        Item.create(name="locked")
        query = for_update(Item.select().where(Item.name == "locked"), crm.database)
        sql, _ = query.sql()
        assert ("FOR UPDATE" in sql) == (kind != "sqlite")
        assert query.get().name == "locked"


# -- bulk_insert --------------------------------------------------------------


def test_bulk_insert_in_batches(crm_factory, item_plugin):
    crm = crm_factory([item_plugin])
    consumed = []

    def rows():
        for i in range(2_345):
            consumed.append(i)
            yield (f"item {i}", i, None)

    with crm.activate():
        count = bulk_insert(Item, ("name", "qty", "price"), rows(), batch_size=500)
        assert count == 2_345
        assert Item.select().count() == 2_345
        assert Item.select(peewee.fn.SUM(Item.qty)).scalar() == sum(range(2_345))
        assert Item.get(Item.qty == 1_000).name == "item 1000"


def test_bulk_insert_values_round_trip(crm_factory, item_plugin):
    import decimal

    crm = crm_factory([item_plugin])
    when = dt.datetime(2026, 3, 1, 12, 30, 5)
    rows = [("ñandú «quoted» 'x'", None, decimal.Decimal("12.50"), when), ("plain", 7, None, None)]
    with crm.activate():
        bulk_insert("kt_item", ("name", "qty", "price", "seen_at"), rows)
        got = list(Item.select().order_by(Item.id))
    assert [(i.name, i.qty, i.price) for i in got] == [
        ("ñandú «quoted» 'x'", None, decimal.Decimal("12.50")),
        ("plain", 7, None),
    ]
    assert got[0].seen_at == when.replace(tzinfo=dt.UTC)


def test_bulk_insert_joins_the_callers_transaction_and_rolls_back_with_it(crm_factory, item_plugin):
    crm = crm_factory([item_plugin])
    with pytest.raises(RuntimeError, match="change of plan"):
        with crm.transaction():
            Item.create(name="before")
            bulk_insert(Item, ("name",), ((f"n{i}",) for i in range(1_200)), batch_size=250)
            assert Item.select().count() == 1_201
            raise RuntimeError("change of plan")
    with crm.activate():
        assert Item.select().count() == 0


def test_bulk_insert_is_atomic_on_its_own(crm_factory, item_plugin):
    """A bad row in a late batch leaves none of the earlier batches behind."""
    crm = crm_factory([item_plugin])
    rows = [(f"n{i}",) for i in range(600)] + [("x" * 500,) if dialect(crm.database) != "sqlite" else (None,)]
    with crm.activate():
        with pytest.raises(peewee.DatabaseError):
            bulk_insert(Item, ("name",), rows, batch_size=100)
        assert Item.select().count() == 0


def test_a_few_rows_are_one_statement_all_or_nothing_without_a_savepoint(crm_factory, item_plugin):
    """Up to 100 rows (and 999 values) go as one multi-row INSERT: no savepoint inside the caller's transaction,
    and a bad row leaves none of the others behind."""
    from crm_core.testing import statements

    crm = crm_factory([item_plugin])
    with statements(crm) as sql, crm.transaction():
        assert bulk_insert(Item, ("name", "qty"), [(f"n{i}", i) for i in range(100)]) == 100
    inserts = [s for s in sql if s.startswith("INSERT")]
    assert len(inserts) == 1 and not [s for s in sql if "SAVEPOINT" in s], sql
    bad = [("ok1",), ("ok2",), ("x" * 500,) if dialect(crm.database) != "sqlite" else (None,)]
    with crm.activate():
        with pytest.raises(peewee.DatabaseError):
            bulk_insert(Item, ("name",), bad)  # on its own: its own transaction
        assert Item.select().where(Item.name.in_(["ok1", "ok2"])).count() == 0
    with pytest.raises(peewee.DatabaseError), crm.transaction():
        bulk_insert(Item, ("name",), bad)  # in the caller's: it fails the caller's transaction, as one statement does
    with crm.activate():
        assert Item.select().where(Item.name.in_(["ok1", "ok2"])).count() == 0
        assert Item.select().count() == 100


def test_bulk_insert_skipping_duplicates_counts_the_rows_it_wrote(crm_factory, item_plugin):
    """A row whose key is taken is left out in the same statement, with no key check and no savepoint."""
    from crm_core.testing import statements

    crm = crm_factory([item_plugin])
    with crm.transaction():
        bulk_insert(Item, ("id", "name"), [(1, "a"), (2, "b"), (3, "c")])
    with statements(crm) as sql, crm.transaction():
        written = bulk_insert(Item, ("id", "name"), [(2, "B"), (3, "C"), (4, "d"), (5, "e")], skip_duplicates=True)
    assert written == 2
    assert [s.split()[0] for s in sql if s.split()[0].upper() not in ("BEGIN", "COMMIT")] == ["INSERT"], sql
    # past one statement: pages of rows (executemany, or several VALUES pages), each page's count added up
    many = [(i, f"n{i}") for i in range(1, 1301)]
    with crm.activate():
        assert bulk_insert(Item, ("id", "name"), many, batch_size=500, skip_duplicates=True) == 1300 - 5
        assert bulk_insert(Item, ("id", "name"), many[:7], skip_duplicates=True) == 0
        assert dict(Item.select(Item.id, Item.name).where(Item.id <= 6).tuples()) == {
            1: "a", 2: "b", 3: "c", 4: "d", 5: "e", 6: "n6"
        }  # fmt: skip
        assert Item.select().count() == 1300


@pytest.mark.parametrize("returning", [True, False], ids=["insert-returning", "insert-then-read"])
def test_insert_returning_gives_the_row_as_stored(crm_factory, item_plugin, monkeypatch, returning):
    """The values as a read gives them back (MariaDB keeps no microseconds of a DATETIME, a decimal has two places)."""
    import datetime as dt
    import decimal

    from crm_core import storage
    from crm_core.storage import insert_returning
    from crm_core.testing import statements

    crm = crm_factory([item_plugin])
    if not returning:  # MySQL, or SQLite before 3.35: the insert, then a read by id
        monkeypatch.setattr(storage, "_returns_rows", lambda database: False)
    seen = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    fields = ("id", "name", "qty", "price", "seen_at")
    with statements(crm) as sql, crm.transaction():
        row = insert_returning(
            Item, {"name": "tea", "qty": 3, "price": decimal.Decimal("2.5"), "seen_at": seen}, fields
        )
    work = [s for s in sql if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    assert len(work) == (1 if returning and storage._returns_rows(crm.database) else 2), work
    with crm.activate():
        assert row == Item.select(*(getattr(Item, f) for f in fields)).where(Item.id == row[0]).tuples().get()
    assert row[1:4] == ("tea", 3, decimal.Decimal("2.50")) and row[4].tzinfo == dt.UTC


def test_bulk_insert_row_of_the_wrong_width_is_a_clear_error(crm_factory, item_plugin):
    crm = crm_factory([item_plugin])
    rows = [("a", 1), ("b", 2), ("c",), ("d", 4)]
    with crm.activate():
        with pytest.raises(ValueError, match=r"row 3 has 1 value\(s\) but 2 columns were given \(name, qty\)"):
            bulk_insert(Item, ("name", "qty"), rows)
        assert Item.select().count() == 0
        with pytest.raises(ValueError, match="at least one column"):
            bulk_insert(Item, (), rows)
        assert bulk_insert(Item, ("name",), []) == 0


def test_bulk_insert_into_the_database_given(crm_factory, item_plugin, tmp_path):
    first = crm_factory([item_plugin])
    second = crm_factory([item_plugin], database=f"sqlite:///{tmp_path / 'second.db'}")
    bulk_insert(Item, ("name",), [("x",), ("y",)], database=second.database)  # no app active, two open
    with second.activate():
        assert Item.select().count() == 2
    with first.activate():
        assert Item.select().count() == 0


def test_bulk_insert_given_a_model_converts_each_value_like_create(crm_factory, item_plugin):
    """An aware datetime in another zone lands as the UTC instant; a string quantity as a number."""
    crm = crm_factory([item_plugin])
    madrid = dt.datetime(2026, 7, 1, 14, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Madrid"))
    with crm.activate():
        bulk_insert(Item, ("name", "qty", "seen_at"), [("converted", "12", madrid)])
        item = Item.get(Item.name == "converted")
        raw = storage.current_app().database.execute_sql("SELECT seen_at FROM kt_item").fetchone()[0]
    assert item.seen_at == dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert item.qty == 12
    assert str(raw).startswith("2026-07-01 12:00:00")


def test_bulk_insert_given_a_model_stores_blobs_as_bytes_on_every_backend(crm):
    """BlobField.db_value gives the binary type of the first database bound (memoryview for SQLite),
    which PyMySQL would store as its text: bulk_insert hands every driver bytes."""
    from crm_core.mail.models import MailAttachment

    crm.migrate()
    queued = crm.mail.queue("a@example.com", "Files", "see attached")
    content = bytes(range(256))
    rows = [
        (queued.id, 0, "a.bin", "application/octet-stream", content),
        (queued.id, 1, "b.bin", "application/octet-stream", memoryview(b"\x00B")),
        (queued.id, 2, "c.bin", "application/octet-stream", bytearray(b"C\xff")),
    ]
    with crm.activate():
        bulk_insert(MailAttachment, ("mail_id", "position", "filename", "content_type", "content"), rows)
    stored = crm.mail.attachments([queued.id])[queued.id]
    assert [a.content for a in stored] == [content, b"\x00B", b"C\xff"]


def test_bulk_insert_writes_each_batch_with_one_copy_on_postgresql(crm_factory, item_plugin):
    """Values COPY's text form must escape (tabs, newlines, backslashes, a lone "\\."), NULL beside an empty
    string, decimals and datetimes arrive as they would through INSERT; other backends insert as before."""
    import decimal

    from crm_core.testing import statements

    crm = crm_factory([item_plugin])
    when = dt.datetime(2026, 3, 1, 12, 30, 5)  # MySQL DATETIME keeps no fraction
    tricky = ["tab\there", "two\nlines", "back\\slash \\N", "\\.", "cr\rlf\r\n", "", "ñandú «q» 'x' \"y\""]
    rows = [
        (text, i, decimal.Decimal("12.50") if i % 2 else None, when if i % 3 else None) for i, text in enumerate(tricky)
    ]
    rows += [(f"plain {i}", None, None, None) for i in range(200)]
    with statements(crm) as sql, crm.activate():
        assert bulk_insert("kt_item", ("name", "qty", "price", "seen_at"), rows, batch_size=150) == len(rows)
        got = list(Item.select().order_by(Item.id).tuples())
    copies = [s for s in sql if s.startswith("COPY")]
    if dialect(crm.database) == "postgresql":
        assert len(copies) == 2 and not [s for s in sql if s.startswith("INSERT")], sql  # 207 rows, 150 a batch
    else:
        assert copies == []
    assert [(n, q, p) for _, n, q, p, _ in got] == [(n, q, p) for n, q, p, _ in rows]
    assert [s.replace(tzinfo=None) if s else None for *_, s in got] == [r[3] for r in rows]


def test_copy_text_escapes_and_refuses_what_copy_would_change():
    import decimal
    import math

    from crm_core.storage import copy_text

    text = copy_text([("a\tb\\", None, True, 3, 2.5, decimal.Decimal("1.10"), b"\x00\xff", dt.date(2026, 1, 2))])
    assert text == "a\\tb\\\\\t\\N\tt\t3\t2.5\t1.10\t\\\\x00ff\t2026-01-02\n"
    assert copy_text([(math.inf, -math.inf, math.nan)]) == "Infinity\t-Infinity\tNaN\n"
    assert copy_text([(dt.datetime(2026, 1, 2, 3, 4, 5),)]) == "2026-01-02 03:04:05\n"
    # the driver sends these its own way (an aware datetime as timestamptz): bulk_insert sends them as INSERT
    assert copy_text([("ok",), (dt.datetime(2026, 1, 2, tzinfo=dt.UTC),)]) is None
    assert copy_text([({"a": 1},)]) is None


def test_bulk_insert_on_postgresql_inserts_what_copy_cannot_carry(crm_factory, item_plugin):
    from crm_core.testing import statements

    crm = crm_factory([item_plugin])
    madrid = dt.datetime(2026, 7, 1, 14, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Madrid"))
    rows = [(f"n{i}", i, None, madrid if i == 150 else None) for i in range(300)]
    with statements(crm) as sql, crm.activate():
        bulk_insert("kt_item", ("name", "qty", "price", "seen_at"), rows, batch_size=200)
        got = {q: s for q, s in Item.select(Item.qty, Item.seen_at).tuples()}
    assert len(got) == 300 and got[150] is not None and got[151] is None
    if dialect(crm.database) == "postgresql":
        # the batch with the aware datetime went as INSERT … VALUES, the other as COPY
        assert [s.split()[0] for s in sql if s.startswith(("COPY", "INSERT"))] == ["INSERT", "COPY"], sql
        assert got[150] == madrid.astimezone(dt.UTC)


def test_page_cache_grows_sqlites_cache_for_a_block_and_gives_it_back(crm_factory, item_plugin):
    from crm_core.storage import page_cache

    crm = crm_factory([item_plugin])
    database = crm.database
    if dialect(database) != "sqlite":
        with page_cache(database, 64):  # the server sizes its own cache: nothing to do, nothing run
            assert Item.select().count() == 0
        return
    before = database.execute_sql("PRAGMA cache_size").fetchone()[0]
    with page_cache(database, 64):
        assert database.execute_sql("PRAGMA cache_size").fetchone()[0] == -64 * 1024
    assert database.execute_sql("PRAGMA cache_size").fetchone()[0] == before
    with pytest.raises(RuntimeError), page_cache(database, 8):
        raise RuntimeError("given back on the way out too")
    assert database.execute_sql("PRAGMA cache_size").fetchone()[0] == before


def test_bulk_insert_names_a_column_the_model_lacks(crm_factory, item_plugin):
    crm = crm_factory([item_plugin])
    with crm.activate():
        with pytest.raises(ValueError, match=r"'colour' is no field of Item \(id, name, qty, price, seen_at\)"):
            bulk_insert(Item, ("name", "colour"), [("x", "red")])


def test_batched_pages_lazily():
    from crm_core.storage import batched

    seen = []

    def numbers():
        for i in range(7):
            seen.append(i)
            yield i

    pages = batched(numbers(), 3)
    assert next(pages) == [0, 1, 2] and seen == [0, 1, 2]
    assert list(pages) == [[3, 4, 5], [6]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(batched([1], 0))


def test_naive_and_aware_utc_helpers():
    from crm_core.clock import aware_utc, naive_utc

    madrid = dt.datetime(2026, 1, 10, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Madrid"))
    assert naive_utc(madrid) == dt.datetime(2026, 1, 10, 9, 0)
    assert naive_utc(dt.datetime(2026, 1, 10, 9, 0)) == dt.datetime(2026, 1, 10, 9, 0)
    assert aware_utc(dt.datetime(2026, 1, 10, 9, 0)) == dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
    assert aware_utc("2026-01-10 09:00:00") == dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
    assert aware_utc(madrid).tzinfo is dt.UTC


# -- datetimes ----------------------------------------------------------------


def test_utc_datetime_field_stores_utc_and_reads_back_aware(crm_factory, item_plugin):
    crm = crm_factory([item_plugin])
    madrid = dt.datetime(2026, 7, 1, 14, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Madrid"))
    with crm.transaction():
        Item.create(name="summer", seen_at=madrid)
    with crm.activate():
        item = Item.get(Item.name == "summer")
        raw = crm.database.execute_sql("SELECT seen_at FROM kt_item").fetchone()[0]
        found = Item.select().where(Item.seen_at == dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)).count()
    assert item.seen_at == madrid
    assert item.seen_at.tzinfo == dt.UTC and item.seen_at.hour == 12
    assert str(raw).startswith("2026-07-01 12:00:00")
    assert found == 1


def test_a_module_of_models_first_imported_while_two_apps_are_open_defines_its_models(crm_factory, tmp_path):
    """peewee asks the database proxy whether it is bound while a model class is defined: that is no query."""
    first = crm_factory()
    second = crm_factory(database=f"sqlite:///{tmp_path / 'second.db'}")

    class Late(Model):  # defined with two apps open and none active, as a lazily imported module's models are
        content = peewee.BlobField()  # a field with a database hook: peewee asks the proxy while defining it

        class Meta:
            table_name = "kt_late"

    with pytest.raises(AppContextError, match="2 CRM apps are open"):
        Late.select().count()  # a query still needs crm.activate()
    with first.activate():
        assert Late._meta.table_name == "kt_late"
    assert second is not first
