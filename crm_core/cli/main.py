"""The root ``crm`` group: global options, lazy commands, one-line errors.

Kernel and plugin commands are listed from a table of names and one-line
helps, and their modules are imported only when they run, so ``crm --help``
imports nothing but click, the config reader and the enabled plugins' (small)
entry modules.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from crm_core.errors import CRMError

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_core.config import Config

__all__ = [
    "CLIError",
    "CLIState",
    "KERNEL_COMMANDS",
    "LazyCommand",
    "ReaderGone",
    "StderrAfterStdout",
    "cli",
    "main",
    "pass_state",
]

DEFAULT_CONFIG = "crm.toml"
#: commands that always act as the system: the worker runs every plugin's timed jobs
SYSTEM_COMMANDS = frozenset({"worker"})

#: kernel commands: name -> (target, one-line help)
KERNEL_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("crm_core.cli.kernel:init", "Write a commented crm.toml and create the database."),
    "migrate": ("crm_core.cli.kernel:migrate", "Apply pending migrations of the kernel and every enabled plugin."),
    "plugins": ("crm_core.cli.kernel:plugins", "List installed plugins: version, state, contract, hooks, errors."),
    "config": ("crm_core.cli.kernel:config", "Show the effective configuration."),
    "events": ("crm_core.cli.kernel:events", "Inspect, deliver and retry events."),
    "doctor": ("crm_core.cli.kernel:doctor", "Check configuration, database, migrations and plugins."),
    "backup": ("crm_core.cli.kernel:backup", "Copy the database into a file while the CRM runs."),
    "demo": ("crm_core.cli.kernel:demo", "Build a demo CRM and load every enabled plugin's demo data."),
    "plugin": ("crm_core.cli.kernel:plugin", "Tools for plugin authors (crm plugin new NAME)."),
    "mail": ("crm_core.cli.mail:mail", "Inspect, retry and deliver outgoing mail."),
    "worker": ("crm_core.cli.worker:worker", "Run the timed jobs until stopped (--once for cron)."),
    "users": ("crm_core.cli.users:users", "Add, list, edit, disable and enable users; set passwords."),
    "teams": ("crm_core.cli.users:teams", "Add, list, show and remove teams."),
    "roles": ("crm_core.cli.users:roles", "List, show and define roles and the permissions they grant."),
    "tokens": ("crm_core.cli.users:tokens", "Create, list and revoke API tokens."),
}


class CLIError(click.ClickException):
    """A :class:`CRMError` on its way to the terminal: one line, its exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        # click declares exit_code a class variable, but reads it from the
        # exception it caught; a CRMError's code is per error
        self.exit_code = exit_code  # type: ignore[misc]


class ReaderGone(Exception):
    """stdout's reader closed the pipe (``crm … | head``); :func:`main` ends quietly."""


class CLIState:
    """What every command shares: options, the configuration, the app."""

    def __init__(
        self,
        config_path: str | os.PathLike[str] | None = None,
        *,
        strict: bool = False,
        debug: bool = False,
        app: CRM | None = None,
        as_user: str | None = None,
    ) -> None:
        explicit = config_path is not None or "CRM_CONFIG" in os.environ
        self.config_path = Path(config_path or os.environ.get("CRM_CONFIG") or DEFAULT_CONFIG)
        self.config_explicit = explicit
        self.strict = strict
        self.debug = debug
        self._app = app
        self._owns_app = app is None
        self._config: Config | None = None
        #: ``--as USER``; without it the shell user acts if a CRM user has that name
        self.as_user = as_user
        #: the top-level command being run (set by the root group)
        self.command: str | None = None
        self._acting: tuple[CRM, Any] | None = None
        self._acted = False

    def config(self, missing_ok: bool = False) -> Config:
        from crm_core.config import load_config

        if self._app is not None:
            return self._app.config
        if self._config is None:
            self._config = load_config(self.config_path, missing_ok=missing_ok)
        return self._config

    def crm(self, *, warn: bool = True) -> CRM:
        """The app, built from the configuration on first use.

        A plugin that failed to load is skipped (unless ``--strict``); with
        ``warn`` each one is reported on stderr, one line, so that no command
        runs without saying that part of the CRM is missing.
        """
        if self._app is None:
            import logging

            from crm_core.app import CRM
            from crm_core.output import note
            from crm_core.plugins.cache import cached_discover

            # the app logs each plugin it skips; the lines below say it once
            log = logging.getLogger("crm.app.cli")
            log.addFilter(_not_about_plugins)
            try:
                self._app = CRM(config=self.config(), strict=self.strict, name="cli", installed=cached_discover())
            finally:
                log.removeFilter(_not_about_plugins)
            for record in self._app.plugins.values():
                if warn and record.error is not None:
                    note(f"Warning: {record.error}")
        if not self._acted:
            self._acted = True
            self._act(self._app)
        return self._app

    def _act(self, app: CRM) -> None:
        """Make the commands act as ``--as USER``, or as the CRM user named like the shell user.

        A shell user who is no CRM user (or a database without users yet)
        acts as the system, as before there were users: whoever can run
        ``crm`` with this configuration can read the database anyway.
        """
        from crm_core.cli.acting import shell_user_known

        if self.command in SYSTEM_COMMANDS:
            if self.as_user is not None:
                raise CLIError(f"'crm {self.command}' always acts as the system; run it without --as", 2)
            return
        name = self.as_user
        if name is None:
            name = shell_user_known(app)
            if name is None:
                return
        self._acting = (app, app.authz.enter(name))

    def act_as(self, name: str) -> None:
        """Act as CRM user ``name`` from now on (``crm --as`` or a command's deprecated ``--by``)."""
        if self.command in SYSTEM_COMMANDS:
            raise CLIError(f"'crm {self.command}' always acts as the system; run it without --as", 2)
        self.as_user = name
        if self._acted and self._app is not None:
            if self._acting is not None:
                app, token = self._acting
                self._acting = None
                app.authz.leave(token)
            self._acting = (self._app, self._app.authz.enter(name))

    def close(self) -> None:
        if self._acting is not None:
            app, token = self._acting
            self._acting = None
            app.authz.leave(token)
        if self._app is not None and self._owns_app:
            self._app.close()
            self._app = None


