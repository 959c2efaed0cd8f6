"""What ``crm plugins`` shows, for any front end: each installed plugin's version, state, contract, hooks and error.

The desk's system page shows the same rows (``plugin_rows(crm.plugins)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_core.errors import CRMError, PluginError
from crm_core.plugins.discovery import PluginInfo, discover
from crm_core.plugins.loading import LoadedPlugins, PluginRecord

__all__ = ["plugin_rows", "settings_errors"]


def plugin_rows(
    records: Mapping[str, PluginRecord],
    installed: Mapping[str, PluginInfo] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per plugin: the loaded ones (``records``, in load order), then the installed but disabled ones.

    Each row has ``name``, ``version``, ``state`` (``loaded``, ``failed``,
    ``skipped``… or ``disabled``), ``contract``, ``requires``, ``hooks``,
    ``error`` (the load error, or the settings error in ``errors``) and
    ``traceback``. ``installed`` defaults to :func:`discover`.
    """
    installed = discover() if installed is None else installed
    errors = errors or {}
    rows = []
    for name in list(records) + sorted(n for n in installed if n not in records):
        record = records.get(name)
        info = record.info if record else installed[name]
        rows.append(
            {
                "name": name,
                "version": info.version or "",
                "state": record.state if record else "disabled",
                "contract": info.contract or "",
                "requires": ", ".join(f"{d}{s}" for d, s in info.requires),
                "hooks": list(record.hooks) if record else [],
                "error": str(record.error) if record and record.error else errors.get(name, ""),
                "traceback": (record.traceback or "") if record else "",
            }
        )
    return rows


def settings_errors(config: Any, loaded: LoadedPlugins) -> dict[str, str]:
    """The error of each loaded plugin's ``[plugins.<name>]`` table, as the app would raise it."""
    from crm_core.config import structure_section
    from crm_core.hooks import Hooks

    try:
        sections = Hooks(loaded.pm, loaded.order).config_sections()
    except PluginError as exc:  # a crm_config_section that returns no attrs class
        return {exc.plugin: str(exc)}
    errors = {}
    for name in loaded.order:
        table = config.plugin_tables.get(name, {})
        try:
            if name in sections:
                structure_section(dict(table), sections[name], config.source, f"plugins.{name}")
            elif table:
                errors[name] = f"{config.source}: [plugins.{name}] has settings but plugin {name!r} declares none"
        except CRMError as exc:
            errors[name] = str(exc)
    return errors
