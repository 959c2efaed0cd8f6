"""The discovery cache: what :func:`~crm_core.plugins.discover` found, kept between runs of ``crm``.

Reading every installed distribution's metadata through ``importlib.metadata``
and checking the plugins' version ranges with ``packaging`` cost about 30 ms
of each ``crm`` command's start (``crm --help`` included). The CLI keeps
what they found in a small JSON file and reads it back while nothing that
could change it has changed.

The key is a fingerprint of the installed distributions' metadata, taken
with a few ``stat`` calls and no parsing: for each entry of ``sys.path``
(the folders ``importlib.metadata`` searches), the name of each
``*.dist-info``, ``*.egg-info`` and ``*.egg`` in it, and the size, time and
inode of that folder, its ``METADATA`` (or ``PKG-INFO``) and its
``entry_points.txt``, and the text of the latter (a few distributions have
one; an edit within the file system's time step at the same size shows). Installing, upgrading or uninstalling a distribution
(pip writes a new ``*.dist-info`` folder), an editable install (which
writes one too; ``pip install -e`` again after changing a plugin's entry
points), and an entry point changed by hand all change the fingerprint, and
the next run reads the metadata anew. ``sys.path`` and the interpreter are
part of the key too.

The file is ``plugins-<checksum>.json``, one per interpreter and
``sys.path``, in ``$CRM_CACHE_DIR``, else
``$XDG_CACHE_HOME/crm``, else ``~/.cache/crm``. Deleting it is always safe;
``CRM_PLUGIN_CACHE=off`` turns the cache off. A file that cannot be read or
written is ignored (the metadata is then read as without the cache), and
the cache steps aside when an import hook other than the standard path
finder can list distributions (its distributions have no files to stat).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from crm_core.plugins.discovery import InstalledPlugins, PluginInfo, canonical, discover

__all__ = ["CACHE_DIR_ENV", "CACHE_SWITCH_ENV", "cache_file", "cached_discover", "clear_cache", "fingerprint"]

#: the folder of the cache file
CACHE_DIR_ENV = "CRM_CACHE_DIR"
#: ``off`` (or ``0``, ``no``, ``false``) turns the cache off
CACHE_SWITCH_ENV = "CRM_PLUGIN_CACHE"
#: bumped when the file's layout changes: an older file is then rebuilt
_FORMAT = 1
_OFF = {"off", "0", "no", "false"}


def cache_file() -> str | None:
    """The cache file of this interpreter and ``sys.path``, or ``None`` when the cache is off or has no home folder."""
    if os.environ.get(CACHE_SWITCH_ENV, "").strip().lower() in _OFF:
        return None
    folder = os.environ.get(CACHE_DIR_ENV)
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        if base.startswith("~"):  # no home folder to expand
            return None
        folder = os.path.join(base, "crm")
    import zlib

    # one file per interpreter and sys.path: the `crm` script and `python -m …` (whose sys.path
    # starts with the current folder) do not overwrite each other's
    key = "\0".join([sys.prefix, sys.executable, sys.version, *sys.path])
    return os.path.join(folder, f"plugins-{zlib.crc32(key.encode()):08x}.json")


def fingerprint(paths: Sequence[str] | None = None) -> list[Any]:
    """The installed distributions' metadata files as ``stat`` sees them, for each entry of ``paths`` (``sys.path``)."""
    out: list[Any] = []
    for entry in sys.path if paths is None else paths:
        root = entry or "."  # importlib.metadata reads "" as the current folder
        try:
            names = os.listdir(root)
        except OSError:
            out.append([entry, _stat(root)])  # a zip file, a path hook's name, or nothing
            continue
        found: list[Any] = [entry, os.path.abspath(root)]
        for name in sorted(names):
            low = name.lower()
            if low.endswith(".dist-info"):
                files = ("METADATA", "entry_points.txt")
            elif low.endswith(".egg-info"):
                files = ("PKG-INFO", "entry_points.txt")
            elif low.endswith(".egg"):
                files = ("EGG-INFO/PKG-INFO", "EGG-INFO/entry_points.txt")
            else:
                continue
            path = os.path.join(root, name)
            points = os.path.join(path, files[1])
            found.append([name, _stat(path), _stat(os.path.join(path, files[0])), _stat(points), _text(points)])
        out.append(found)
    return out


