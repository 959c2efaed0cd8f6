"""What can be granted: the declared permissions and record types, and the roles.

Plugins declare permissions and owned record types through the
``crm_permissions`` hook; the kernel declares its own ``admin.*``
permissions. Roles come from three places: the built-in ones below, the
``[[crm.roles]]`` tables of the configuration, and those made with ``crm
roles add`` (kept in ``crm_role``). A role grants permission names or
patterns (``*.read``; a leading ``!`` takes matching names away) and, per
owned record type, a scope.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import ConfigError, PluginError
from crm_hookspecs.records import PermissionSpec, RecordTypeSpec

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = ["BUILTIN_ROLES", "KERNEL_PERMISSIONS", "Declarations", "RoleDef", "SCOPES", "check_role", "grants_of"]

SCOPES = ("own", "team", "all")
_RANK = {scope: i for i, scope in enumerate(SCOPES)}
#: a role that names no scope for a record type reaches only the user's own records
DEFAULT_SCOPE = "own"

KERNEL_PERMISSIONS = (
    PermissionSpec("admin.users", "Add, edit, disable and enable users and teams; set their passwords."),
    PermissionSpec("admin.roles", "Define roles and give roles to users."),
    PermissionSpec("admin.tokens", "Create, list and revoke other users' API tokens."),
    PermissionSpec("admin.audit", "Read the security audit."),
    PermissionSpec(
        "admin.system",
        "See the plugins, checks, migrations, mail queue, jobs and event failures; retry failed mail and deliveries.",
    ),
)


@attrs.frozen
class RoleDef:
    """A role: what it grants, and its scope per record type (``"*"``: every other type)."""

    name: str
    description: str = ""
    permissions: tuple[str, ...] = ()
    scopes: Mapping[str, str] = attrs.field(factory=dict)
    #: ``built-in``, ``config`` or ``database``
    source: str = "built-in"

    def grants(self, permission: str) -> bool:
        granted = False
        for pattern in self.permissions:
            if pattern.startswith("!"):
                if fnmatch.fnmatchcase(permission, pattern[1:]):
                    return False
            elif fnmatch.fnmatchcase(permission, pattern):
                granted = True
        return granted

    def scope_for(self, record_type: str) -> str:
        return self.scopes.get(record_type) or self.scopes.get("*") or DEFAULT_SCOPE


BUILTIN_ROLES: dict[str, RoleDef] = {
    role.name: role
    for role in (
        RoleDef("admin", "Everything, on every record.", ("*",), {"*": "all"}),
        RoleDef("manager", "Everything but administration, on every record.", ("*", "!admin.*"), {"*": "all"}),
        RoleDef(
            "sales",
            "Read, create, edit and export their own records; run reports on them.",
            ("*.read", "*.create", "*.edit", "*.export", "*.run"),
            {"*": "own"},
        ),
        RoleDef(
            "support",
            "Read, create and edit their teams' records; run reports on them.",
            ("*.read", "*.create", "*.edit", "*.run"),
            {"*": "team"},
        ),
        RoleDef("read-only", "Read every record and run reports.", ("*.read", "*.run"), {"*": "all"}),
    )
}


def _is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


@attrs.define
class Declarations:
    """The permissions and record types of the kernel and the enabled plugins."""

    permissions: dict[str, PermissionSpec]
    record_types: dict[str, RecordTypeSpec]
    #: permission or record type name -> the plugin that declared it ("crm" for the kernel)
    owners: dict[str, str]

    @classmethod
    def collect(cls, app: AppContext) -> Declarations:
        permissions: dict[str, PermissionSpec] = {p.name: p for p in KERNEL_PERMISSIONS}
        record_types: dict[str, RecordTypeSpec] = {}
        owners = {p.name: "crm" for p in KERNEL_PERMISSIONS}
        found = app.hooks.permissions()
        for plugin, spec in found:
            if spec.name.split(".", 1)[0] != plugin:
                raise PluginError(
                    plugin,
                    f"plugin {plugin!r}: crm_permissions declares {spec.name!r}; its names must start with {plugin + '.'!r}",
                )
            if spec.name in owners:
                raise PluginError(plugin, f"plugin {plugin!r}: crm_permissions declares {spec.name!r} twice")
            owners[spec.name] = plugin
            if isinstance(spec, RecordTypeSpec):
                record_types[spec.name] = spec
            else:
                permissions[spec.name] = spec
        for name, spec in permissions.items():
            if spec.record_type is not None and owners.get(spec.record_type) != owners[name]:
                plugin = owners[name]
                raise PluginError(
                    plugin,
                    f"plugin {plugin!r}: permission {name!r} names record type {spec.record_type!r}, which the plugin does "
                    "not declare; add RecordTypeSpec(" + repr(spec.record_type) + ") to its crm_permissions",
                )
        return cls(permissions, record_types, owners)

    def granted_by(self, role: RoleDef) -> list[str]:
        return sorted(p for p in self.permissions if role.grants(p))


def grants_of(roles: Iterable[RoleDef], declared: Declarations) -> dict[str, str]:
    """Permission -> scope for a user holding ``roles`` (the widest scope of the roles that grant it).

    Permissions without a record type get ``"all"``.
    """
    out: dict[str, str] = {}
    roles = list(roles)
    for name, spec in declared.permissions.items():
        best: str | None = None
        for role in roles:
            if not role.grants(name):
                continue
            scope = "all" if spec.record_type is None else role.scope_for(spec.record_type)
            if best is None or _RANK[scope] > _RANK[best]:
                best = scope
        if best is not None:
            out[name] = best
    return out


def check_role(role: RoleDef, declared: Declarations, installed: Iterable[str], where: str) -> list[str]:
    """Check a role's names against the declarations; raise on unknown ones, return warnings.

    An exact name whose plugin is enabled but does not declare it, or whose
    first word names neither the kernel (``admin``) nor an installed plugin,
    is unknown: a :class:`ConfigError` naming it and the near names. A name
    of a plugin that is installed but not enabled (it grants nothing until
    the plugin is enabled), and a pattern that matches no declared
    permission, are warnings.
    """
    installed = set(installed)
    enabled = set(declared.owners.values())
    warnings: list[str] = []

    def check(name: str, known: Mapping[str, Any], kind: str) -> None:
        if name == "*" or name in known:
            return
        if _is_pattern(name):
            if not any(fnmatch.fnmatchcase(k, name) for k in known):
                warnings.append(
                    f"{where}: {kind} pattern {name!r} matches no declared {kind} (of the enabled plugins); it grants nothing"
                )
            return
        prefix = name.split(".", 1)[0]
        near = difflib.get_close_matches(name, list(known), n=3)
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else "; `crm roles permissions` lists them"
        if prefix == "admin" or prefix in enabled:
            owner = "the kernel" if prefix == "admin" else f"plugin {prefix!r}"
            raise ConfigError(f"{where}: unknown {kind} {name!r}: {owner} declares no such {kind}{hint}")
        if prefix in installed:
            warnings.append(
                f"{where}: {kind} {name!r} belongs to plugin {prefix!r}, which is installed but not enabled; it grants nothing until the plugin is enabled"
            )
            return
        raise ConfigError(f"{where}: unknown {kind} {name!r}: no installed plugin is named {prefix!r}{hint}")

    for pattern in role.permissions:
        check(pattern.lstrip("!"), declared.permissions, "permission")
    for record_type, scope in role.scopes.items():
        if scope not in SCOPES:
            raise ConfigError(f"{where}: scope of {record_type!r} must be 'own', 'team' or 'all', not {scope!r}")
        check(record_type, declared.record_types, "record type")
    return warnings
