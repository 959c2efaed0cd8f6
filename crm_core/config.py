"""Configuration: one TOML file, validated with attrs classes and cattrs.

This module is the one place that validates configuration. The layout::

    [crm]                       # CoreSettings
    database = "sqlite:///crm.db"
    timezone = "Europe/Madrid"

    [crm.mail]                  # MailSettings
    transport = "file"

    [plugins]
    enabled = ["contacts", "tasks"]

    [plugins.contacts]          # validated by the class the plugin declares
    default_region = "ES"

Any string value of the form ``env:NAME`` is read from the environment
variable ``NAME`` (and shown redacted by ``crm config show``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from crm_core.errors import ConfigError

__all__ = [
    "Config",
    "CoreSettings",
    "dump_toml",
    "AuthSettings",
    "MailSettings",
    "RoleSettings",
    "SmtpSettings",
    "WorkerSettings",
    "load_config",
    "parse_plugin_list",
    "structure_section",
]

ENV_PREFIX = "env:"
#: database URL schemes and the backend each names (``crm_core.storage`` connects them)
DATABASE_SCHEMES = {
    "sqlite": "sqlite",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
# "secret", "smtp_password", "api_key", "signing_key"... but not "sort_key" or "primary_key":
# a bare "key" or one of the words below at the end of the name.
_SECRET_KEY = re.compile(
    r"(^key$|password$|passwd$|secret$|token$|(api|secret|private|signing|access)_key$)", re.IGNORECASE
)


@attrs.frozen
class SmtpSettings:
    """``[crm.mail.smtp]``: the SMTP server for ``transport = "smtp"``."""

    host: str = "localhost"
    port: int = attrs.field(default=25)
    #: ``"none"``, ``"starttls"`` or ``"tls"`` (implicit TLS, usually port 465)
    security: str = attrs.field(default="none")
    username: str | None = None
    #: write ``"env:NAME"`` to read it from the environment variable NAME
    password: str | None = None
    #: seconds to wait for the server (connecting and each reply)
    timeout: float = attrs.field(default=30.0)
    #: check the server's TLS certificate (turn off only for a test server)
    verify: bool = True
    #: a CA bundle (PEM) to trust instead of the system's, for a private CA
    ca_file: str | None = None

    @security.validator
    def _check_security(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value not in ("none", "starttls", "tls"):
            raise ValueError(f"must be 'none', 'starttls' or 'tls', not {value!r}")

    @port.validator
    def _check_port(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if not 0 < value < 65536:
            raise ValueError(f"must be a TCP port between 1 and 65535, not {value!r}")

    @timeout.validator
    def _check_timeout(self, attribute: attrs.Attribute[Any], value: float) -> None:
        if value <= 0:
            raise ValueError(f"must be a positive number of seconds, not {value!r}")


def _positive(allow_zero: bool = False) -> Callable[[Any, attrs.Attribute[Any], float], None]:  # an attrs validator
    def check(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
        if value < 0 or (value == 0 and not allow_zero):
            raise ValueError(f"must be {'zero or more' if allow_zero else 'more than zero'}, not {value!r}")

    return check


@attrs.frozen
class MailSettings:
    """``[crm.mail]``: how outgoing mail leaves the CRM."""

    #: ``file`` (writes .eml files to ``outbox``), ``smtp``, ``memory`` or a plugin's
    transport: str = "file"
    #: folder for the ``file`` transport, relative to the config file
    outbox: str = "outbox"
    #: the From header of every message
    sender: str = attrs.field(default="CRM <crm@localhost>")
    #: messages per minute, per transport; 0 means no limit
    rate_limit: int = attrs.field(default=0, validator=_positive(allow_zero=True))
    #: delivery attempts before a temporarily failing message is given up
    max_attempts: int = attrs.field(default=8, validator=_positive())
    #: first retry delay in seconds; doubles with each attempt
    retry_backoff: float = attrs.field(default=60.0, validator=_positive())
    #: the longest retry delay in seconds (the doubling stops there)
    max_backoff: float = attrs.field(default=21600.0, validator=_positive())
    #: messages handed to the transport at once (one SMTP connection per batch)
    batch_size: int = attrs.field(default=100, validator=_positive())
    #: seconds a worker may hold a batch before another may take it over
    lease: float = attrs.field(default=600.0, validator=_positive())
    #: an address that handles unsubscribe requests: a mailto: List-Unsubscribe in bulk mail
    #: (beside a plugin's link, or alone when no plugin serves an unsubscribe page)
    unsubscribe_mailto: str = attrs.field(default="")
    #: the line added at the end of bulk mail; {url} is the unsubscribe link
    unsubscribe_text: str = attrs.field(default="To stop receiving these e-mails: {url}")
    smtp: SmtpSettings = attrs.field(factory=SmtpSettings)
    #: settings handed to a plugin's transport factory (free-form table)
    transport_options: dict[str, Any] = attrs.field(factory=dict)

    @sender.validator
    def _check_sender(self, attribute: attrs.Attribute[Any], value: str) -> None:
        # a quick syntax check: the full parse (and its imports) waits for mail
        from crm_core.mail.address import check_address_syntax

        check_address_syntax(value, what="the sender")

    @unsubscribe_mailto.validator
    def _check_unsubscribe_mailto(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value:
            from crm_core.mail.address import check_address_syntax

            check_address_syntax(value, what="unsubscribe_mailto")

    @unsubscribe_text.validator
    def _check_unsubscribe_text(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if "{url}" not in value or "\n" in value or "\r" in value:
            raise ValueError(f"{value!r} must be one line holding {{url}}, where the unsubscribe link goes")


@attrs.frozen
class WorkerSettings:
    """``[crm.worker]``: how ``crm worker`` runs the timed jobs."""

    #: seconds between mail deliveries (the kernel's ``crm.mail`` job)
    mail_interval: float = attrs.field(default=10.0, validator=_positive())
    #: seconds between event deliveries and retries (the ``crm.events`` job)
    events_interval: float = attrs.field(default=60.0, validator=_positive())
    #: the longest an idle worker sleeps before it looks at the schedule again
    poll_interval: float = attrs.field(default=5.0, validator=_positive())
    #: days the finished runs stay in ``crm_job_run`` (for ``crm worker status``)
    keep_runs_days: int = attrs.field(default=7, validator=_positive())
    #: delivery lanes per handler (1 to 64): each handler's events are split by a stable hash of their
    #: subject (the first contact id) into this many lanes, delivered by separate workers at once
    event_lanes: int = attrs.field(default=1)
    #: seconds a worker may go without renewing its claim on a lane before another takes the lane over
    event_lane_lease: float = attrs.field(default=60.0, validator=_positive())

    @event_lanes.validator
    def _check_event_lanes(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if isinstance(value, bool) or not 1 <= value <= 64:
            raise ValueError(f"must be a whole number from 1 to 64, not {value!r}")


#: the roles the kernel defines (``crm_core.auth.roles``); ``[[crm.roles]]`` may not reuse these names
BUILTIN_ROLE_NAMES = ("admin", "manager", "sales", "support", "read-only")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def _check_role_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _ROLE_NAME.match(value):
        raise ValueError(
            f"role name {value!r}: use 1 to 40 lower-case letters, digits, '-' and '_', starting with a letter"
        )
    if value in BUILTIN_ROLE_NAMES:
        raise ValueError(f"{value!r} is a built-in role; give the custom role another name")


def _check_scopes(instance: Any, attribute: attrs.Attribute[Any], value: dict[str, str]) -> None:
    for record_type, scope in value.items():
        if scope not in ("own", "team", "all"):
            raise ValueError(f"scope of {record_type!r} must be 'own', 'team' or 'all', not {scope!r}")


@attrs.frozen
class RoleSettings:
    """One ``[[crm.roles]]`` table: a custom role (see docs/users.md)."""

    name: str = attrs.field(validator=_check_role_name)
    description: str = ""
    #: permission names (``contacts.edit``) or patterns (``contacts.*``)
    permissions: list[str] = attrs.field(factory=list)
    #: record type -> ``own``, ``team`` or ``all``
    scopes: dict[str, str] = attrs.field(factory=dict, validator=_check_scopes)


@attrs.frozen
class AuthSettings:
    """``[crm.auth]``: passwords, sign-in limits, sessions and API tokens."""

    #: the fewest characters a password may have
    password_min_length: int = attrs.field(default=12, validator=_positive())
    #: failed sign-ins of one user name before each further try waits (back-off)
    signin_max_failures: int = attrs.field(default=5, validator=_positive())
    #: failed sign-ins from one client address before each further try waits
    signin_address_max_failures: int = attrs.field(default=20, validator=_positive())
    #: a session not used for this many minutes ends
    session_idle_minutes: int = attrs.field(default=60, validator=_positive())
    #: a session ends this many hours after sign-in, used or not
    session_max_hours: int = attrs.field(default=12, validator=_positive())
    #: days an API token lasts when created without --expires
    token_days: int = attrs.field(default=90, validator=_positive())


@attrs.frozen
class CoreSettings:
    """``[crm]``: the kernel's own settings."""

    #: ``sqlite:///path.db`` (relative to the config file), ``postgresql://…``
    #: or ``mysql://…``
    database: str = attrs.field(default="sqlite:///crm.db")
    #: IANA time zone used for schedules, reports and "today"
    timezone: str = attrs.field(default="UTC")
    #: the key that signs links in e-mails and letters (at least 32 characters;
    #: ``"env:CRM_SECRET"``); empty: the CRM makes one and keeps it in its database
    secret: str = attrs.field(default="", repr=False)
    mail: MailSettings = attrs.field(factory=MailSettings)
    worker: WorkerSettings = attrs.field(factory=WorkerSettings)
    auth: AuthSettings = attrs.field(factory=AuthSettings)
    #: custom roles, ``[[crm.roles]]`` tables
    roles: list[RoleSettings] = attrs.field(factory=list)

    @roles.validator
    def _check_roles(self, attribute: attrs.Attribute[Any], value: list[RoleSettings]) -> None:
        seen: set[str] = set()
        for role in value:
            if role.name in seen:
                raise ValueError(f"role {role.name!r} is defined twice; give each [[crm.roles]] table its own name")
            seen.add(role.name)

    @database.validator
    def _check_database(self, attribute: attrs.Attribute[Any], value: str) -> None:
        scheme = value.partition("://")[0].lower() if "://" in value else "sqlite"
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unknown database scheme {scheme!r}; use sqlite:///crm.db, "
                "postgresql://user@host/dbname or mysql://user@host/dbname"
            )

    @timezone.validator
    def _check_timezone(self, attribute: attrs.Attribute[Any], value: str) -> None:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Madrid'") from None


