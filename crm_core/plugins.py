"""Plugin discovery, dependency resolution and loading.

Discovery reads the installed distributions' metadata (entry points in the
group ``crm.plugins``, their version, and their ``Requires-Dist`` on
``crm-hookspecs`` and on other plugins' distributions) **without importing
anything**. Loading then imports only the enabled plugins, in dependency
order (topological, ties by name), and registers them with pluggy. A plugin
that cannot be loaded is recorded with its error and skipped, together with
the plugins that require it; in strict mode the first such error is raised.
"""

from __future__ import annotations

import heapq
import importlib.metadata as metadata
import re
import traceback
from typing import Any, Mapping, Sequence

import attrs
import pluggy

from crm_core.errors import (
    PluginContractError,
    PluginCycleError,
    PluginDependencyError,
    PluginError,
    PluginImportError,
)

__all__ = ["ENTRY_POINT_GROUP", "LoadedPlugins", "PluginInfo", "PluginRecord", "discover", "load_plugins"]

ENTRY_POINT_GROUP = "crm.plugins"
CONTRACT_DIST = "crm-hookspecs"
#: the kernel's name: its tables are crm_*, so no plugin may be called that
RESERVED_NAME = "crm"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _canonical(dist_name: str) -> str:
    return re.sub(r"[-_.]+", "-", dist_name).lower()


@attrs.frozen
class PluginInfo:
    """What is known about a plugin before importing it."""

    name: str
    target: str
    dist_name: str | None = None
    version: str | None = None
    #: the contract range, as a specifier string (``">=1.0,<2"``), if declared
    contract: str | None = None
    #: required plugins: (plugin name, version specifier string)
    requires: tuple[tuple[str, str], ...] = ()
    #: the other distributions it requires: (distribution name, specifier string)
    dist_requires: tuple[tuple[str, str], ...] = ()
    #: other distributions that claim the same plugin name (an installation error)
    claimed_by: tuple[str, ...] = ()
    #: a plugin handed over as an object (tests, embedding) instead of installed
    obj: Any = attrs.field(default=None, eq=False, repr=False)
    entry_point: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.define
class PluginRecord:
    """A plugin's outcome in one app: ``enabled``, ``failed`` or ``skipped``."""

    info: PluginInfo
    state: str
    error: PluginError | None = None
    traceback: str | None = None
    obj: Any = None
    hooks: tuple[str, ...] = ()

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

    def errors(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.error is not None]


def discover() -> dict[str, PluginInfo]:
    """Every installed plugin, from metadata alone (nothing is imported)."""
    entry_points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    # Distribution.name, .version and .requires each parse METADATA again:
    # parse it once per distribution (this runs on every `crm --help`)
    parsed: dict[int, Any] = {}

    def meta(dist: metadata.Distribution) -> Any:
        if id(dist) not in parsed:
            parsed[id(dist)] = dist.metadata
        return parsed[id(dist)]

    plugin_of_dist: dict[str, str] = {}
    for ep in entry_points:
        if ep.dist is not None:
            plugin_of_dist[_canonical(meta(ep.dist)["Name"])] = ep.name
    found: dict[str, PluginInfo] = {}
    for ep in entry_points:
        dist = ep.dist
        contract = None
        requires: list[tuple[str, str]] = []
        dist_requires: list[tuple[str, str]] = []
        lines = None if dist is None else (meta(dist).get_all("Requires-Dist") or dist.requires)
        for req_name, specifier in _requirements(lines):
            name = _canonical(req_name)
            if name == CONTRACT_DIST:
                contract = specifier or None
            elif name in plugin_of_dist:
                requires.append((plugin_of_dist[name], specifier))
            else:
                dist_requires.append((req_name, specifier))
        info = PluginInfo(
            name=ep.name,
            target=ep.value,
            dist_name=meta(dist)["Name"] if dist is not None else None,
            version=meta(dist)["Version"] if dist is not None else None,
            contract=contract,
            requires=tuple(sorted(requires)),
            dist_requires=tuple(sorted(dist_requires)),
            entry_point=ep,
        )
        first = found.get(ep.name)
        if first is not None and first.dist_name != info.dist_name:
            # two distributions claim one name: keep the first, and let
            # load_plugins report the clash if the name is enabled
            found[ep.name] = attrs.evolve(first, claimed_by=(*first.claimed_by, info.dist_name or info.target))
            continue
        found[ep.name] = info
    return found


