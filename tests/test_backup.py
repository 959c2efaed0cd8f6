"""``crm backup``: a consistent copy of the database while the CRM runs, never a half-written or overwritten file."""

from __future__ import annotations

import sqlite3
import subprocess
import threading

import pytest

from crm_core.backup import BackupError, backup
from crm_core.errors import ValidationError


def test_a_copy_of_every_backend_holds_the_data(crm_factory, crm_backend, tmp_path):
    crm = crm_factory(plugins=[])
    crm.authz.users.add("ana", display_name="Ana Backup")
    target = tmp_path / "copy.bak"
    report = backup(crm.config.core.database, target)
    assert report.path == target and report.bytes == target.stat().st_size > 0
    assert str(target) in report.summary()
    if crm_backend == "sqlite":
        with sqlite3.connect(target) as copy:
            assert copy.execute("SELECT display_name FROM crm_user").fetchall() == [("Ana Backup",)]
    elif crm_backend == "postgresql":
        listed = subprocess.run(["pg_restore", "--list", str(target)], capture_output=True, text=True, check=True)
        assert "TABLE DATA public crm_user" in listed.stdout
        restored = subprocess.run(
            ["pg_restore", "--data-only", "--table=crm_user", "-f", "-", str(target)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Ana Backup" in restored.stdout
    else:
        text = target.read_text(encoding="utf-8")
        assert "CREATE TABLE `crm_user`" in text and "Ana Backup" in text
    assert not list(tmp_path.glob(".copy.bak.partial-*"))


@pytest.mark.sqlite_only
def test_sqlite_is_copied_while_another_connection_writes(tmp_path):
    source = tmp_path / "live.db"
    with sqlite3.connect(source) as db:
        db.execute("PRAGMA journal_mode = WAL")  # as the CRM opens its SQLite databases
        db.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO note (body) VALUES (?)", [("x" * 500,)] * 20_000)
    stop = threading.Event()

    def write() -> None:
        with sqlite3.connect(source, timeout=30) as db:
            while not stop.is_set():
                db.execute("INSERT INTO note (body) VALUES ('during')")
                db.commit()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        backup(f"sqlite:///{source}", tmp_path / "copy.db")
    finally:
        stop.set()
        writer.join()
    with sqlite3.connect(source) as db:
        assert db.execute("SELECT count(*) FROM note WHERE body = 'during'").fetchone()[0] > 0  # it did write
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT count(*) FROM note WHERE body != 'during'").fetchone() == (20_000,)


@pytest.mark.sqlite_only
def test_an_existing_file_is_replaced_only_when_asked(tmp_path):
    source = tmp_path / "crm.db"
    sqlite3.connect(source).close()
    target = tmp_path / "copy.db"
    target.write_text("yesterday's backup")
    with pytest.raises(ValidationError, match="exists; choose another file, or pass --force"):
        backup(f"sqlite:///{source}", target)
    assert target.read_text() == "yesterday's backup"
    backup(f"sqlite:///{source}", target, overwrite=True)
    assert target.read_bytes().startswith(b"SQLite format 3")


@pytest.mark.sqlite_only
def test_bad_targets_and_sources_are_named(tmp_path):
    source = tmp_path / "crm.db"
    sqlite3.connect(source).close()
    with pytest.raises(ValidationError, match="is a folder; name the backup file"):
        backup(f"sqlite:///{source}", tmp_path, overwrite=True)
    with pytest.raises(ValidationError, match="the folder .*nowhere does not exist"):
        backup(f"sqlite:///{source}", tmp_path / "nowhere" / "copy.db")
    with pytest.raises(ValidationError, match="does not exist; check core.database"):
        backup(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "copy.db")
    assert not (tmp_path / "missing.db").exists()  # a backup never creates the database it copies
    with pytest.raises(ValidationError, match="in-memory SQLite database cannot be backed up"):
        backup("sqlite:///:memory:", tmp_path / "copy.db")


@pytest.mark.sqlite_only
def test_a_missing_or_failing_tool_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackupError, match="pg_dump is not installed here; install the PostgreSQL client"):
        backup("postgresql://postgres@127.0.0.1:1/crm", tmp_path / "copy.dump")
    fake = tmp_path / "bin"
    fake.mkdir()
    tool = fake / "pg_dump"
    tool.write_text("#!/bin/sh\necho partial output\necho 'pg_dump: error: connection refused' >&2\nexit 1\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    with pytest.raises(
        BackupError, match="pg_dump could not back up postgresql://postgres:\\*\\*\\*@.*connection refused"
    ):
        backup("postgresql://postgres:secret@127.0.0.1:1/crm", tmp_path / "copy.dump")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]  # no copy.dump, no partial file


def test_the_command_prints_one_line(crm_cli, tmp_path):
    config = tmp_path / "crm.toml"
    assert crm_cli.invoke(["init", "--plugins", ""], config=config).exit_code == 0
    done = crm_cli.invoke(["backup", str(tmp_path / "copy.db")], config=config)
    assert done.exit_code == 0 and done.output.startswith(f"backed up to {tmp_path / 'copy.db'}")
    again = crm_cli.invoke(["backup", str(tmp_path / "copy.db")], config=config)
    assert again.exit_code == 2 and "pass --force" in again.output and "Traceback" not in again.output
    assert crm_cli.invoke(["backup", "--force", str(tmp_path / "copy.db")], config=config).exit_code == 0
