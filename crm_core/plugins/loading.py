"""Registration: import the resolved plugins in order and register them with pluggy."""

from __future__ import annotations

import difflib
import inspect
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pluggy

from crm_core.errors import PluginError, PluginImportError
from crm_core.plugins.discovery import PluginInfo, discover, load_target
from crm_core.plugins.resolution import resolve, skipped_error

__all__ = ["LoadedPlugins", "PluginRecord", "load_plugins"]


@attrs.define
class PluginRecord:
    """A plugin's outcome in one app: ``enabled``, ``failed`` or ``skipped``."""

    info: PluginInfo
    state: str
    error: PluginError | None = None
    #: the traceback of an error raised by the plugin's own code (its import), else ``None``
    traceback: str | None = None
    obj: Any = None
    hooks: tuple[str, ...] = ()
    #: things that load but look like mistakes (a hook's name without ``@hookimpl``)
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.info.name


@attrs.define
class LoadedPlugins:
    """The result of :func:`load_plugins`: the plugin manager and every record."""

    pm: pluggy.PluginManager
    records: dict[str, PluginRecord]
    #: the enabled plugins, in registration (dependency) order
    order: list[str]


def load_plugins(
    enabled: Sequence[str | PluginInfo],
    *,
    installed: Mapping[str, PluginInfo] | None = None,
    strict: bool = False,
    contract_version: str | None = None,
    enabled_source: str = "the configuration",
) -> LoadedPlugins:
    """Import and register the enabled plugins, in dependency order.

    ``enabled`` holds plugin names (looked up in ``installed``, default
    :func:`discover`) and :class:`PluginInfo` objects for plugins given as
    objects. A plugin that cannot be loaded is recorded and skipped with the
    plugins that require it; with ``strict`` the first failure is raised.
    """
    from crm_hookspecs import CONTRACT_VERSION, specs

    contract_version = contract_version or CONTRACT_VERSION
    resolution = resolve(
        enabled,
        discover() if installed is None else installed,
        contract_version=contract_version,
        enabled_source=enabled_source,
    )
    if strict and resolution.failures:
        raise resolution.failures[0].error
    records = {f.info.name: PluginRecord(info=f.info, state=f.state, error=f.error) for f in resolution.failures}
    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(specs)
    registered: list[str] = []
    for info in resolution.order:
        failed: dict[str, PluginError] = {}
        for dep, _ in info.requires:
            error = records[dep].error if dep in records else None
            if error is not None:
                failed[dep] = error
        if failed:  # a plugin it requires failed to import or register
            record = PluginRecord(info=info, state="skipped", error=skipped_error(info.name, failed))
        else:
            record = _register(pm, info, contract_version)
        if strict and record.error is not None:
            raise record.error
        records[info.name] = record
        if record.state == "enabled":
            registered.append(info.name)
    # a stable order: registration order, then the rest by name
    ordered = {name: records[name] for name in registered}
    ordered.update({name: records[name] for name in sorted(records) if name not in ordered})
    return LoadedPlugins(pm=pm, records=ordered, order=registered)


def _register(pm: pluggy.PluginManager, info: PluginInfo, contract_version: str) -> PluginRecord:
    """Import one plugin and register it; a failure is recorded, never raised."""
    name = info.name
    try:
        obj = info.obj if info.obj is not None else load_target(info.target)
    except Exception as exc:  # any error in third-party code at import
        error = PluginImportError(
            name,
            f"plugin {name!r} ({info.target}) failed to import: {type(exc).__name__}: {exc}; "
            f"fix or upgrade it, or remove it from [plugins] enabled",
        )
        return PluginRecord(info=info, state="failed", error=error, traceback=traceback.format_exc())
    # pluggy's own messages span lines and name no argument of the hook: check first
    problem = _argument_problem(pm, obj) or _unknown_hook_problem(pm, obj, contract_version)
    if problem is None:
        try:
            pm.register(obj, name=name)
        except Exception as exc:  # pluggy.PluginValidationError and friends
            problem = " ".join(str(exc).split())
    if problem is not None:
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        error = PluginImportError(name, f"plugin {name!r} could not be registered: {problem}")
        return PluginRecord(info=info, state="failed", error=error)
    hooks = tuple(sorted(c.name for c in pm.get_hookcallers(obj) or () if c.spec is not None))
    return PluginRecord(info=info, state="enabled", obj=obj, hooks=hooks, warnings=_unmarked_hooks(pm, obj, name))


