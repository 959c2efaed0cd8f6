"""What is installed: plugins read from their distributions' metadata, nothing imported."""

from __future__ import annotations

import importlib.metadata as metadata
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["CONTRACT_DIST", "ENTRY_POINT_GROUP", "PluginInfo", "discover", "object_plugin", "requirements"]

ENTRY_POINT_GROUP = "crm.plugins"
CONTRACT_DIST = "crm-hookspecs"


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
    entry_point: Any = attrs.field(default=None, eq=False, repr=False)


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

    plugin_of_dist = {canonical(meta(ep.dist)["Name"]): ep.name for ep in entry_points if ep.dist is not None}
    found: dict[str, PluginInfo] = {}
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
