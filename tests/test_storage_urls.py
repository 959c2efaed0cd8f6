"""Database URL options reach the driver; unknown ones are refused by name (issue 13, point 4).

``postgresql://…?sslmode=require&connect_timeout=1`` used to connect without
TLS (the options were dropped) and ``postgresql:///db`` went to TCP instead
of the Unix socket. Connection pooling (``?pool=true``) is an option too.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crm_core import storage
from crm_core.database_url import OPTIONS
from crm_core.errors import DatabaseUnavailableError, StorageError

PG = os.environ.get("CRM_TEST_POSTGRES_URL")
MY = os.environ.get("CRM_TEST_MYSQL_URL")
needs_pg = pytest.mark.skipif(not PG, reason="needs CRM_TEST_POSTGRES_URL")
needs_my = pytest.mark.skipif(not MY, reason="needs CRM_TEST_MYSQL_URL")


def _with(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:///crm.db?journal=off", "SQLite"),
        ("postgresql://u@h/db?sslmod=require", "PostgreSQL"),
        ("mysql://u@h/db?ssl-mode=REQUIRED", "MySQL/MariaDB"),
        ("sqlite:///crm.db?pool=true", "SQLite"),
    ],
)
def test_an_unknown_option_is_refused_by_name_with_the_accepted_ones(url, backend):
    key = url.split("?", 1)[1].split("=", 1)[0]
    with pytest.raises(StorageError) as info:
        storage.connect(url)
    message = str(info.value)
    kind = {"SQLite": "sqlite", "PostgreSQL": "postgresql", "MySQL/MariaDB": "mysql"}[backend]
    assert f"unknown option {key!r}; the options for {backend} are: {', '.join(sorted(OPTIONS[kind]))}" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db?connect_timeout=soon", "option connect_timeout='soon' must be a whole number of seconds"),
        (
            "postgresql://u@h/db?sslmode=always",
            "option sslmode='always' must be one of disable, allow, prefer, require, verify-ca, verify-full",
        ),
        ("postgresql://u@h/db?sslmode=require&sslmode=disable", "option 'sslmode' is given twice"),
        ("mysql://u@h/db?ssl_mode=disabled&ssl_ca=/ca.pem", "ssl_mode=disabled contradicts ssl_ca"),
        ("mysql://u@h/db?pool_max_connections=5", "pool_max_connections need(s) pool=true"),
        ("postgresql://u@h/db?pool=maybe", "option pool='maybe' must be true or false"),
        ("sqlite:///crm.db?mode=readonly", "option mode='readonly' must be one of ro, rw, rwc"),
    ],
)
def test_a_bad_option_value_says_what_is_expected(url, expected):
    with pytest.raises(StorageError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        storage.connect(url)


def test_options_reach_the_driver_and_names_are_decoded():
    database = storage.connect(
        "postgresql://crm:p%40ss@db.example.com:5433/crm?sslmode=require&connect_timeout=1&application_name=crm%20web"
    )
    assert database.connect_params == {
        "host": "db.example.com",
        "port": 5433,
        "user": "crm",
        "password": "p@ss",
        "sslmode": "require",
        "connect_timeout": 1,
        "application_name": "crm web",
    }
    assert "p@ss" not in database.display_url and "p%40ss" not in database.display_url
    # no host: libpq's own default, the local Unix socket (it was "localhost", that is TCP)
    assert "host" not in storage.connect("postgresql:///crm").connect_params
    socket_dir = storage.connect("postgresql://%2Fvar%2Frun%2Fpostgresql/crm").connect_params
    assert socket_dir["host"] == "/var/run/postgresql"
    my = storage.connect(
        "mysql://root@db/crm?ssl_mode=verify_identity&connect_timeout=2&unix_socket=/run/mysqld/mysqld.sock"
    ).connect_params
    assert (
        my["ssl_verify_identity"] is True
        and my["connect_timeout"] == 2
        and my["unix_socket"] == "/run/mysqld/mysqld.sock"
    )


def test_sqlite_options(tmp_path):
    database = storage.connect(f"sqlite:///{tmp_path / 'crm.db'}?busy_timeout=1500")
    assert database.database == str(tmp_path / "crm.db")  # the options are not part of the file name
    database.connect()
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 1500
    database.close()
    read_only = storage.connect(f"sqlite:///{tmp_path / 'crm.db'}?mode=ro")
    read_only.connect()
    with pytest.raises(StorageError, match="is read-only"):
        read_only.execute_sql("CREATE TABLE kt_x (id INTEGER)")
    read_only.close()


@needs_pg
def test_postgresql_sslmode_is_used():
    url = _with(PG, "sslmode=require&connect_timeout=3")
    database = storage.connect(url)
    try:
        database.connect()
    except DatabaseUnavailableError as exc:  # a test server without TLS refuses, as libpq must
        assert "SSL" in str(exc)
        return
    try:
        assert database.execute_sql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
    finally:
        database.close()


@needs_pg
def test_postgresql_options_reach_the_server():
    database = storage.connect(_with(PG, "application_name=crm-test&options=-c%20statement_timeout%3D1234"))
    try:
        assert database.execute_sql("SHOW application_name").fetchone()[0] == "crm-test"
        assert database.execute_sql("SHOW statement_timeout").fetchone()[0] == "1234ms"
    finally:
        database.close()


@needs_pg
def test_postgresql_without_a_host_uses_the_unix_socket():
    if not any(
        Path(folder, f".s.PGSQL.{urlsplit(PG).port or 5432}").exists() for folder in ("/var/run/postgresql", "/tmp")
    ):
        pytest.skip("no local PostgreSQL socket")
    parts = urlsplit(PG)
    url = f"postgresql://{parts.username}@{parts.path}" if parts.username else f"postgresql://{parts.path}"
    database = storage.connect(url)
    try:
        assert database.execute_sql("SELECT inet_server_addr()").fetchone()[0] is None  # NULL: not TCP
    finally:
        database.close()


@needs_my
def test_mysql_ssl_mode_required_insists_on_tls():
    database = storage.connect(_with(MY, "ssl_mode=required&connect_timeout=3"))
    try:
        database.connect()
    except DatabaseUnavailableError as exc:  # a test server without TLS refuses, as "required" must
        assert "SSL" in str(exc) or "TLS" in str(exc)
        return
    try:
        assert database.execute_sql("SHOW STATUS LIKE 'Ssl_cipher'").fetchone()[1]
    finally:
        database.close()


@needs_my
def test_mysql_unix_socket():
    socket = "/run/mysqld/mysqld.sock"
    if not Path(socket).exists():
        pytest.skip("no local MariaDB socket")
    parts = urlsplit(MY)
    database = storage.connect(f"mysql://{parts.username or 'root'}@{parts.hostname}{parts.path}?unix_socket={socket}")
    try:
        database.connect()
        assert "socket" in database.connection().host_info.lower()
    finally:
        database.close()


@pytest.mark.parametrize("var", ["CRM_TEST_POSTGRES_URL", "CRM_TEST_MYSQL_URL"], ids=["postgresql", "mysql"])
def test_a_pool_shares_its_connections_between_threads(var):
    url = os.environ.get(var)
    if not url:
        pytest.skip(f"needs {var}")
    database = storage.connect(_with(url, "pool=true&pool_max_connections=2&pool_timeout=0&pool_stale_timeout=60"))
    assert database.pooled
    seen: list[int] = []

    def request() -> None:
        seen.append(id(database.connection()))
        database.execute_sql("SELECT 1")
        database.close()  # back to the pool

    try:
        for _ in range(6):  # six "requests" in turn, each in its own thread
            thread = threading.Thread(target=request)
            thread.start()
            thread.join()
        assert len(set(seen)) == 1  # one server connection served them all
        held = [threading.Event(), threading.Event()]
        release = threading.Event()

        def hold(i: int) -> None:
            database.connect()
            held[i].set()
            release.wait(10)
            database.close()

        holders = [threading.Thread(target=hold, args=(i,)) for i in range(2)]
        for t in holders:
            t.start()
        for e in held:
            e.wait(10)
        with pytest.raises(DatabaseUnavailableError, match="every connection of its pool is in use"):
            database.connect()
        release.set()
        for t in holders:
            t.join()
    finally:
        database.close_all()


def test_every_url_option_is_documented_and_every_documented_one_exists():
    text = (Path(__file__).resolve().parent.parent / "docs" / "storage.md").read_text(encoding="utf-8")
    section = text[text.index("### URL options") : text.index("## Lost connections")]
    documented = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            documented |= {name for name in first_cell.replace("`", " ").replace(",", " ").split()}
    accepted = {name for options in OPTIONS.values() for name in options}
    assert accepted - documented == set(), "options missing from docs/storage.md"
    assert documented - accepted == set(), "docs/storage.md documents options the code refuses"
