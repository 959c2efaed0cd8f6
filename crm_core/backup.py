"""A consistent copy of the CRM's database while it runs: ``crm backup FILE``.

- **SQLite**: SQLite's online backup API (``sqlite3.Connection.backup``)
  in one step, inside one read transaction: the copy is the database as it
  was at one moment, a file that opens as it is. With the CRM's WAL journal
  the web apps and workers go on writing meanwhile (copied a few pages at a
  time, the backup would start over after each of their writes, and might
  never end under a steady load).
- **PostgreSQL**: ``pg_dump --format=custom`` (one snapshot; restored with
  ``pg_restore``).
- **MySQL/MariaDB**: ``mysqldump --single-transaction`` (one snapshot of the
  InnoDB tables; restored with ``mysql < FILE``).

The copy is written to a temporary file beside ``FILE`` and renamed onto it
only when complete, so a failed backup leaves no half-written file and an
existing one is replaced only with ``overwrite``. The server tools read the
password from the environment (``PGPASSWORD``, ``MYSQL_PWD``), never from
the command line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

from crm_core.database_url import ParsedURL, describe_url, parse_url
from crm_core.errors import CRMError, ValidationError

__all__ = ["BackupError", "BackupReport", "backup"]


class BackupError(CRMError):
    """The backup could not be made (a tool missing or failing, the database unreadable)."""

    code = "backup_failed"
    http_status = 500

    exit_code = 1


@attrs.frozen
class BackupReport:
    """What :func:`backup` wrote: the file, its size, how long it took and how."""

    path: Path
    bytes: int
    seconds: float
    method: str

    def summary(self) -> str:
        size = f"{self.bytes / 1e6:,.1f} MB" if self.bytes >= 100_000 else f"{self.bytes / 1e3:,.1f} kB"
        return f"backed up to {self.path} ({size}, {self.method}, {self.seconds:.1f} s)"


@contextlib.contextmanager
def _staged(target: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary file beside ``target``, renamed onto it when the block ends well, removed when it fails."""
    if target.exists() and not overwrite:
        raise ValidationError(f"{target} exists; choose another file, or pass --force to replace it")
    if target.is_dir():
        raise ValidationError(f"{target} is a folder; name the backup file, such as {target / 'crm-backup.db'}")
    if not target.parent.is_dir():
        raise ValidationError(f"the folder {target.parent} does not exist; create it first")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        yield partial
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _sqlite(source: str, partial: Path) -> None:
    if source == ":memory:":
        raise ValidationError("an in-memory SQLite database cannot be backed up: nothing outlives the process")
    if not Path(source).is_file():
        raise ValidationError(f"the SQLite database {source} does not exist; check core.database in crm.toml")
    try:
        # read-only: a backup never creates or changes the database it copies
        with contextlib.closing(sqlite3.connect(f"file:{Path(source).as_posix()}?mode=ro", uri=True)) as db:
            with contextlib.closing(sqlite3.connect(partial)) as copy:
                db.backup(copy)  # every page in one step: one snapshot, never restarted by a writer
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite database {source} could not be copied: {exc}") from None


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed here; install {package} (the same major version as the server)")
    return found


def _run(command: list[str], env: dict[str, str], partial: Path, shown: str) -> None:
    with partial.open("wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, env=env, check=False)
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = detail[-1] if detail else f"exit code {done.returncode}"
        raise BackupError(f"{Path(command[0]).name} could not back up {shown}: {last}")


def _postgresql(url: str, parsed: ParsedURL, partial: Path) -> None:
    server = parsed.server
    command = [_tool("pg_dump", "the PostgreSQL client (postgresql-client)"), "--format=custom", "--no-owner"]
    for option, key in (("--host", "host"), ("--port", "port"), ("--username", "user")):
        if key in server:
            command += [option, str(server[key])]
    command += ["--dbname", parsed.name]
    env = dict(os.environ)
    if "password" in server:
        env["PGPASSWORD"] = str(server["password"])
    _run(command, env, partial, describe_url(url))


def _mysql(url: str, parsed: ParsedURL, partial: Path) -> None:
    server = parsed.server
    tool = "mariadb-dump" if shutil.which("mariadb-dump") else "mysqldump"
    command = [_tool(tool, "the MariaDB or MySQL client"), "--single-transaction", "--routines", "--no-tablespaces"]
    for option, key in (("--host", "host"), ("--port", "port"), ("--user", "user")):
        if key in server:
            command.append(f"{option}={server[key]}")
    command.append(parsed.name)
    env = dict(os.environ)
    if "password" in server:
        env["MYSQL_PWD"] = str(server["password"])
    _run(command, env, partial, describe_url(url))


def backup(
    database_url: str, target: str | os.PathLike[str], *, base_dir: Path | None = None, overwrite: bool = False
) -> BackupReport:
    """Copy the database at ``database_url`` into the file ``target`` while the CRM runs; see the module's text."""
    parsed = parse_url(database_url, base_dir)
    path = Path(target).expanduser().absolute()
    start = time.perf_counter()
    with _staged(path, overwrite) as partial:
        if parsed.kind == "sqlite":
            _sqlite(parsed.name, partial)
            method = "SQLite online backup"
        elif parsed.kind == "postgresql":
            _postgresql(database_url, parsed, partial)
            method = "pg_dump, custom format"
        else:
            _mysql(database_url, parsed, partial)
            method = "mysqldump --single-transaction"
    return BackupReport(path=path, bytes=path.stat().st_size, seconds=time.perf_counter() - start, method=method)