def _not_about_plugins(record: Any) -> bool:
    return not hasattr(record, "crm_plugin")


pass_state = click.make_pass_decorator(CLIState)


class LazyCommand(click.Command):
    """A command known by name and help; its module is imported when it runs."""

    def __init__(self, name: str, target: str, help: str, owner: str = "crm") -> None:
        super().__init__(name, help=help, short_help=help)
        self.target = target
        self.owner = owner
        self._real: click.Command | None = None

    def load(self) -> click.Command:
        if self._real is None:
            module_name, _, attr = self.target.partition(":")
            try:
                module = importlib.import_module(module_name)
                real = getattr(module, attr)
            except Exception as exc:  # a plugin's broken command module
                raise CLIError(
                    f"command {self.name!r} of {self.owner!r} cannot be loaded from {self.target}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(real, click.Command):
                raise CLIError(f"command {self.name!r} of {self.owner!r}: {self.target} is not a click command")
            self._real = real
        return self._real

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return self.load().invoke(ctx)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return self.load().get_params(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or ""


class RootGroup(click.Group):
    def _plugin_commands(self, ctx: click.Context) -> dict[str, LazyCommand]:
        cache: dict[str, LazyCommand] | None = ctx.meta.get("crm.plugin_commands")
        if cache is not None:
            return cache
        commands: dict[str, LazyCommand] = {}
        state: CLIState | None = ctx.obj if isinstance(ctx.obj, CLIState) else None
        try:
            if state is not None and state._app is not None:
                hooks = state._app.hooks
                ctx.meta["crm.plugin_failures"] = {n: r for n, r in state._app.plugins.items() if r.error is not None}
            else:
                from crm_core.config import load_config
                from crm_core.hooks import Hooks
                from crm_core.plugins import load_plugins
                from crm_core.plugins.cache import cached_discover

                # the group callback has not run yet: --config is in ctx.params,
                # or in a state preset by the test kit's runner
                if ctx.params.get("config_path"):
                    path, explicit = ctx.params["config_path"], True
                elif state is not None:
                    path, explicit = state.config_path, state.config_explicit
                else:
                    path = os.environ.get("CRM_CONFIG") or DEFAULT_CONFIG
                    explicit = bool(os.environ.get("CRM_CONFIG"))
                config = load_config(path, missing_ok=not explicit)
                loaded = load_plugins(
                    list(config.enabled or ()), installed=cached_discover(), enabled_source=config.enabled_source
                )
                hooks = Hooks(loaded.pm, loaded.order)
                ctx.meta["crm.plugin_failures"] = {n: r for n, r in loaded.records.items() if r.error is not None}
            for owner, spec in hooks.cli_commands():
                if spec.name in KERNEL_COMMANDS or spec.name in commands:
                    continue  # first one wins; `crm doctor` reports the clash
                commands[spec.name] = LazyCommand(spec.name, spec.target, spec.help, owner)
        except CRMError as exc:
            ctx.meta["crm.plugin_error"] = exc
        ctx.meta["crm.plugin_commands"] = commands
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(KERNEL_COMMANDS) + sorted(self._plugin_commands(ctx))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in KERNEL_COMMANDS:
            target, help_text = KERNEL_COMMANDS[cmd_name]
            return LazyCommand(cmd_name, target, help_text)
        return self._plugin_commands(ctx).get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            error = ctx.meta.get("crm.plugin_error")
            if error is not None:
                raise CLIError(
                    f"no such command {name!r}; plugin commands could not be loaded: {error}", error.exit_code
                )
            failures = ctx.meta.get("crm.plugin_failures") or {}
            if name in failures:  # a plugin's command is usually named after the plugin
                raise CLIError(
                    f"no command {name!r}: plugin {name!r} is enabled but was not loaded ({failures[name].error}); "
                    "see 'crm plugins' or 'crm doctor'",
                    failures[name].error.exit_code,
                )
            known = ", ".join(self.list_commands(ctx))
            missing = ""
            if failures:
                missing = (
                    f"; enabled plugins that were not loaded, so their commands are missing: {', '.join(sorted(failures))} "
                    "(see 'crm plugins' or 'crm doctor')"
                )
            raise click.UsageError(
                f"no such command {name!r}; the commands are: {known} (a plugin's command needs the plugin enabled){missing}",
                ctx,
            )
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        # ctx.obj is set by the group's callback, which runs inside
        # super().invoke(): read it only once an error is caught.
        def debug() -> bool:
            return isinstance(ctx.obj, CLIState) and ctx.obj.debug

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError as exc:
            # the reader of our output went away (``crm … | head``): not a fault to report;
            # past click's own EPIPE handling to the entry point, which ends quietly
            raise ReaderGone() from exc
        except CRMError as exc:
            if debug():
                raise
            raise CLIError(str(exc), exc.exit_code) from exc
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            if debug():
                raise
            raise CLIError(
                f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback, and please report it)"
            ) from exc


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    is_eager=True,  # read before --help, which lists the enabled plugins' commands
    help="Configuration file [default: ./crm.toml, or $CRM_CONFIG].",
)
@click.option("--strict", is_flag=True, help="Make any plugin load failure fatal.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--as",
    "as_user",
    metavar="USER",
    help="Act as this CRM user [default: the CRM user named like the shell user, else the system].",
)
@click.version_option(package_name="crm-core", prog_name="crm")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, strict: bool, debug: bool, as_user: str | None) -> None:
    """A pluggable CRM: contacts, surveys, a warehouse, analytics and tasks."""
    if isinstance(ctx.obj, CLIState):  # a preset state (the test kit's runner)
        ctx.obj.strict = ctx.obj.strict or strict
        ctx.obj.debug = ctx.obj.debug or debug
        ctx.obj.as_user = as_user or ctx.obj.as_user
        if config_path:
            ctx.obj.config_path = Path(config_path)
            ctx.obj.config_explicit = True
    else:
        ctx.obj = CLIState(config_path, strict=strict, debug=debug, as_user=as_user)
    ctx.obj.command = ctx.invoked_subcommand
    ctx.call_on_close(ctx.obj.close)