@attrs.frozen
class Config:
    """The loaded configuration.

    ``enabled`` is ``None`` when neither the file nor ``CRM_PLUGINS`` says
    which plugins to enable. ``plugin_tables`` holds the raw
    ``[plugins.<name>]`` tables; each is validated by
    :func:`structure_section` once the plugin has declared its class.
    """

    core: CoreSettings = attrs.field(factory=CoreSettings)
    enabled: tuple[str, ...] | None = None
    plugin_tables: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    path: Path | None = None
    #: dotted key paths whose values came from the environment
    secrets: frozenset[str] = frozenset()
    #: where ``enabled`` came from, for messages: "the config file", "CRM_PLUGINS", "arguments"
    enabled_source: str = "the config file"

    @property
    def source(self) -> str:
        """How messages name this configuration."""
        return str(self.path) if self.path else "the app's arguments"

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file are relative to this folder."""
        return self.path.parent if self.path else Path.cwd()

    def resolve_path(self, value: str | os.PathLike[str]) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as a dict, secrets replaced by ``"***"``."""
        data: dict[str, Any] = {"crm": _converter().unstructure(self.core)}
        data["plugins"] = {"enabled": list(self.enabled) if self.enabled is not None else []}
        for name, table in sorted(self.plugin_tables.items()):
            data["plugins"][name] = dict(table)
        redacted: dict[str, Any] = _redact(data, "", self.secrets)
        return redacted


