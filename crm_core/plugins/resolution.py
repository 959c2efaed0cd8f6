"""Which enabled plugins can be loaded, and in which order.

A pure step: plugin metadata in, an order and the failures out. It imports
no plugin; the only thing it looks up is the installed version of a
distribution a plugin requires (injectable, for tests). Registration
(:mod:`crm_core.plugins.loading`) then imports the plugins in this order.
"""

from __future__ import annotations

import difflib
import graphlib
import heapq
import re
from collections.abc import Callable, Mapping, Sequence

import attrs

from crm_core.errors import (
    PluginContractError,
    PluginCycleError,
    PluginDependencyError,
    PluginError,
    PluginNotInstalledError,
)
from crm_core.plugins.discovery import InstalledPlugins, PluginInfo, installed_version, version_matches

__all__ = ["RESERVED_NAME", "Failure", "Resolution", "not_installed_error", "resolve", "skipped_error"]

#: the kernel's name: its tables are crm_*, so no plugin may be called that
RESERVED_NAME = "crm"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: the installed version of a distribution, or ``None`` when it is not installed
DistVersion = Callable[[str], "str | None"]
#: whether a version matches a specifier set
VersionCheck = Callable[[str, str], bool]


@attrs.frozen
class Failure:
    """A plugin that will not be loaded: ``failed`` itself, or ``skipped`` for a plugin it requires."""

    info: PluginInfo
    error: PluginError
    state: str = "failed"


@attrs.frozen
class Resolution:
    #: the plugins to register, each after every plugin it requires, ties by name
    order: tuple[PluginInfo, ...]
    #: in the order they were found (strict mode raises the first)
    failures: tuple[Failure, ...]


def resolve(
    enabled: Sequence[str | PluginInfo],
    installed: Mapping[str, PluginInfo],
    *,
    contract_version: str,
    enabled_source: str = "the configuration",
    dist_version: DistVersion | None = None,
) -> Resolution:
    """Check names, contract ranges and requirements, and order what is left.

    ``installed`` as :func:`~crm_core.plugins.discover` returns it
    (:class:`~crm_core.plugins.discovery.InstalledPlugins`) answers the
    version look-ups from what it remembers (the discovery cache's answers).
    """
    failures: list[Failure] = []
    wanted = _select(enabled, installed, enabled_source, failures)
    remembered = installed if isinstance(installed, InstalledPlugins) else None
    lookup = _cached(dist_version or (remembered.dist_version if remembered is not None else installed_version))
    check: VersionCheck = remembered.version_ok if remembered is not None else version_matches
    usable: dict[str, PluginInfo] = {}
    for name, info in sorted(wanted.items()):
        error = _contract_error(info, contract_version, check) or _requirements_error(
            info, wanted, installed, lookup, check
        )
        if error is not None:
            failures.append(Failure(info, error))
        else:
            usable[name] = info
    order = _order(usable, failures)
    return Resolution(tuple(usable[name] for name in order), tuple(failures))


