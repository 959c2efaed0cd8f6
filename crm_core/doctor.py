"""``crm doctor``: each check says what it found and, when wrong, the fix.

The checks take what they look at, not the command line's state: the
configuration (or how to load it), a factory that builds the app from it, and
the names the kernel's own commands take. ``crm doctor`` passes its own; an
embedding program or a test can pass others.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING

import attrs

from crm_core.errors import CRMError

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_core.config import Config
    from crm_core.plugins import PluginRecord

__all__ = ["Check", "run_checks"]


@attrs.frozen
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    #: not a problem, but probably a mistake: shown, not counted
    warning: bool = False


def run_checks(
    config: Config | Callable[[], Config],
    make_app: Callable[[], CRM],
    *,
    kernel_commands: Collection[str] = (),
) -> Iterator[Check]:
    """Check the configuration, the plugins, the database, the migrations, the schema and the events.

    ``config`` is the configuration or a function that loads it (a
    :class:`CRMError` it raises is the first check's failure); ``make_app``
    builds the app from it (it may fail the same way). ``kernel_commands``
    are the command names a plugin's command must not take.
    """
    from crm_core.plugins import discover

    try:
        if callable(config):
            config = config()
    except CRMError as exc:
        yield Check("configuration", False, str(exc), "fix the file, or create one with 'crm init'")
        return
    yield Check("configuration", True, f"{config.source} is valid")

    installed = discover()
    for name in sorted(config.plugin_tables):
        if name not in installed:
            yield Check(
                f"plugin settings [plugins.{name}]",
                False,
                f"no installed plugin is called {name!r}",
                f"install the plugin or remove [plugins.{name}] from {config.source}",
            )

    try:
        app = make_app()
    except CRMError as exc:
        yield Check("app", False, str(exc), "fix what the message names, then run 'crm doctor' again")
        return

    yield from _plugin_checks(app, kernel_commands)

    yield Check("database", True, f"{app.config.core.database} is reachable")
    try:
        pending = app.pending_migrations()
    except CRMError as exc:
        yield Check("migrations", False, str(exc), "fix the plugin's migrations folder")
        return
    if pending:
        names = ", ".join(f"{s.owner}/{s.name}" for s in pending[:5]) + (" …" if len(pending) > 5 else "")
        yield Check("migrations", False, f"{len(pending)} pending: {names}", "run 'crm migrate'")
        return
    yield Check("migrations", True, "all applied")
    yield _drift_check(app)
    failed = app.events.failed()
    if failed:
        yield Check(
            "events",
            False,
            f"{len(failed)} failed deliveries",
            "see 'crm events failed', fix the handler, then 'crm events retry --all'",
        )
    else:
        yield Check("events", True, "no failed deliveries")


def _plugin_checks(app: CRM, kernel_commands: Collection[str]) -> Iterator[Check]:
    """Each plugin loaded (or why not), its tables' prefix, and commands two of them define."""
    for name, record in app.plugins.items():
        if record.error is not None:
            yield Check(f"plugin {name}", False, str(record.error), _plugin_fix(record))
        else:
            yield Check(
                f"plugin {name}",
                True,
                f"{record.info.version or 'object'} loaded, hooks: {', '.join(record.hooks) or 'none'}",
            )
        for warning in record.warnings:
            yield Check(f"plugin {name}", True, warning, warning=True)
    for name, schema in app.hooks.schemas():
        prefix = f"{name}_"
        wrong = [m._meta.table_name for m in schema.models if not m._meta.table_name.startswith(prefix)]
        if wrong:
            yield Check(
                f"plugin {name} tables",
                False,
                f"tables not named {prefix}*: {', '.join(wrong)}",
                "rename them in a migration",
            )

    seen: dict[str, str] = {}
    for owner, spec in app.hooks.cli_commands():
        if spec.name in kernel_commands or spec.name in seen:
            other = seen.get(spec.name, "the kernel")
            yield Check(
                f"command {spec.name}",
                False,
                f"plugin {owner!r} and {other} both define it; {other}'s wins",
                f"rename the command in {owner}",
            )
        seen.setdefault(spec.name, repr(owner))


def _plugin_fix(record: PluginRecord) -> str | None:
    """Where to look next; the error message itself already says what to change."""
    if record.traceback:
        return "the error is in the plugin's code: see its traceback with 'crm plugins --format json'"
    if record.state == "skipped":
        return "fix the plugin it requires (its own line above); this one then loads too"
    return None


def _drift_check(app: CRM) -> Check:
    from crm_core.drift import schema_drift

    drift = schema_drift(app)
    if not drift:
        return Check("schema", True, "every table matches its model")
    shown = "; ".join(str(d) for d in drift[:5]) + (f"; and {len(drift) - 5} more" if len(drift) > 5 else "")
    return Check(
        "schema",
        False,
        f"{len(drift)} difference(s) between the migrated tables and the models: {shown}",
        "the plugin named is missing a migration (or its model is wrong): tell its author; see docs/storage.md#schema-drift",
    )
