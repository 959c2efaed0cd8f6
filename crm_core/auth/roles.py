"""Roles by name: built in, from ``[[crm.roles]]``, or made with ``crm roles add`` (``crm.authz.roles``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from crm_core.auth.registry import BUILTIN_ROLES, RoleDef, check_role
from crm_core.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from crm_core.auth.authz import Authz
    from crm_core.context import AppContext

__all__ = ["Roles"]


class Roles:
    """Built-in, configured and stored roles, by name."""

    def __init__(self, app: AppContext, authz: Authz) -> None:
        self._app = app
        self._authz = authz
        #: stored roles read for a user's grants, by the names asked: (generation, roles); see definitions
        self._kept: dict[tuple[str, ...], tuple[int, dict[str, RoleDef]]] = {}

    def _stored_kept(self, names: list[str]) -> dict[str, RoleDef]:
        """:meth:`_stored`, kept between requests while the database announces no change (PostgreSQL)."""
        generation = self._authz.kept_generation()
        if generation is None:
            return self._stored(names)
        key = tuple(names)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == generation:
            return kept[1]
        roles = self._stored(names)
        if self._authz.still_kept(generation):
            if len(self._kept) >= 256:
                self._kept = {}
            self._kept[key] = (generation, roles)
        return roles

    def _stored(self, names: Iterable[str] | None = None) -> dict[str, RoleDef]:
        from crm_core.auth.models import Role, RolePermission, RoleScope

        with self._app.activate():
            query = Role.select()
            if names is not None:
                names = list(names)
                if not names:
                    return {}
                query = query.where(Role.name.in_(names))
            roles = {r.name: r for r in query}
            if not roles:
                return {}
            perms: dict[str, list[str]] = {}
            for p in RolePermission.select().where(RolePermission.role.in_(list(roles))).order_by(RolePermission.id):
                perms.setdefault(p.role_id, []).append(p.permission)
            scopes: dict[str, dict[str, str]] = {}
            for s in RoleScope.select().where(RoleScope.role.in_(list(roles))):
                scopes.setdefault(s.role_id, {})[s.record_type] = s.scope
        return {
            name: RoleDef(name, r.description, tuple(perms.get(name, ())), scopes.get(name, {}), "database")
            for name, r in roles.items()
        }

    def all(self) -> list[RoleDef]:
        roles = {**BUILTIN_ROLES, **self._authz.config_roles}
        roles.update({k: v for k, v in self._stored().items() if k not in roles})
        return list(roles.values())

    def definitions(self, names: Iterable[str], *, missing_ok: bool = False, kept: bool = False) -> list[RoleDef]:
        """The roles named; an unknown name is a :class:`ValidationError` (or skipped with ``missing_ok``).

        With ``kept`` (a user's grants, on every request) stored roles read
        earlier are used again while the database announces no change to
        roles (:meth:`Authz.kept_generation`); changes read afresh.
        """
        names = list(dict.fromkeys(names))
        known = {**BUILTIN_ROLES, **self._authz.config_roles}
        rest = [n for n in names if n not in known]
        stored = (self._stored_kept(rest) if kept else self._stored(rest)) if rest else {}
        out = []
        for name in names:
            role = known.get(name) or stored.get(name)
            if role is None:
                if missing_ok:
                    continue
                every = sorted({r.name for r in self.all()})
                raise ValidationError(
                    f"unknown role {name!r}; the roles are: {', '.join(every)} ('crm roles add' makes one)"
                )
            out.append(role)
        return out

    def get(self, name: str) -> RoleDef:
        return self.definitions([name])[0]

    def _validated(self, role: RoleDef) -> list[str]:
        from crm_core.plugins import discover

        try:
            return check_role(role, self._authz.declared, discover(), f"role {role.name!r}")
        except ConfigError as exc:
            raise ValidationError(str(exc)) from None

    def add(
        self,
        name: str,
        *,
        description: str = "",
        permissions: Sequence[str] = (),
        scopes: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Make a stored role; return warnings (names of installed but disabled plugins, patterns matching nothing)."""
        from crm_core.auth.models import Role
        from crm_core.config import RoleSettings

        self._authz.require("admin.roles")
        try:
            RoleSettings(name=name, description=description, permissions=list(permissions), scopes=dict(scopes or {}))
        except ValueError as exc:
            raise ValidationError(f"role {name!r}: {exc}") from None
        if name in self._authz.config_roles:
            raise ValidationError(
                f"role {name!r} is defined in {self._app.config.source}; change it there, or choose another name"
            )
        role = RoleDef(name, description, tuple(dict.fromkeys(permissions)), dict(scopes or {}), "database")
        warnings = self._validated(role)
        now = self._app.clock.now()
        with self._app.transaction():
            if Role.get_or_none(Role.name == name) is not None:
                raise ValidationError(f"role {name!r} exists; change it with 'crm roles edit {name}'")
            Role.create(name=name, description=description, created_at=now, updated_at=now)
            self._write(role)
            self._authz.audit.record(
                "role.added", detail={"role": name, "permissions": list(role.permissions), "scopes": dict(role.scopes)}
            )
        return warnings

    def _write(self, role: RoleDef) -> None:
        from crm_core.auth.models import RolePermission, RoleScope

        RolePermission.delete().where(RolePermission.role == role.name).execute()
        RoleScope.delete().where(RoleScope.role == role.name).execute()
        if role.permissions:
            RolePermission.insert_many([{"role": role.name, "permission": p} for p in role.permissions]).execute()
        if role.scopes:
            RoleScope.insert_many(
                [{"role": role.name, "record_type": t, "scope": s} for t, s in role.scopes.items()]
            ).execute()

    def _stored_role(self, name: str) -> RoleDef:
        role = self.get(name)
        if role.source != "database":
            where = "is built in" if role.source == "built-in" else f"is defined in {self._app.config.source}"
            raise ValidationError(
                f"role {name!r} {where} and cannot be changed here; make a role of your own with 'crm roles add'"
            )
        return role

    def edit(
        self,
        name: str,
        *,
        grant: Sequence[str] = (),
        revoke: Sequence[str] = (),
        scopes: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> list[str]:
        from crm_core.auth.models import Role

        self._authz.require("admin.roles")
        old = self._stored_role(name)
        missing = [p for p in revoke if p not in old.permissions]
        if missing:
            raise ValidationError(
                f"role {name!r} does not grant {missing[0]!r} (it grants: {', '.join(old.permissions) or 'nothing'})"
            )
        permissions = tuple(p for p in old.permissions if p not in revoke) + tuple(
            p for p in grant if p not in old.permissions
        )
        new_scopes = {**old.scopes, **(scopes or {})}
        role = RoleDef(
            name, old.description if description is None else description, permissions, new_scopes, "database"
        )
        warnings = self._validated(role)
        if old.grants("admin.roles") and not role.grants("admin.roles"):
            holders = self._authz.users._admin_ids()
            others = {u for u in holders} - self._holders_ids(name)
            if not others and holders:
                self._authz.audit.record("admin.refused", detail={"role": name, "attempt": "revoke admin.roles"})
                raise ValidationError(
                    f"cannot take admin rights from role {name!r}: only its holders are admins; give another user the admin role first"
                )
        with self._app.transaction():
            Role.update(description=role.description, updated_at=self._app.clock.now()).where(
                Role.name == name
            ).execute()
            self._write(role)
            self._authz.audit.record(
                "role.changed",
                detail={"role": name, "permissions": list(role.permissions), "scopes": dict(role.scopes)},
            )
        return warnings

    def _holders_ids(self, name: str) -> set[int]:
        from crm_core.auth.models import UserRole

        with self._app.activate():
            return {r.user_id for r in UserRole.select(UserRole.user).where(UserRole.role == name)}

    def remove(self, name: str) -> None:
        """Remove a stored role; refused while users hold it."""
        from crm_core.auth.models import Role, User, UserRole

        self._authz.require("admin.roles")
        self._stored_role(name)
        with self._app.activate():
            holders = [u.name for u in User.select(User.name).join(UserRole).where(UserRole.role == name)]
        if holders:
            raise ValidationError(
                f"role {name!r} is held by {', '.join(holders)}; take it from them first ('crm users edit NAME --remove-role {name}')"
            )
        with self._app.transaction():
            Role.delete().where(Role.name == name).execute()
            self._authz.audit.record("role.removed", detail={"role": name})
