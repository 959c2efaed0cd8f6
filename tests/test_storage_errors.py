"""Database errors reach callers as CRMErrors (issue 13, point 5).

A read-only SQLite file was ``unexpected OperationalError … please report
it`` with exit code 1; it is a ``StorageError`` with exit code 4 and a hint
about permissions. Every error of the database layer is a ``StorageError``
subclass that is also the peewee exception it replaces.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import peewee
import pytest

from crm_core.errors import ConstraintError, CRMError, DatabaseUnavailableError, QueryError, StorageError
from crm_core.storage import bulk_insert


def _config(folder: Path, url: str = "sqlite:///crm.db") -> Path:
    config = folder / "crm.toml"
    config.write_text(f'[crm]\ndatabase = "{url}"\n\n[plugins]\nenabled = ["contacts"]\n', encoding="utf-8")
    return config


def _crm(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "crm"), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CRM_PLUGINS": "contacts"},
    )


def _make_read_only(file: Path) -> None:
    """Make ``file`` unwritable even for root (who ignores permissions), or skip."""
    file.chmod(0o444)
    if os.access(file, os.W_OK) and shutil.which("chattr"):
        subprocess.run(["chattr", "+i", str(file)], capture_output=True)
    if os.access(file, os.W_OK):
        try:
            with open(file, "r+b"):
                pass
        except OSError:
            return
        pytest.skip("cannot make a file read-only here (root without chattr); the mode=ro test covers the error")


def _undo_read_only(file: Path) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(file)], capture_output=True)
    file.chmod(0o644)


@pytest.fixture
def migrated(tmp_path):
    config = _config(tmp_path)
    done = _crm(config, "migrate")
    assert done.returncode == 0, done.stderr
    added = _crm(config, "contacts", "add", "--first-name", "Ana", "--email", "ana@example.com")
    assert added.returncode == 0, added.stderr
    return config


def test_a_read_only_sqlite_file_is_a_storage_error_with_exit_4_and_a_permissions_hint(migrated, tmp_path):
    file = tmp_path / "crm.db"
    _make_read_only(file)
    try:
        result = _crm(migrated, "contacts", "add", "--first-name", "Bea", "--email", "bea@example.com")
    finally:
        _undo_read_only(file)
    assert result.returncode == 4, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: the database sqlite:///crm.db is read-only (attempt to write a readonly database); ")
    assert f"may write the file {file} and its folder {tmp_path}" in line
    assert "please report" not in line and "Traceback" not in result.stderr


def test_a_database_opened_read_only_by_its_url_reads_and_refuses_writes_clearly(migrated, tmp_path):
    (tmp_path / "ro").mkdir()
    read_only = _config(tmp_path / "ro", f"sqlite:///{tmp_path / 'crm.db'}?mode=ro")
    listed = _crm(read_only, "contacts", "list", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    assert "Ana" in listed.stdout
    result = _crm(read_only, "contacts", "add", "--first-name", "Bea", "--email", "bea@example.com")
    assert result.returncode == 4
    assert "is read-only (attempt to write a readonly database)" in result.stderr
    assert "and that the URL does not say mode=ro" in result.stderr


def test_an_embedder_gets_crm_errors_that_are_still_peewees(crm):
    q = crm.database.quote[0] + "{}" + crm.database.quote[1]
    crm.database.execute_sql(f"CREATE TABLE {q.format('kt_unique')} ({q.format('k')} VARCHAR(10) PRIMARY KEY)")
    crm.database.execute_sql(f"INSERT INTO {q.format('kt_unique')} VALUES ('a')")
    with pytest.raises(ConstraintError) as info:
        with crm.transaction():
            crm.database.execute_sql(f"INSERT INTO {q.format('kt_unique')} VALUES ('a')")
    error = info.value
    assert isinstance(error, peewee.IntegrityError) and isinstance(error, CRMError) and error.exit_code == 4
    assert type(error).__name__ == "IntegrityError"  # messages that name the type read as before
    assert error.__cause__ is error.orig and type(error.orig).__module__.split(".")[0] in (
        "sqlite3",
        "psycopg2",
        "pymysql",
    )
    with pytest.raises(QueryError, match=r"run 'crm migrate'") as missing:
        crm.database.execute_sql(f"SELECT * FROM {q.format('kt_nowhere')}")
    assert isinstance(missing.value, peewee.DatabaseError)


def test_callers_that_catch_peewee_integrity_errors_still_do(crm):
    from crm_core.jobs import run_once

    # run_once claims a key by inserting it and catching peewee.IntegrityError on a race
    assert run_once(crm, "k") is True
    assert run_once(crm, "k") is False


def test_a_driver_error_from_a_raw_cursor_is_translated_when_it_leaves_the_transaction(crm):
    crm.database.execute_sql("CREATE TABLE kt_key (k VARCHAR(10) PRIMARY KEY)")
    with pytest.raises(ConstraintError) as info:
        with crm.activate():
            bulk_insert("kt_key", ["k"], [("a",), ("a",)], database=crm.database)
    assert isinstance(info.value, peewee.IntegrityError)
    with pytest.raises(ConstraintError):
        with crm.transaction():
            cursor = crm.database.cursor()  # a plugin's own raw cursor: the driver's error, untranslated
            cursor.execute("INSERT INTO kt_key VALUES ('b')")
            cursor.execute("INSERT INTO kt_key VALUES ('b')")
    assert crm.database.execute_sql("SELECT count(*) FROM kt_key").fetchone()[0] == 0


def test_a_database_that_cannot_be_opened_is_database_unavailable(tmp_path):
    from crm_core import CRM

    with pytest.raises(DatabaseUnavailableError) as info:
        CRM(database=f"sqlite:///{tmp_path / 'no' / 'crm.db'}")
    assert isinstance(info.value, StorageError) and info.value.exit_code == 4
    assert "check that its folder exists and is writable" in str(info.value)


def test_an_embedding_app_sees_the_read_only_error_as_a_storage_error(tmp_path, migrated):
    script = textwrap.dedent(
        f"""
        from crm_core import CRM
        from crm_core.errors import QueryError
        app = CRM(database="sqlite:///{tmp_path / "crm.db"}?mode=ro", plugins=["contacts"])
        try:
            app.plugin("contacts").create(first_name="Bea", email="bea@example.com")
        except QueryError as exc:
            print("refused:", exc.exit_code, exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: 4 the database sqlite:///")