def _text(path: str) -> str | None:
    """A small file's text: an entry point rewritten within the file system's time step, at the same size, still shows."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read(65536)
    except OSError:
        return None


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _other_finders() -> bool:
    """Whether an import hook besides the standard path finder can list distributions."""
    from importlib.machinery import PathFinder

    return any(f is not PathFinder and hasattr(f, "find_distributions") for f in sys.meta_path)


def cached_discover(contract_version: str | None = None) -> InstalledPlugins:
    """:func:`discover`, answered from the cache file while the installed metadata is unchanged.

    On a miss the metadata is read, the version look-ups resolution makes
    for these plugins are answered once (``contract_version``: the
    installed contract's, by default), and the file is written anew.
    """
    path = cache_file()
    if path is None or _other_finders():
        return discover()
    key = {"format": _FORMAT, "path": list(sys.path), "fingerprint": fingerprint()}
    stored = _read(path)
    if stored is not None and stored.get("key") == key:
        try:
            return _from_json(stored)
        except (KeyError, TypeError, ValueError):
            pass  # a file of another shape: read the metadata anew
    installed = discover()
    _answer_lookups(installed, contract_version)
    _write(path, {"key": key, **_to_json(installed)})
    return installed


def clear_cache() -> bool:
    """Delete this interpreter's cache file; whether there was one."""
    path = cache_file()
    if path is None:
        return False
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    return True


def _answer_lookups(installed: InstalledPlugins, contract_version: str | None) -> None:
    """Ask now what resolution will ask about these plugins, so that the answers are cached with them."""
    if contract_version is None:
        from crm_hookspecs import CONTRACT_VERSION

        contract_version = CONTRACT_VERSION
    for info in installed.values():
        if info.contract:
            installed.version_ok(contract_version, info.contract)
        for dep, spec in info.requires:
            dep_info = installed.get(dep)
            if spec and dep_info is not None and dep_info.version:
                installed.version_ok(dep_info.version, spec)
        for dist, spec in info.dist_requires:
            version = installed.dist_version(dist)
            if spec and version is not None:
                installed.version_ok(version, spec)


def _to_json(installed: InstalledPlugins) -> dict[str, Any]:
    return {
        "plugins": [
            {
                "name": info.name,
                "target": info.target,
                "dist_name": info.dist_name,
                "version": info.version,
                "contract": info.contract,
                "requires": [list(r) for r in info.requires],
                "dist_requires": [list(r) for r in info.dist_requires],
                "claimed_by": list(info.claimed_by),
            }
            for info in installed.values()
        ],
        "versions": installed.versions,
        "checks": [[version, spec, ok] for (version, spec), ok in installed.checks.items()],
    }


def _from_json(stored: dict[str, Any]) -> InstalledPlugins:
    plugins = InstalledPlugins(
        versions={canonical(k): v for k, v in stored["versions"].items()},
        checks={(version, spec): bool(ok) for version, spec, ok in stored["checks"]},
    )
    for item in stored["plugins"]:
        plugins[item["name"]] = PluginInfo(
            name=item["name"],
            target=item["target"],
            dist_name=item["dist_name"],
            version=item["version"],
            contract=item["contract"],
            requires=tuple((name, spec) for name, spec in item["requires"]),
            dist_requires=tuple((name, spec) for name, spec in item["dist_requires"]),
            claimed_by=tuple(item["claimed_by"]),
        )
    return plugins


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as file:
            stored = json.load(file)
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) else None


def _write(path: str, data: dict[str, Any]) -> None:
    """Write the file whole or not at all (a reader never sees half of it); a folder that cannot be written is left."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(data, file, separators=(",", ":"))
        os.replace(temporary, path)
    except OSError:
        try:
            os.remove(temporary)
        except OSError:
            pass