def parse_plugin_list(value: str) -> tuple[str, ...]:
    """``"contacts, tasks"`` → ``("contacts", "tasks")``; empty means none."""
    return tuple(p.strip() for p in value.split(",") if p.strip())


def load_config(
    path: str | os.PathLike[str] | None,
    *,
    environ: Mapping[str, str] | None = None,
    missing_ok: bool = False,
) -> Config:
    """Read and validate a TOML configuration file.

    ``CRM_PLUGINS`` in ``environ`` (default ``os.environ``) overrides
    ``[plugins] enabled``. With ``missing_ok`` a missing file gives the
    defaults instead of an error.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    file_path = Path(path) if path is not None else None
    if file_path is not None:
        try:
            with open(file_path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            if not missing_ok:
                raise ConfigError(
                    f"{file_path}: no such configuration file; create one with 'crm init' "
                    "or name another with --config / CRM_CONFIG"
                ) from None
            file_path = None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path}: TOML syntax error: {exc}; fix the file and try again") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{file_path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8, as TOML requires"
            ) from None
        except OSError as exc:
            raise ConfigError(f"{file_path}: cannot read the configuration file: {exc.strerror}") from None
    source = str(file_path) if file_path else "the configuration"
    secrets: set[str] = set()
    raw = _resolve_env(raw, "", env, secrets, source)

    unknown = sorted(set(raw) - {"crm", "plugins"})
    if unknown:
        raise ConfigError(
            f"{source}: unknown table [{unknown[0]}]; the file has [crm] and [plugins] "
            "(plugin settings go under [plugins.<name>])"
        )
    core = structure_section(raw.get("crm", {}), CoreSettings, source, "crm")

    plugins_raw = raw.get("plugins", {})
    if not isinstance(plugins_raw, dict):
        raise ConfigError(f"{source}: 'plugins' must be a table, e.g. [plugins] enabled = [\"contacts\"]")
    enabled: tuple[str, ...] | None = None
    enabled_source = "the config file"
    if "enabled" in plugins_raw:
        value = plugins_raw["enabled"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(
                f"{source}: plugins.enabled must be a list of plugin names, e.g. "
                f'enabled = ["contacts", "tasks"], not {value!r}'
            )
        enabled = tuple(value)
    if "CRM_PLUGINS" in env:
        enabled = parse_plugin_list(env["CRM_PLUGINS"])
        enabled_source = "CRM_PLUGINS"
    tables = {}
    for name, table in plugins_raw.items():
        if name == "enabled":
            continue
        if not isinstance(table, dict):
            raise ConfigError(
                f"{source}: plugins.{name} must be a table ([plugins.{name}]), not {type(table).__name__}"
            )
        tables[name] = table
    return Config(
        core=core,
        enabled=enabled,
        plugin_tables=tables,
        path=file_path.resolve() if file_path else None,
        secrets=frozenset(secrets),
        enabled_source=enabled_source,
    )


def structure_section(data: Any, cls: type, source: str, key: str) -> Any:
    """Validate ``data`` (a TOML table) into the attrs class ``cls``.

    Raises :class:`ConfigError` naming ``source``, the full key path of the
    first problem found (``plugins.contacts.default_region``), what was
    expected and the fix.
    """
    from cattrs.errors import BaseValidationError, ForbiddenExtraKeysError

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {key} must be a table ([{key}]), not {_what(data)}")
    try:
        return _converter().structure(data, cls)
    except (BaseValidationError, ForbiddenExtraKeysError, TypeError, ValueError, KeyError) as exc:
        problems = _problems(exc, key, cls)
        where, text = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {where}: {text}{more}") from None


def _problems(exc: BaseException, path: str, type_: Any) -> list[tuple[str, str]]:
    """Flatten a cattrs error tree into ``(key path, message)`` pairs."""
    from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

    if isinstance(exc, ClassValidationError):
        with_notes, others = exc.group_exceptions()
        out = [p for sub, note in with_notes for p in _problems(sub, f"{path}.{note.name}", note.type)]
        return out + [p for sub in others for p in _problems(sub, path, exc.cl)]
    if isinstance(exc, IterableValidationError):
        with_indexes, others = exc.group_exceptions()
        out = [p for sub, note in with_indexes for p in _problems(sub, f"{path}[{note.index}]", note.type)]
        return out + [p for sub in others for p in _problems(sub, path, None)]
    if isinstance(exc, ForbiddenExtraKeysError):
        allowed = ", ".join(f.name for f in attrs.fields(exc.cl))
        return [
            (f"{path}.{extra}", f"unknown key; the keys of [{path}] are: {allowed} (remove it or fix its spelling)")
            for extra in sorted(exc.extra_fields)
        ]
    if isinstance(exc, KeyError):
        return [(path, f"required key is missing; add it to [{path.rpartition('.')[0] or path}]")]
    # attrs validators pass the attribute along: ValueError(message, attribute, ...)
    attribute = next((a for a in exc.args[1:] if isinstance(a, attrs.Attribute)), None)
    if attribute is not None:
        return [(f"{path}.{attribute.name}", _validator_message(exc))]
    return [(path, str(exc) or type(exc).__name__)]


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _what(value: Any) -> str:
    """How a TOML value is named in messages: ``the string "5"``."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _scalar_fix(kind: type, value: Any) -> str:
    if isinstance(value, str) and kind in (int, float, bool):
        try:
            parsed = {int: int, float: float}[kind](value) if kind is not bool else None
        except (KeyError, ValueError):
            parsed = None
        if parsed is not None or (kind is bool and value.lower() in ("true", "false")):
            return f"; write it without quotes: {value.lower() if kind is bool else value}"
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'; put it in quotes: "{value}"'
    return ""