class StderrAfterStdout(io.TextIOBase):
    """``sys.stderr`` for the ``crm`` command: every write first flushes stdout.

    Installed once by the CLI entry point, so that any plugin's
    ``click.echo(…, err=True)``, a log line or an error comes after the data
    already printed instead of inside a half-written row of it. Everything
    else is the wrapped stream's.
    """

    # stdout may be such a wrapper too (hence io.TextIOBase)
    def __init__(self, stream: TextIO, stdout: Callable[[], TextIO | io.TextIOBase]) -> None:
        self._stream = stream
        self._stdout = stdout

    def write(self, text: str) -> int:
        out = self._stdout()
        if out is not self and out is not self._stream:
            out.flush()
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    @property
    def buffer(self) -> Any:
        return self._stream.buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    # lines for the person (progress, summaries, errors) never land inside a row of the data
    if not isinstance(sys.stderr, StderrAfterStdout):
        sys.stderr = StderrAfterStdout(sys.stderr, lambda: sys.stdout)
    try:
        try:
            cli.main(args=argv, prog_name="crm")
        except CRMError as exc:  # raised outside a command (while building the group)
            click.echo(f"Error: {exc}", err=True)
            if "--debug" in (argv or sys.argv):
                traceback.print_exc()
            sys.exit(exc.exit_code)
        finally:
            # flush here, where a reader that went away can still be caught, not at interpreter exit
            sys.stdout.flush()
    except (BrokenPipeError, ReaderGone):
        _reader_gone()


def _reader_gone() -> NoReturn:
    """End quietly when stdout's reader went away (``crm contacts list | head -1``).

    The Python documentation's way (``signal`` module, "Note on SIGPIPE"):
    what is still buffered for stdout can no longer be written, so stdout is
    pointed at devnull, which keeps the interpreter's last flush from raising
    again and printing a traceback; the exit code is 1, as Python's own on EPIPE.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is no file (embedded, captured)
        pass
    sys.exit(1)