# A Requires-Dist line is "name specifiers" or "name specifiers; marker".
# Most lines are plain, or carry only the marker `extra == "x"` that pip
# writes for optional dependencies; both are read here without
# packaging.requirements, whose import (markers, tags: subprocess, sysconfig,
# logging) costs more than the rest of `crm --help`'s plugin discovery.
_REQ_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_REQ_PLAIN_SPEC = re.compile(r"\s*(?:\(([^()]*)\)|([^;\[\]()@]*))\s*$")
_REQ_EXTRA_ONLY = re.compile(r"""\s*extra\s*==\s*(['"])[A-Za-z0-9][A-Za-z0-9._-]*\1\s*$""")


def _requirements(lines: Sequence[str] | None) -> list[tuple[str, str]]:
    """``(name, specifier string)`` of each Requires-Dist line that is not extras-only."""
    out = []
    for line in lines or ():
        head, semicolon, marker = line.partition(";")
        if semicolon and _REQ_EXTRA_ONLY.match(marker):
            continue  # an optional dependency (`extra == "test"`): skipped, valid or not
        parsed = None if semicolon else _plain_requirement(head)
        if parsed is None:
            parsed = _parse_requirement(line)
        if parsed is not None:
            out.append(parsed)
    return out


def _plain_requirement(text: str) -> tuple[str, str] | None:
    """``(name, specifier)`` of a requirement without extras, URL or marker; ``None`` to parse it fully."""
    name = _REQ_NAME.match(text)
    spec = _REQ_PLAIN_SPEC.match(text, name.end()) if name else None
    if spec is None:
        return None
    body = spec[1] if spec[1] is not None else spec[2]
    if body.strip() and any(not part.strip() for part in body.split(",")):
        return None  # an empty clause: let packaging refuse it
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return name[1], str(SpecifierSet(body))
    except InvalidSpecifier:
        return None


