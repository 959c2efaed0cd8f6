"""Migrations: the kernel's and each plugin's, run by ``playhouse.migrations``.

Each plugin's history is kept in its own table, ``<plugin>_schema_migration``
(the kernel's is ``crm_schema_migration``), so plugins never see each other's
migrations. Every migration runs in a transaction: one that fails is rolled
back and leaves its plugin's tables as they were before it, and is not
recorded as applied. The limit: MySQL and MariaDB commit each DDL statement
at once, so there (and for a migration that sets ``atomic = False``) the
statements that ran before the failing one stay; the failed migration is
still not recorded, earlier migrations stay applied, and the error message
says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import MigrationError
from crm_core.storage import dialect

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = ["KERNEL", "MigrationStep", "migrate", "pending"]

KERNEL = "crm"
KERNEL_MIGRATIONS = Path(__file__).parent / "migrations"


@attrs.frozen
class MigrationStep:
    """One migration of one owner (``crm`` for the kernel, or a plugin name)."""

    owner: str
    name: str
    path: Path | None


def _runner(app: AppContext, owner: str, directory: Path) -> Any:  # playhouse.migrations.Runner, which is untyped
    from playhouse.migrations import Runner

    return Runner(app.database, str(directory), table_name=f"{owner}_schema_migration")


def _sources(app: AppContext) -> list[tuple[str, Path]]:
    out = [(KERNEL, KERNEL_MIGRATIONS)]
    for name, schema in app.hooks.schemas():
        if not schema.migrations.is_dir():
            raise MigrationError(
                f"plugin {name!r}: its migrations folder {schema.migrations} does not exist; "
                "reinstall the plugin or fix crm_schema"
            )
        out.append((name, schema.migrations))
    return out


def _transactional(app: AppContext, step: MigrationStep) -> bool:
    """Whether a failing ``step`` is rolled back as a whole."""
    if dialect(app.database) == "mysql":  # MySQL and MariaDB commit each DDL statement at once
        return False
    text = step.path.read_text(encoding="utf-8") if step.path is not None else ""
    return re.search(r"^atomic\s*=\s*False", text, re.MULTILINE) is None


def _why_not_transactional(app: AppContext) -> str:
    if dialect(app.database) == "mysql":
        return "MySQL/MariaDB cannot roll back schema changes"
    return "the migration sets atomic = False"


def pending(app: AppContext) -> list[MigrationStep]:
    """Migrations not yet applied, kernel first, then plugins in dependency order."""
    steps = []
    with app.activate():
        for owner, directory in _sources(app):
            for migration in _runner(app, owner, directory).status():
                if migration.path is not None and not migration.applied:
                    steps.append(MigrationStep(owner, migration.name, Path(migration.path)))
    return steps


def migrate(app: AppContext, dry_run: bool = False) -> list[MigrationStep]:
    """Apply every pending migration; return what was (or, dry, would be) applied."""
    todo = pending(app)
    if dry_run or not todo:
        return todo
    done: list[MigrationStep] = []
    with app.activate():
        for owner, directory in _sources(app):
            runner = _runner(app, owner, directory)
            for step in [s for s in todo if s.owner == owner]:
                try:
                    runner.up(target=step.name)
                except Exception as exc:  # anything a migration script raises
                    applied = ", ".join(f"{s.owner}/{s.name}" for s in done) or "none"
                    # a database error's own reason, without the hint meant for a command (it says "run crm migrate")
                    reason = getattr(exc, "reason", None) or (str(exc).strip().splitlines() or [""])[0]
                    if not _transactional(app, step):
                        undone = (
                            f"it is not recorded as applied, but {_why_not_transactional(app)}, so the "
                            f"statements it ran before failing stay: check the {owner} tables"
                        )
                    else:
                        undone = f"it was rolled back, so the {owner} tables are as they were before it"
                    raise MigrationError(
                        f"migration {owner}/{step.name} failed: {type(exc).__name__}: {reason}; {undone} "
                        f"(applied before it: {applied}); fix the migration and run 'crm migrate' again"
                    ) from exc
                done.append(step)
    return done
