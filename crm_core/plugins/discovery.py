"""What is installed: plugins read from their distributions' metadata, nothing imported."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "CONTRACT_DIST",
    "ENTRY_POINT_GROUP",
    "InstalledPlugins",
    "PluginInfo",
    "discover",
    "installed_version",
    "load_target",
    "object_plugin",
    "requirements",
    "version_matches",
]

ENTRY_POINT_GROUP = "crm.plugins"
CONTRACT_DIST = "crm-hookspecs"
#: an entry point's value, as importlib.metadata.EntryPoint reads it
_ENTRY_POINT_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


def canonical(dist_name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
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
    #: the ``importlib.metadata`` entry point it was read from (``None`` when read from the discovery cache)
    entry_point: Any = attrs.field(default=None, eq=False, repr=False)


class InstalledPlugins(dict[str, PluginInfo]):
    """The installed plugins by name, as :func:`discover` returns them.

    It also remembers answers to what resolution asks about the
    installation: the installed version of a distribution a plugin requires
    (``versions``) and whether a version matches a specifier (``checks``).
    The discovery cache (:mod:`crm_core.plugins.cache`) fills them, so that a
    cached start-up needs neither ``importlib.metadata`` nor ``packaging``;
    a question not remembered is answered by looking, as without the cache.
    """

    def __init__(
        self,
        plugins: Mapping[str, PluginInfo] | Iterable[tuple[str, PluginInfo]] = (),
        *,
        versions: Mapping[str, str | None] | None = None,
        checks: Mapping[tuple[str, str], bool] | None = None,
    ) -> None:
        super().__init__(plugins)
        self.versions: dict[str, str | None] = dict(versions or {})
        self.checks: dict[tuple[str, str], bool] = dict(checks or {})

    def dist_version(self, dist: str) -> str | None:
        """The installed version of distribution ``dist``, or ``None`` when it is not installed."""
        key = canonical(dist)
        if key not in self.versions:
            self.versions[key] = installed_version(dist)
        return self.versions[key]

    def version_ok(self, version: str, spec: str) -> bool:
        """Whether ``version`` is in the specifier set ``spec`` (an invalid one matches nothing)."""
        key = (version, spec)
        if key not in self.checks:
            self.checks[key] = version_matches(version, spec)
        return self.checks[key]


def discover() -> InstalledPlugins:
    """Every installed plugin, from metadata alone (nothing is imported)."""
    import importlib.metadata as metadata  # tens of milliseconds: not on a cached start-up

    entry_points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    # Distribution.name, .version and .requires each parse METADATA again:
    # parse it once per distribution (this runs on every `crm --help`)
    parsed: dict[int, Any] = {}

    def meta(dist: Any) -> Any:
        if id(dist) not in parsed:
            parsed[id(dist)] = dist.metadata
        return parsed[id(dist)]

    plugin_of_dist = {canonical(meta(ep.dist)["Name"]): ep.name for ep in entry_points if ep.dist is not None}
    found = InstalledPlugins()
    for ep in entry_points:
        dist = ep.dist
        contract = None
        requires: list[tuple[str, str]] = []
        dist_requires: list[tuple[str, str]] = []
        lines = None if dist is None else (meta(dist).get_all("Requires-Dist") or dist.requires)
        for req_name, specifier in requirements(lines):
            name = canonical(req_name)
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
            # two distributions claim one name: keep the first, and let the
            # resolution report the clash if the name is enabled
            found[ep.name] = attrs.evolve(first, claimed_by=(*first.claimed_by, info.dist_name or info.target))
            continue
        found[ep.name] = info
    return found


def load_target(target: str) -> Any:
    """The object an entry point's value names (``"package.module"`` or ``"package.module:attr.attr"``).

    What ``importlib.metadata.EntryPoint.load`` does, for a plugin read from
    the discovery cache, which keeps the value and not the entry point.
    """
    import importlib

    match = _ENTRY_POINT_VALUE.match(target)
    if match is None:
        raise ValueError(
            f"entry point value {target!r} does not look like 'package.module' or 'package.module:attribute'"
        )
    obj = importlib.import_module(match["module"])
    for attr in filter(None, (match["attr"] or "").split(".")):
        obj = getattr(obj, attr)
    return obj


def installed_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or ``None`` when it is not installed."""
    import importlib.metadata as metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def version_matches(version: str, spec: str) -> bool:
    """Whether ``version`` is in the specifier set ``spec``; an invalid version or specifier matches nothing."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) in SpecifierSet(spec)
    except (InvalidSpecifier, InvalidVersion):
        return False


def requirements(lines: Iterable[str] | None) -> list[tuple[str, str]]:
    """``(name, specifier string)`` of each Requires-Dist line that applies here.

    Parsed by ``packaging``, as pip parses them: an optional dependency
    (``; extra == "test"``) or one whose marker does not hold on this Python
    is left out, and so is a line that is not a valid requirement (pip would
    not have installed the distribution with it).
    """
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in lines or ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        out.append((req.name, str(req.specifier)))
    return out


def object_plugin(name: str, obj: Any, requires: Mapping[str, str] | None = None) -> PluginInfo:
    """A :class:`PluginInfo` for a plugin given as an object (tests, embedding)."""
    return PluginInfo(
        name=name,
        target=f"<object {type(obj).__name__}>",
        obj=obj,
        requires=tuple(sorted((requires or {}).items())),
    )