def not_installed_error(name: str, installed: Mapping[str, PluginInfo], source: str) -> PluginNotInstalledError:
    """The error for an enabled name that no installed plugin has, with a did-you-mean."""
    close = difflib.get_close_matches(name.lower(), sorted(installed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(installed)) or "none"
    if not _NAME.match(name):
        what = f"{name!r} is not a plugin name (lower-case letters, digits and _){hint}"
    else:
        what = f"plugin {name!r} is enabled in {source} but not installed{hint}"
    return PluginNotInstalledError(
        name, f"{what} (installed: {known}); install it with pip or fix the list in {source}"
    )


def skipped_error(name: str, failed: Mapping[str, PluginError]) -> PluginDependencyError:
    """The error of a plugin skipped because plugins it requires were not loaded."""
    deps = sorted(failed)
    which = f"plugin {deps[0]!r}" if len(deps) == 1 else "plugins " + ", ".join(repr(d) for d in deps)
    why = "; ".join(f"{dep}: {failed[dep]}" if len(deps) > 1 else str(failed[dep]) for dep in deps)
    return PluginDependencyError(
        name, f"plugin {name!r} was skipped because {which}, which it requires, could not be loaded: {why}"
    )


def _select(
    enabled: Sequence[str | PluginInfo],
    installed: Mapping[str, PluginInfo],
    source: str,
    failures: list[Failure],
) -> dict[str, PluginInfo]:
    """The enabled plugins that exist and have a usable name."""
    wanted: dict[str, PluginInfo] = {}
    for item in enabled:
        name = item.name if isinstance(item, PluginInfo) else item
        info = item if isinstance(item, PluginInfo) else installed.get(name)
        if name == RESERVED_NAME:
            error: PluginError = PluginError(
                name,
                f"{name!r} is the kernel's own name (its tables are {name}_* and its history "
                f"{name}_schema_migration), so no plugin may use it; rename the plugin",
            )
        elif info is None or (not isinstance(item, PluginInfo) and not _NAME.match(name)):
            error = not_installed_error(name, installed, source)
        elif info.claimed_by:
            error = PluginError(
                name,
                f"plugin name {name!r} is claimed by several installed distributions: "
                f"{', '.join([info.dist_name or info.target, *info.claimed_by])}; uninstall all but one",
            )
        else:
            wanted[name] = info
            continue
        failures.append(Failure(info or PluginInfo(name=name, target="?"), error))
    return wanted


def _contract_error(info: PluginInfo, contract_version: str, version_ok: VersionCheck) -> PluginError | None:
    if not info.contract or version_ok(contract_version, info.contract):
        return None
    return PluginContractError(
        info.name,
        f"plugin {info.name!r} {info.version or ''} needs crm-hookspecs{info.contract} but "
        f"{contract_version} is installed; install a {info.name} release made for contract "
        f"{contract_version}, or a crm-hookspecs{info.contract}".replace(" ' ", " "),
    )


def _requirements_error(
    info: PluginInfo,
    wanted: Mapping[str, PluginInfo],
    installed: Mapping[str, PluginInfo],
    dist_version: DistVersion,
    version_ok: VersionCheck,
) -> PluginError | None:
    """Every unmet requirement of ``info``, in one error (fixing one at a time is slow)."""
    problems = []
    for dep, spec in info.requires:
        dep_info = wanted.get(dep) or installed.get(dep)
        if dep_info is None:
            problems.append(f"requires plugin {dep!r}, which is not installed (install it: pip install crm-{dep})")
        elif dep not in wanted:
            problems.append(
                f"requires plugin {dep!r}, which is installed but not enabled (add {dep!r} to [plugins] enabled)"
            )
        elif spec and dep_info.version and not version_ok(dep_info.version, spec):
            problems.append(
                f"requires plugin {dep!r} {spec}, but {dep!r} {dep_info.version} is installed "
                f"(install a matching {dep} release)"
            )
    # pip installs what a plugin requires, but `pip uninstall` or --no-deps
    # can leave a requirement unmet: say so before the import fails less clearly
    for dist, spec in info.dist_requires:
        version = dist_version(dist)
        if version is None:
            problems.append(f"requires {dist}{spec}, which is not installed (install it: pip install '{dist}{spec}')")
        elif spec and not version_ok(version, spec):
            problems.append(f"requires {dist}{spec}, but {dist} {version} is installed (pip install '{dist}{spec}')")
    if not problems:
        return None
    return PluginDependencyError(info.name, f"plugin {info.name!r} " + "; it also ".join(problems))


def _order(usable: dict[str, PluginInfo], failures: list[Failure]) -> list[str]:
    """Dependency order, ties by name; cycles and the plugins needing a failed one move to ``failures``."""
    failed = {f.info.name: f.error for f in failures}
    while True:
        _skip_dependents(usable, failed, failures)
        graph = {name: {dep for dep, _ in info.requires if dep in usable} for name, info in sorted(usable.items())}
        sorter = graphlib.TopologicalSorter(graph)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            for failure in _cycle_failures(usable, exc.args[1]):
                del usable[failure.info.name]
                failures.append(failure)
                failed[failure.info.name] = failure.error
            continue  # drop the cycle, skip its users, look for another
        break
    # get_ready() hands out every ready node at once: a heap keeps ties by name
    ready = list(sorter.get_ready())
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        sorter.done(name)
        for node in sorter.get_ready():
            heapq.heappush(ready, node)
    return order


def _skip_dependents(usable: dict[str, PluginInfo], failed: dict[str, PluginError], failures: list[Failure]) -> None:
    """Move every plugin that requires a failed one (directly or not) to ``failures``, as skipped."""
    changed = True
    while changed:
        changed = False
        for name, info in sorted(usable.items()):
            missing = {dep: failed[dep] for dep, _ in info.requires if dep in failed}
            if missing:
                error = skipped_error(name, missing)
                failures.append(Failure(usable.pop(name), error, state="skipped"))
                failed[name] = error
                changed = True


def _cycle_failures(usable: Mapping[str, PluginInfo], reported: Sequence[str]) -> list[Failure]:
    # graphlib lists a cycle against the requirements (a <- b <- a) and from
    # any node: turn it around and start from the smallest name, so the
    # message is the same on every run
    cycle = list(reversed(reported))[:-1]
    start = cycle.index(min(cycle))
    cycle = cycle[start:] + cycle[:start]
    path = " -> ".join([*cycle, cycle[0]])
    return [
        Failure(
            usable[name],
            PluginCycleError(name, f"plugins require each other in a cycle ({path}); remove one of those requirements"),
        )
        for name in cycle
    ]


def _cached(lookup: DistVersion) -> DistVersion:
    # plugins share most requirements: look each distribution up once
    seen: dict[str, str | None] = {}

    def cached(dist: str) -> str | None:
        if dist not in seen:
            seen[dist] = lookup(dist)
        return seen[dist]

    return cached
