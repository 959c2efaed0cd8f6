"""The security audit: a row of ``crm_security_audit`` and a ``SecurityEvent`` per security event."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_core.context import AppContext
    from crm_core.events import EventBus

__all__ = ["ACTIONS", "SecurityAuditLog"]

#: every action the kernel records, with what it means (docs/users.md lists them too)
ACTIONS = {
    "signin.succeeded": "a user signed in",
    "signin.failed": "a sign-in was refused (wrong name, password or code; disabled user; too many failures)",
    "signout": "a session was ended (sign-out, or all sessions of a user)",
    "session.refused": "a disabled user's or an expired session was presented",
    "user.added": "a user was added",
    "user.changed": "a user's name, e-mail, teams or roles were changed",
    "user.disabled": "a user was disabled (their sessions end)",
    "user.enabled": "a user was enabled again",
    "password.changed": "a user's password was set",
    "password.refused": "a wrong current password was given for a change (of the password, of two-factor sign-in)",
    "password.reset_requested": "a forgotten-password link was issued",
    "password.reset_refused": "a forgotten-password link was not issued: too many requests within the hour",
    "password.reset": "a password was set through a forgotten-password link",
    "twofactor.enabled": "a user turned two-factor sign-in on",
    "twofactor.disabled": "a user's two-factor sign-in was turned off",
    "recovery.used": "a two-factor recovery code was used",
    "role.added": "a role was made with crm roles add",
    "role.changed": "a role's permissions or scopes were changed",
    "role.removed": "a role was removed",
    "token.created": "an API token was created",
    "token.used": "an API token was used (at most one entry per token and minute)",
    "token.revoked": "an API token was revoked",
    "token.refused": "an unknown, revoked or expired token, or a disabled user's, was presented",
    "admin.refused": "removing or disabling the last admin was refused",
}


class SecurityAuditLog:
    """``crm.authz.audit``: write and read the security audit.

    Built by ``crm.authz`` with the app context, the event bus its
    ``SecurityEvent`` goes to, and ``actor``, which names the acting user.
    """

    def __init__(self, app: AppContext, *, events: EventBus, actor: Callable[[], str | None]) -> None:
        self._app = app
        self._events = events
        self._actor = actor

    def record(
        self,
        action: str,
        *,
        user_id: int | None = None,
        user_name: str | None = None,
        address: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Write one entry and emit its ``SecurityEvent``, in the current transaction (or its own)."""
        from crm_core.auth.models import SecurityAudit
        from crm_hookspecs.events import SecurityEvent

        if action not in ACTIONS:
            raise ValueError(f"unknown security audit action {action!r}")
        app = self._app
        actor = self._actor()
        detail = dict(detail or {})
        with app.transaction():
            row = SecurityAudit.create(
                occurred_at=app.clock.now(),
                action=action,
                user_id=user_id,
                user_name=user_name,
                actor=actor,
                address=address,
                detail=json.dumps(detail, sort_keys=True, default=str),
            )
            self._events.emit(
                SecurityEvent(
                    audit_id=row.id,
                    action=action,
                    user_id=user_id,
                    user_name=user_name,
                    address=address,
                    detail=detail,
                    actor=actor,
                    channel="staff" if actor else "system",
                )
            )
        return int(row.id)

    def entries(self, *, user: str | None = None, action: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest entries first, optionally of one user name and one action (or prefix ``token.``)."""
        from crm_core.auth.models import SecurityAudit

        with self._app.activate():
            query = SecurityAudit.select().order_by(SecurityAudit.id.desc()).limit(limit)
            if user is not None:
                query = query.where(SecurityAudit.user_name == user)
            if action is not None:
                query = query.where(
                    SecurityAudit.action.startswith(action) if action.endswith(".") else SecurityAudit.action == action
                )
            return [
                {
                    "id": r.id,
                    "occurred_at": r.occurred_at,
                    "action": r.action,
                    "user": r.user_name,
                    "actor": r.actor,
                    "address": r.address,
                    "detail": json.loads(r.detail or "{}"),
                }
                for r in query
            ]