def _failing_field(
    cls: type, value: dict[str, Any], structure: Any
) -> tuple[attrs.Attribute[Any], BaseException] | None:
    """Which field's validator refused ``value``, so the message can name its key.

    An attrs validator raises from the class's ``__init__``, where cattrs no
    longer knows the field: build the instance again with validators off,
    then run them one by one. (``attrs.validators.disabled`` is process-wide;
    configuration is read at start-up, not concurrently.)
    """
    try:
        with attrs.validators.disabled():
            instance = structure(value, cls)
    except Exception:  # another problem: let the original error speak
        return None
    for field in attrs.fields(cls):
        if field.validator is None:
            continue
        try:
            field.validator(instance, field, getattr(instance, field.name))
        except Exception as exc:  # validators raise what they like; cattrs accepts any
            return field, exc
    return None


def _validator_message(exc: BaseException) -> str:
    # attrs' own validators raise ValueError(message, attribute, ...)
    if len(exc.args) > 1 and isinstance(exc.args[1], attrs.Attribute):
        return str(exc.args[0])
    return str(exc)


_CONVERTER = None


def _converter() -> Any:
    global _CONVERTER
    if _CONVERTER is None:
        import typing

        import cattrs
        from cattrs.cols import is_any_set, is_frozenset, is_sequence, list_structure_factory
        from cattrs.errors import ClassValidationError
        from cattrs.gen import make_dict_structure_fn

        conv = cattrs.Converter(forbid_extra_keys=True)

        def strict_scalar(kind: type) -> Any:
            def structure(value: Any, _: Any) -> Any:
                # TOML already typed the value: refuse "5" for an int, or
                # true for an int, instead of converting it silently.
                if kind is float and isinstance(value, int) and not isinstance(value, bool):
                    return float(value)
                if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                    raise TypeError(f"expected {_KIND_NAMES[kind]}, got {_what(value)}{_scalar_fix(kind, value)}")
                return value

            return structure

        for kind in (str, int, float, bool):
            conv.register_structure_hook(kind, strict_scalar(kind))

        def sequence_hook(type_: Any) -> Any:
            # cattrs would turn the string "vip" into ["v", "i", "p"]
            args = typing.get_args(type_)
            item = args[0] if args else Any
            inner = list_structure_factory(list[item], conv)  # type: ignore[valid-type]
            finish: Any = frozenset if is_frozenset(type_) else set if is_any_set(type_) else None
            if finish is None and (typing.get_origin(type_) or type_) is tuple:
                finish = tuple

            def structure(value: Any, _: Any) -> Any:
                if not isinstance(value, list):
                    raise TypeError(f'expected a list such as ["a", "b"], got {_what(value)}')
                items = inner(value, list[item])  # type: ignore[valid-type]
                return finish(items) if finish is not None else items

            return structure

        def is_list_like(type_: Any) -> bool:
            if is_any_set(type_):
                return True
            if not is_sequence(type_):
                return False
            args = typing.get_args(type_)
            return (typing.get_origin(type_) or type_) is not tuple or (len(args) == 2 and args[1] is Ellipsis)

        conv.register_structure_hook_factory(is_list_like, sequence_hook)

        def table_hook(cls: type) -> Any:
            inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, conv)

            def structure(value: Any, _: Any) -> Any:
                if not isinstance(value, dict):
                    raise TypeError(f"expected a table, got {_what(value)}")
                try:
                    return inner(value, cls)
                except ClassValidationError as exc:
                    if exc.group_exceptions()[0]:  # a field's own value is wrong: cattrs named it
                        raise
                    located = _failing_field(cls, value, inner)
                    if located is None:
                        raise
                    field, error = located
                    raise ValueError(_validator_message(error), field) from exc

            return structure

        conv.register_structure_hook_factory(attrs.has, table_hook)
        _CONVERTER = conv
    return _CONVERTER