def _parse_requirement(line: str) -> tuple[str, str] | None:
    """Any other requirement, with packaging; ``None`` if invalid or extras-only."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    # skip extras-only requirements ("; extra == 'test'")
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return None
    return req.name, str(req.specifier)


def object_plugin(name: str, obj: Any, requires: Mapping[str, str] | None = None) -> PluginInfo:
    """A :class:`PluginInfo` for a plugin given as an object (tests, embedding)."""
    return PluginInfo(
        name=name,
        target=f"<object {type(obj).__name__}>",
        obj=obj,
        requires=tuple(sorted((requires or {}).items())),
    )


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
    objects.
    """
    from crm_hookspecs import CONTRACT_VERSION, specs

    contract_version = contract_version or CONTRACT_VERSION
    if installed is None:
        installed = discover()
    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(specs)
    records: dict[str, PluginRecord] = {}

    def fail(info: PluginInfo, error: PluginError, tb: str | None = None, state: str = "failed") -> None:
        if strict:
            raise error
        records[info.name] = PluginRecord(info=info, state=state, error=error, traceback=tb)

    wanted: dict[str, PluginInfo] = {}
    for item in enabled:
        name = item.name if isinstance(item, PluginInfo) else item
        if name == RESERVED_NAME:
            fail(
                item if isinstance(item, PluginInfo) else PluginInfo(name=name, target="?"),
                PluginError(
                    name,
                    f"{name!r} is the kernel's own name (its tables are {name}_* and its history "
                    f"{name}_schema_migration), so no plugin may use it; rename the plugin",
                ),
            )
            continue
        if isinstance(item, PluginInfo):
            wanted[item.name] = item
            continue
        if not _NAME.match(item):
            fail(
                PluginInfo(name=item, target="?"),
                PluginError(item, f"{item!r} is not a plugin name (lower-case letters, digits and _); fix [plugins] enabled"),
            )
            continue
        info = installed.get(item)
        if info is None:
            known = ", ".join(sorted(installed)) or "none"
            fail(
                PluginInfo(name=item, target="?"),
                PluginError(
                    item,
                    f"plugin {item!r} is enabled in {enabled_source} but not installed "
                    f"(installed: {known}); install it with pip or remove it from the list",
                ),
            )
            continue
        if info.claimed_by:
            fail(
                info,
                PluginError(
                    item,
                    f"plugin name {item!r} is claimed by several installed distributions: "
                    f"{', '.join([info.dist_name or info.target, *info.claimed_by])}; uninstall all but one",
                ),
            )
            continue
        wanted[item] = info

    # contract and dependency checks, on metadata only
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    ok: dict[str, PluginInfo] = {}
    installed_versions: dict[str, Any] = {}  # plugins share most requirements: look each up once
    for name, info in sorted(wanted.items()):
        if info.contract:
            try:
                compatible = Version(contract_version) in SpecifierSet(info.contract)
            except InvalidSpecifier:
                compatible = False
            if not compatible:
                fail(
                    info,
                    PluginContractError(
                        name,
                        f"plugin {name!r} {info.version or ''} needs crm-hookspecs{info.contract} but "
                        f"{contract_version} is installed; install a {name} release made for contract "
                        f"{contract_version}, or a crm-hookspecs{info.contract}".replace(" ' ", " "),
                    ),
                )
                continue
        problem = None
        for dep, spec in info.requires:
            dep_info = installed.get(dep) if dep not in wanted else wanted[dep]
            if dep_info is None:
                problem = f"plugin {name!r} requires plugin {dep!r}, which is not installed; install it (pip install crm-{dep})"
            elif dep not in wanted:
                problem = f"plugin {name!r} requires plugin {dep!r}, which is installed but not enabled; add {dep!r} to [plugins] enabled"
            elif spec and dep_info.version and not _version_ok(dep_info.version, spec):
                problem = (
                    f"plugin {name!r} requires plugin {dep!r} {spec}, but {dep!r} {dep_info.version} is installed; "
                    f"install a matching {dep} release"
                )
            if problem:
                break
        if problem is None:
            problem = _missing_distribution(name, info, installed_versions)
        if problem:
            fail(info, PluginDependencyError(name, problem))
            continue
        ok[name] = info

    order, left = _topological(ok)
    if left:
        cycle = _find_cycle(ok, left)
        path = " -> ".join(cycle + [cycle[0]])
        for name in left:
            if name in cycle:
                fail(ok[name], PluginCycleError(name, f"plugins require each other in a cycle ({path}); remove one of those requirements"))
            else:
                fail(
                    ok[name],
                    PluginDependencyError(name, f"plugin {name!r} was skipped because it requires plugins in a cycle ({path})"),
                    state="skipped",
                )

    registered: list[str] = []
    for name in order:
        info = ok[name]
        failed_dep = next((d for d, _ in info.requires if d in records and records[d].state != "enabled"), None)
        if failed_dep is not None:
            fail(
                info,
                PluginDependencyError(
                    name,
                    f"plugin {name!r} was skipped because plugin {failed_dep!r}, which it requires, "
                    f"could not be loaded: {records[failed_dep].error}",
                ),
                state="skipped",
            )
            continue
        try:
            obj = info.obj if info.obj is not None else info.entry_point.load()
        except Exception as exc:  # any error in third-party code at import
            fail(
                info,
                PluginImportError(
                    name,
                    f"plugin {name!r} ({info.target}) failed to import: {type(exc).__name__}: {exc}; "
                    f"fix or upgrade it, or remove it from [plugins] enabled",
                ),
                traceback.format_exc(),
            )
            continue
        try:
            pm.register(obj, name=name)
        except Exception as exc:  # pluggy.PluginValidationError and friends
            fail(
                info,
                PluginImportError(
                    name,
                    f"plugin {name!r} could not be registered: {exc}; fix its hook implementations",
                ),
                traceback.format_exc(),
            )
            continue
        callers = pm.get_hookcallers(obj) or ()
        unknown = sorted(c.name for c in callers if c.spec is None and c.name.startswith("crm_"))
        if unknown:
            # pluggy accepts hooks it has no spec for (and never calls them):
            # a misspelt hook name would be silently ignored
            pm.unregister(obj, name=name)
            fail(
                info,
                PluginImportError(
                    name,
                    f"plugin {name!r} could not be registered: it implements {', '.join(unknown)}, which "
                    f"{'is not a hook' if len(unknown) == 1 else 'are not hooks'} of the contract "
                    f"{contract_version}; {_did_you_mean(unknown[0], pm)}",
                ),
            )
            continue
        hooks = tuple(sorted(caller.name for caller in callers))
        records[name] = PluginRecord(info=info, state="enabled", obj=obj, hooks=hooks)
        registered.append(name)
    # keep the records in a stable order: registration order, then the rest by name
    ordered = {n: records[n] for n in registered}
    ordered.update({n: records[n] for n in sorted(records) if n not in ordered})
    return LoadedPlugins(pm=pm, records=ordered, order=registered)


