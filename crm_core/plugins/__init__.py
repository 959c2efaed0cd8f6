"""Plugin discovery, dependency resolution and loading.

Three steps, one module each:

- :mod:`~crm_core.plugins.discovery` reads the installed distributions'
  metadata (entry points in the group ``crm.plugins``, their version, and
  their ``Requires-Dist`` on ``crm-hookspecs`` and on other plugins'
  distributions) **without importing anything**;
- :mod:`~crm_core.plugins.resolution`, a pure step, checks the enabled
  names, contract ranges and requirements and puts the plugins in
  dependency order (topological, ties by name);
- :mod:`~crm_core.plugins.loading` imports the plugins in that order and
  registers them with pluggy.

The command line reads the first step's result through
:mod:`~crm_core.plugins.cache`, which keeps it between runs while the
installed distributions' metadata files are unchanged.

A plugin that cannot be loaded is recorded with its error and skipped,
together with the plugins that require it; in strict mode the first such
error is raised.
"""

from __future__ import annotations

from crm_core.plugins.discovery import (
    CONTRACT_DIST,
    ENTRY_POINT_GROUP,
    PluginInfo,
    discover,
    object_plugin,
    requirements,
)
from crm_core.plugins.loading import LoadedPlugins, PluginRecord, load_plugins
from crm_core.plugins.resolution import RESERVED_NAME, Failure, Resolution, not_installed_error, resolve

__all__ = [
    "CONTRACT_DIST",
    "ENTRY_POINT_GROUP",
    "RESERVED_NAME",
    "Failure",
    "LoadedPlugins",
    "PluginInfo",
    "PluginRecord",
    "Resolution",
    "discover",
    "load_plugins",
    "not_installed_error",
    "object_plugin",
    "requirements",
    "resolve",
]