def _resolve_env(value: Any, path: str, env: Mapping[str, str], secrets: set[str], source: str) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_env(v, f"{path}.{k}" if path else k, env, secrets, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, f"{path}[{i}]", env, secrets, source) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if name not in env:
            raise ConfigError(
                f"{source}: {path} = {value!r} but the environment variable {name} is not set; set it or put the value in the file"
            )
        secrets.add(path)
        return env[name]
    return value


def _redact(value: Any, path: str, secrets: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):  # env: values inside lists are secrets too (tokens = ["env:A"])
        return [_redact(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if value is None:
        return value
    leaf = re.sub(r"(\[\d+\])+$", "", path).rsplit(".", 1)[-1]
    if path in secrets or _SECRET_KEY.search(leaf):
        return "***"
    if isinstance(value, str) and "://" in value:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)
    return value


def dump_toml(data: Mapping[str, Any]) -> str:
    """Write a nested dict of TOML values (as :meth:`Config.redacted` gives) as TOML text.

    Tables become ``[a.b]`` sections; a table inside a list (an array of
    tables such as ``[[plugins.tasks.rules]]``) becomes an inline table. The
    output reads back with ``tomllib`` to the same data, ``None`` left out.
    """
    import datetime as dt
    import json

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (dt.datetime, dt.date, dt.time)):
            return v.isoformat()
        if isinstance(v, Mapping):
            items = ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items() if x is not None)
            return "{ " + items + " }" if items else "{}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v if x is not None) + "]"
        return json.dumps(str(v), ensure_ascii=False)

    lines: list[str] = []

    def table(prefix: str, body: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, Mapping) and v is not None}
        tables = {k: v for k, v in body.items() if isinstance(v, Mapping)}
        if prefix and (scalars or not tables):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{key(k)} = {value(v)}")
        for k, v in tables.items():
            table(f"{prefix}.{key(k)}" if prefix else key(k), v)

    table("", data)
    return "\n".join(lines).lstrip("\n") + "\n"
