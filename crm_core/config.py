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
import sys
from pathlib import Path
from typing import Any, Mapping

import attrs

from crm_core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the kernel needs 3.11, kept for plugins' tooling
    import tomli as tomllib

__all__ = [
    "Config",
    "CoreSettings",
    "dump_toml",
    "MailSettings",
    "SmtpSettings",
    "load_config",
    "parse_plugin_list",
    "structure_section",
]

ENV_PREFIX = "env:"
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_key|key)$", re.IGNORECASE)


@attrs.frozen
class SmtpSettings:
    """``[crm.mail.smtp]``: the SMTP server for ``transport = "smtp"``."""

    host: str = "localhost"
    port: int = 25
    #: ``"none"``, ``"starttls"`` or ``"tls"`` (implicit TLS, usually port 465)
    security: str = attrs.field(default="none")
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @security.validator
    def _check_security(self, attribute: attrs.Attribute, value: str) -> None:
        if value not in ("none", "starttls", "tls"):
            raise ValueError(f"must be 'none', 'starttls' or 'tls', not {value!r}")


@attrs.frozen
class MailSettings:
    """``[crm.mail]``: how outgoing mail leaves the CRM."""

    #: ``file`` (writes .eml files to ``outbox``), ``smtp``, ``memory`` or a plugin's
    transport: str = "file"
    #: folder for the ``file`` transport, relative to the config file
    outbox: str = "outbox"
    #: the From header of every message
    sender: str = "CRM <crm@localhost>"
    #: messages per minute, per transport; 0 means no limit
    rate_limit: int = 0
    #: delivery attempts before a temporarily failing message is given up
    max_attempts: int = 8
    #: first retry delay in seconds; doubles with each attempt
    retry_backoff: float = 60.0
    smtp: SmtpSettings = attrs.field(factory=SmtpSettings)


@attrs.frozen
class CoreSettings:
    """``[crm]``: the kernel's own settings."""

    #: ``sqlite:///path.db`` (relative to the config file), ``postgresql://…``
    #: or ``mysql://…``
    database: str = "sqlite:///crm.db"
    #: IANA time zone used for schedules, reports and "today"
    timezone: str = attrs.field(default="UTC")
    mail: MailSettings = attrs.field(factory=MailSettings)

    @timezone.validator
    def _check_timezone(self, attribute: attrs.Attribute, value: str) -> None:
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
        return _redact(data, "", self.secrets)


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
                f"enabled = [\"contacts\", \"tasks\"], not {value!r}"
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

    Raises :class:`ConfigError` naming ``source``, the key path and what was
    expected, for the first problem found.
    """
    from cattrs.errors import ClassValidationError

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {key} must be a table, not {type(data).__name__}")
    try:
        return _converter().structure(data, cls)
    except ClassValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc, key)}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {key}: {exc}") from None


def _describe(exc: Exception, key: str) -> str:
    from cattrs.v import transform_error

    messages = transform_error(exc, path=key, format_exception=_format_exception)
    first = messages[0] if messages else str(exc)
    # cattrs says "message @ path"; we say "path: message"
    text, _, where = first.rpartition(" @ ")
    where = where.replace("$.", "")
    more = f" (and {len(messages) - 1} more problem(s))" if len(messages) > 1 else ""
    return f"{where}: {text}{more}"


def _format_exception(exc: BaseException, type_: Any) -> str:
    from cattrs.errors import ForbiddenExtraKeysError

    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(exc.extra_fields))
        allowed = ", ".join(f.name for f in attrs.fields(exc.cl))
        return f"unknown key(s) {keys}; the keys here are: {allowed}"
    if isinstance(exc, KeyError):
        return "required key is missing"
    if isinstance(exc, ValueError) and type_ is not None and type_ in (int, float):
        return f"expected {'an integer' if type_ is int else 'a number'}"
    if isinstance(exc, (TypeError, ValueError)) and type_ is not None:
        name = getattr(type_, "__name__", str(type_))
        detail = str(exc)
        if isinstance(exc, ValueError) and detail and "invalid literal" not in detail:
            return detail
        return f"expected {name}"
    return str(exc)


_CONVERTER = None


def _converter() -> Any:
    global _CONVERTER
    if _CONVERTER is None:
        import cattrs

        conv = cattrs.Converter(forbid_extra_keys=True)

        def strict_scalar(kind: type) -> Any:
            def structure(value: Any, _: Any) -> Any:
                # TOML already typed the value: refuse "5" for an int, or
                # true for an int, instead of converting it silently.
                if kind is float and isinstance(value, int) and not isinstance(value, bool):
                    return float(value)
                if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                    raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
                return value

            return structure

        for kind in (str, int, float, bool):
            conv.register_structure_hook(kind, strict_scalar(kind))
        _CONVERTER = conv
    return _CONVERTER


def _resolve_env(value: Any, path: str, env: Mapping[str, str], secrets: set[str], source: str) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_env(v, f"{path}.{k}" if path else k, env, secrets, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, f"{path}[{i}]", env, secrets, source) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        if name not in env:
            raise ConfigError(f"{source}: {path} = {value!r} but the environment variable {name} is not set; set it or put the value in the file")
        secrets.add(path)
        return env[name]
    return value


def _redact(value: Any, path: str, secrets: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if value is None:
        return value
    leaf = path.rsplit(".", 1)[-1]
    if path in secrets or _SECRET_KEY.search(leaf):
        return "***"
    if isinstance(value, str) and "://" in value:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)
    return value


def dump_toml(data: Mapping[str, Any]) -> str:
    """Write a nested dict of TOML values (as :meth:`Config.redacted` gives) as TOML text."""
    import json

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v), ensure_ascii=False)

    lines: list[str] = []

    def table(prefix: str, body: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, Mapping) and v is not None}
        tables = {k: v for k, v in body.items() if isinstance(v, Mapping)}
        if prefix and (scalars or not tables):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {value(v)}")
        for k, v in tables.items():
            table(f"{prefix}.{k}" if prefix else k, v)

    table("", data)
    return "\n".join(lines).lstrip("\n") + "\n"
