"""The app object: one CRM, its plugins, database, configuration and clock.

This is the composition root of the kernel: the app loads the plugins, opens
the database and builds the services (the event bus, the mail queue, the
permission checks) with itself as their :class:`~crm_core.context.AppContext`
and with the other services each one needs. Nothing below this module
imports it (``tests/test_kernel_imports.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from crm_core import rows as typed_rows
from crm_core import storage
from crm_core.clock import Clock, SystemClock
from crm_core.config import Config, CoreSettings, load_config, structure_section
from crm_core.errors import AppContextError, ConfigError, NotFoundError, PluginError, PluginNotInstalledError
from crm_core.hooks import Hooks
from crm_core.plugins import (
    LoadedPlugins,
    PluginInfo,
    PluginRecord,
    discover,
    load_plugins,
    not_installed_error,
    object_plugin,
)

_API = TypeVar("_API")

if TYPE_CHECKING:
    import peewee

    from crm_core.auth.authz import Authz
    from crm_core.events import EventBus
    from crm_core.mail import Mailer
    from crm_core.schema import MigrationStep
    from crm_hookspecs.events import Event
    from crm_hookspecs.records import UserInfo

__all__ = ["CRM"]

#: numbers the apps of a process that were given no ``name``, for their logger
_APP_NUMBERS = itertools.count(1)


class CRM:
    """A CRM application.

    Build it from a file with :meth:`from_config` or from arguments::

        crm = CRM(database="sqlite:///crm.db", plugins=["contacts", "tasks"])

    Nothing exists before it is built: two apps can live in one process, each
    with its own plugin manager and database. ``plugins`` names installed
    plugins; a ``(name, object)`` pair registers an object as a plugin (for
    tests and embedding), optionally with ``(name, object, {"contacts": ">=0.1"})``
    to declare the plugins it requires.

    A plugin name that is not installed is a :class:`PluginNotInstalledError`
    (with a did-you-mean), strict or not; a plugin that is installed but
    fails to load is skipped and logged (raised with ``strict=True``). The
    app logs under ``crm.app.<name>`` (``name``, or a number counted per
    process), so the log lines of two apps in one process can be told apart.
    """

    def __init__(
        self,
        database: str | None = None,
        plugins: Sequence[Any] | None = None,
        *,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        timezone: str | None = None,
        clock: Clock | None = None,
        strict: bool = False,
        config: Config | None = None,
        installed: Mapping[str, PluginInfo] | None = None,
        connect: bool = True,
        name: str | None = None,
    ) -> None:
        config = _effective_config(config, database, timezone, settings)
        self.config = config
        self.strict = strict
        self.clock: Clock = clock or SystemClock()
        #: names this app in its logger, ``crm.app.<name>``
        self.name = name or str(next(_APP_NUMBERS))
        self.log = logging.getLogger(f"crm.app.{self.name}")
        import zoneinfo

        self.tz = zoneinfo.ZoneInfo(config.core.timezone)

        enabled: list[str | PluginInfo] = list(config.enabled or ())
        named: list[str] = []  # the names given in `plugins`, for messages
        for item in plugins or ():
            if isinstance(item, str):
                if item not in enabled:
                    enabled.append(item)
                    named.append(item)
            elif isinstance(item, tuple) and len(item) in (2, 3):
                enabled.append(object_plugin(item[0], item[1], item[2] if len(item) == 3 else None))
            else:
                raise ConfigError(f"plugins=[...] takes plugin names or (name, object) pairs, not {item!r}")
        self._loaded: LoadedPlugins = self._load_plugins(enabled, named, installed)
        self.pm = self._loaded.pm
        self.hooks = Hooks(self.pm, self._loaded.order)
        self._settings = self._validate_settings()
        self.database: peewee.Database = storage.connect(config.core.database, config.base_dir)
        self._apis: dict[str, Any] = {}
        self._events: EventBus | None = None
        self._mailer: Mailer | None = None
        self._authz: Authz | None = None
        self._closed = False
        storage.register_open(self)
        try:
            if connect:
                storage.open_database(self.database, config.core.database)
            with self.activate():
                self.hooks.startup(self)
            if connect:
                self._sync_plugin_states()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str],
        *,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> CRM:
        """Build the app from a TOML file (``CRM_PLUGINS`` overrides the enabled list)."""
        return cls(config=load_config(path, environ=environ), **kwargs)

    # -- context -------------------------------------------------------------

    def activate(self) -> contextlib.AbstractContextManager[CRM]:
        """Route model queries in this block (and this thread/task) to this app."""
        if self._closed:
            raise AppContextError("this CRM app is closed; build a new one")
        return storage.activate(self)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[CRM]:
        """A write transaction on this app's database (nested calls make savepoints).

        Events emitted inside are delivered after the outermost commit.
        """
        with self.activate(), self.database.atomic():
            yield self

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (a closed app's models cannot be used)."""
        return self._closed

    def close(self) -> None:
        """Call the plugins' shutdown hooks and close the database."""
        if self._closed:
            return
        try:
            with storage.activate(self):
                errors = self.hooks.shutdown(self)
            for name, exc in errors:
                self.log.error("plugin %s failed to shut down: %s", name, exc)
        finally:
            self._closed = True
            storage.unregister_open(self)
            storage.close_database(self.database)

    def __enter__(self) -> CRM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plugins -------------------------------------------------------------

    @property
    def plugins(self) -> dict[str, PluginRecord]:
        """Every plugin this app tried to load, with its state and error."""
        return dict(self._loaded.records)

    @property
    def enabled_plugins(self) -> list[str]:
        """The loaded plugins, in dependency order."""
        return list(self._loaded.order)

    def _load_plugins(
        self, enabled: list[str | PluginInfo], named: list[str], installed: Mapping[str, PluginInfo] | None
    ) -> LoadedPlugins:
        """Load the plugins; refuse names that are not installed, log the ones skipped."""
        installed = discover() if installed is None else installed
        loaded = load_plugins(
            enabled, installed=installed, strict=self.strict, enabled_source=self.config.enabled_source
        )
        # a name that is not installed is a mistake in the list, not a broken
        # plugin: starting without it would hide the typo ("taks")
        unknown = [
            not_installed_error(r.name, installed, "CRM(plugins=[...])") if r.name in named else r.error
            for r in loaded.records.values()
            if isinstance(r.error, PluginNotInstalledError)
        ]
        if unknown:
            if len(unknown) == 1:
                raise unknown[0]
            raise PluginNotInstalledError(unknown[0].plugin, "; ".join(str(e) for e in unknown))
        for record in loaded.records.values():
            # `crm_plugin` lets the CLI, which prints these itself, tell them apart
            if record.error is not None:
                self.log.warning("%s", record.error, extra={"crm_plugin": record.name})
            for warning in record.warnings:
                self.log.warning("%s", warning, extra={"crm_plugin": record.name})
        self.log.info("plugins enabled, in load order: %s", ", ".join(loaded.order) or "none")
        return loaded

    def has_plugin(self, name: str) -> bool:
        return name in self._loaded.order

    @overload
    def plugin(self, name: str) -> Any: ...

    @overload
    def plugin(self, name: str, protocol: type[_API]) -> _API: ...

    def plugin(self, name: str, protocol: type[Any] | None = None) -> Any:
        """The API object of plugin ``name`` (see ``crm_plugin_api``).

        With ``protocol`` (one of :mod:`crm_hookspecs.apis`), the object is
        checked to have every method the protocol declares, and is typed as
        it: ``crm.plugin("contacts", ContactsAPI).card(1)``. A plugin whose
        object lacks one is a :class:`PluginError` naming what is missing.
        """
        api = self._api(name)
        if protocol is not None and not isinstance(api, protocol):
            members = sorted(m for m in getattr(protocol, "__protocol_attrs__", dir(protocol)) if not m.startswith("_"))
            missing = [m for m in members if not hasattr(api, m)]
            raise PluginError(
                name,
                f"plugin {name!r} does not offer {protocol.__name__}: its API object lacks {', '.join(missing) or 'a member'}; "
                "install a version of the plugin made for this contract",
            )
        return api

    def _api(self, name: str) -> Any:
        if name not in self._apis:
            if name not in self._loaded.order:
                record = self._loaded.records.get(name)
                why = f": {record.error}" if record and record.error else ""
                raise NotFoundError(f"plugin {name!r} is not enabled in this app{why}")
            api = self.hooks.plugin_api(name, self)
            if api is None:
                raise NotFoundError(f"plugin {name!r} offers no API object (it does not implement crm_plugin_api)")
            self._apis[name] = api
        return self._apis[name]

    def settings(self, name: str) -> Any:
        """The validated ``[plugins.<name>]`` settings of an enabled plugin."""
        try:
            return self._settings[name]
        except KeyError:
            raise NotFoundError(f"plugin {name!r} is not enabled or declares no settings") from None

    def _validate_settings(self) -> dict[str, Any]:
        sections = self.hooks.config_sections()
        out = {}
        for name in self._loaded.order:
            table = self.config.plugin_tables.get(name, {})
            cls = sections.get(name)
            if cls is None:
                if table:
                    raise ConfigError(
                        f"{self.config.source}: [plugins.{name}] has settings but plugin {name!r} declares none; remove the table"
                    )
                continue
            out[name] = structure_section(dict(table), cls, self.config.source, f"plugins.{name}")
        return out

    def _sync_plugin_states(self) -> None:
        """Record each plugin's state and version in ``crm_plugin`` (once migrated).

        A plugin recorded earlier that this app does not enable is marked
        ``disabled`` (its last known version stays).
        """
        from crm_core.models import PluginState

        with self.activate():
            if not typed_rows.table_exists(PluginState):
                return
            now = self.clock.now()
            known = {p.name: p for p in PluginState.select()}
            with self.database.atomic():
                for name, record in self._loaded.records.items():
                    if record.info.obj is not None:
                        continue  # object plugins are per-process, not installed
                    error = str(record.error) if record.error else None
                    row = known.get(name)
                    values = dict(
                        version=record.info.version, state=record.state, contract=record.info.contract, error=error
                    )
                    if row is None:
                        PluginState.create(name=name, updated_at=now, **values)
                    elif any(getattr(row, k) != v for k, v in values.items()):
                        PluginState.update(updated_at=now, **values).where(PluginState.name == name).execute()
                # plugins seen before but not enabled in this app
                gone = [
                    name for name, row in known.items() if name not in self._loaded.records and row.state != "disabled"
                ]
                if gone:
                    PluginState.update(state="disabled", error=None, updated_at=now).where(
                        PluginState.name.in_(gone)
                    ).execute()
            self.events.ensure_cursors()

    # -- schema --------------------------------------------------------------

    def migrate(self, dry_run: bool = False) -> list[MigrationStep]:
        """Apply (or, dry, list) the pending migrations of the kernel and every enabled plugin."""
        from crm_core import schema

        steps = schema.migrate(self, dry_run=dry_run)
        if not dry_run:
            self._sync_plugin_states()
        return steps

    def pending_migrations(self) -> list[MigrationStep]:
        from crm_core import schema

        return schema.pending(self)

    # -- events --------------------------------------------------------------

    @property
    def events(self) -> EventBus:
        """The event outbox and dispatcher (``crm.events.deliver()``…); see ``crm_core.events``."""
        if self._events is None:
            from crm_core.events import EventBus

            self._events = EventBus(self, actor=self._actor_name)
        return self._events

    @property
    def deliver_events(self) -> str:
        """``"after-commit"`` (the default) delivers events as soon as their transaction commits;
        ``"worker"`` leaves them for the worker (set by bulk jobs and tests)."""
        return self.events.delivery

    @deliver_events.setter
    def deliver_events(self, value: str) -> None:
        if value not in ("after-commit", "worker"):
            raise ConfigError(f"crm.deliver_events is 'after-commit' or 'worker', not {value!r}")
        self.events.delivery = value

    def _actor_name(self) -> str | None:
        user = self.current_user
        return user.name if user is not None else None

    def emit(self, event: Event) -> None:
        """Record ``event`` in the current transaction; it is delivered after commit."""
        self.events.emit(event)

    # -- people and permissions -----------------------------------------------

    @property
    def authz(self) -> Authz:
        """Permission checks and the users, teams, roles, sessions and tokens (``crm_core.auth``)."""
        if self._authz is None:
            from crm_core.auth.authz import Authz

            self._authz = Authz(self, events=self.events)
        return self._authz

    def as_user(
        self, user: UserInfo | str | int, *, scopes: Sequence[str] | None = None
    ) -> contextlib.AbstractContextManager[UserInfo]:
        """Run the block as a CRM user (a ``UserInfo``, a user name or an id): ``with crm.as_user("ana"):``.

        Outside such a block code acts as the system, which is trusted.
        ``scopes`` narrows the user's permissions (an API token's).
        """
        return self.authz.as_user(user, scopes=scopes)

    @property
    def current_user(self) -> UserInfo | None:
        """The user the code runs as, or ``None`` for the system."""
        return self._authz.current_user if self._authz is not None else None

    # -- mail ----------------------------------------------------------------

    @property
    def mail(self) -> Mailer:
        """The outgoing mail queue (``crm.mail.queue(...)``); see ``crm_core.mail``."""
        if self._mailer is None:
            from crm_core.mail.mailer import Mailer

            self._mailer = Mailer(self, events=self.events)
        return self._mailer

    # -- time ----------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The app clock's time, in the configured time zone."""
        return self.clock.now().astimezone(self.tz)

    def today(self) -> dt.date:
        return self.now().date()

    def __repr__(self) -> str:
        return f"<CRM {storage.describe_url(self.config.core.database)} plugins={self.enabled_plugins}>"


def _effective_config(
    config: Config | None,
    database: str | None,
    timezone: str | None,
    settings: Mapping[str, Mapping[str, Any]] | None,
) -> Config:
    """The configuration an app runs with: ``config`` (or defaults) and the arguments over it."""
    import attrs

    overrides: dict[str, Any] = {}
    if database is not None:
        overrides["database"] = database
    if timezone is not None:
        overrides["timezone"] = timezone
    if config is None:
        core = structure_section(overrides, CoreSettings, "the app's arguments", "crm")
        return Config(core=core, enabled=(), plugin_tables=dict(settings or {}), enabled_source="the app's arguments")
    if overrides:
        config = attrs.evolve(config, core=attrs.evolve(config.core, **overrides))
    if settings:
        config = attrs.evolve(config, plugin_tables={**config.plugin_tables, **settings})
    return config