def _marked(pm: pluggy.PluginManager, obj: Any) -> dict[str, tuple[Any, dict[str, Any]]]:
    """``{hook name: (function, options)}`` of the attributes of ``obj`` marked ``@hookimpl``."""
    out = {}
    for attr in dir(obj):
        try:
            opts = pm.parse_hookimpl_opts(obj, attr)
        except Exception:  # a property that raises is no hook
            continue
        if opts is not None:
            out[opts.get("specname") or attr] = (getattr(obj, attr), dict(opts))
    return out


def _spec_args(pm: pluggy.PluginManager, hook: str) -> tuple[str, ...] | None:
    spec = getattr(getattr(pm.hook, hook, None), "spec", None)
    return None if spec is None else tuple(spec.argnames)


def _positional(fn: Any) -> list[str] | None:
    """The arguments pluggy passes by name: positional ones without a default (as pluggy reads them)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]
    if names and names[0] in ("self", "cls") and not inspect.ismethod(fn):
        names = names[1:]
    return names


def _argument_problem(pm: pluggy.PluginManager, obj: Any) -> str | None:
    """One line naming an implementation's arguments the hook does not have, and the hook's own."""
    for hook, (fn, _) in sorted(_marked(pm, obj).items()):
        allowed = _spec_args(pm, hook)
        params = _positional(fn)
        if allowed is None or params is None:
            continue
        extra = [p for p in params if p not in allowed]
        if extra:
            return (
                f"{hook}({', '.join(params)}) takes {', '.join(repr(p) for p in extra)}, which {hook} does not pass; "
                f"its arguments are ({', '.join(allowed)}), and an implementation takes any of them by name"
            )
    return None


def _unknown_hook_problem(pm: pluggy.PluginManager, obj: Any, contract_version: str) -> str | None:
    # pluggy accepts @hookimpl functions it has no spec for (and never calls
    # them): a misspelt or invented hook name would be silently ignored. An
    # implementation marked optionalhook=True is left alone: that is how a
    # plugin offers a hook of a later contract version.
    unknown = sorted(
        hook
        for hook, (_, opts) in _marked(pm, obj).items()
        if _spec_args(pm, hook) is None and not opts.get("optionalhook")
    )
    if not unknown:
        return None
    return (
        f"it implements {', '.join(unknown)}, which {'is not a hook' if len(unknown) == 1 else 'are not hooks'} "
        f"of the contract {contract_version}; {_did_you_mean(unknown[0], pm)}"
    )


def _did_you_mean(hook: str, pm: pluggy.PluginManager) -> str:
    names = _hook_names(pm)
    close = difflib.get_close_matches(hook, names, n=1)
    if close:
        return f"did you mean {close[0]}? (fix the function's name)"
    return f"the hooks are: {', '.join(names)} (rename it, or remove @hookimpl from a function that is not a hook)"


def _hook_names(pm: pluggy.PluginManager) -> list[str]:
    return sorted(n for n in vars(pm.hook) if _spec_args(pm, n) is not None)


def _unmarked_hooks(pm: pluggy.PluginManager, obj: Any, name: str) -> tuple[str, ...]:
    """Functions named like a hook but not marked ``@hookimpl``: pluggy ignores them without a word."""
    marked = _marked(pm, obj)
    out = []
    for hook in _hook_names(pm):
        fn = getattr(obj, hook, None)
        if hook not in marked and callable(fn):
            out.append(
                f"plugin {name!r}: {hook} is named like a hook but not marked @hookimpl, so it is never called; "
                f"decorate it with @hookimpl (from crm_hookspecs import hookimpl), or rename it"
            )
    return tuple(out)