_NOT_INSTALLED = object()


def _missing_distribution(name: str, info: PluginInfo, versions: dict[str, Any] | None = None) -> str | None:
    """Why a distribution ``info`` requires (not a plugin) is unusable, or ``None``.

    pip installs what a plugin requires, but ``pip uninstall`` or
    ``--no-deps`` can leave a requirement unmet; say so before the import
    fails in a less clear way. Only enabled plugins are checked. ``versions``
    caches the installed versions across calls.
    """
    versions = {} if versions is None else versions
    for dist, spec in info.dist_requires:
        if dist not in versions:
            try:
                versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                versions[dist] = _NOT_INSTALLED
        version = versions[dist]
        if version is _NOT_INSTALLED:
            return (
                f"plugin {name!r} requires {dist}{spec}, which is not installed; "
                f"install it (pip install '{dist}{spec}')"
            )
        if spec and not _version_ok(version, spec):
            return (
                f"plugin {name!r} requires {dist}{spec}, but {dist} {version} is installed; "
                f"pip install '{dist}{spec}'"
            )
    return None


def _did_you_mean(hook: str, pm: pluggy.PluginManager) -> str:
    import difflib

    names = sorted(n for n in vars(pm.hook) if n.startswith("crm_") and getattr(pm.hook, n).spec is not None)
    close = difflib.get_close_matches(hook, names, n=1)
    if close:
        return f"did you mean {close[0]}? (fix the function's name)"
    return f"the hooks are: {', '.join(names)}"


def _version_ok(version: str, spec: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) in SpecifierSet(spec)
    except (InvalidSpecifier, InvalidVersion):
        return False


def _topological(infos: Mapping[str, PluginInfo]) -> tuple[list[str], list[str]]:
    """Kahn's algorithm with a heap, so ties go by name. Returns (order, names left over)."""
    deps = {name: {d for d, _ in info.requires if d in infos} for name, info in infos.items()}
    users: dict[str, set[str]] = {name: set() for name in infos}
    for name, ds in deps.items():
        for d in ds:
            users[d].add(name)
    remaining = {name: len(ds) for name, ds in deps.items()}
    ready = [name for name, n in remaining.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for user in users[name]:
            remaining[user] -= 1
            if remaining[user] == 0:
                heapq.heappush(ready, user)
    return order, sorted(n for n in infos if n not in order)


def _find_cycle(infos: Mapping[str, PluginInfo], left: Sequence[str]) -> list[str]:
    """One cycle among the leftovers of :func:`_topological`, as a path."""
    deps = {n: sorted(d for d, _ in infos[n].requires if d in left) for n in left}
    path: list[str] = []
    node = left[0]
    while node not in path:
        path.append(node)
        node = deps[node][0]  # every leftover has a leftover dependency
    return path[path.index(node):]
