"""The kernel's tables for people and permissions (all named ``crm_*``).

Created by ``crm_core/migrations/0007_users.py``. Plugins never read these
tables: they go through ``crm.authz`` and ``crm.current_user``.
"""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = [
    "ApiToken",
    "RecoveryCode",
    "Role",
    "RolePermission",
    "RoleScope",
    "SecurityAudit",
    "Session",
    "SignInFailure",
    "Team",
    "User",
    "UserRole",
    "UserTeam",
]


class User(Model):
    """A person who uses the CRM. ``name_key`` (the name case-folded) is unique."""

    id = peewee.AutoField()
    name = peewee.CharField(max_length=150)
    name_key = peewee.CharField(max_length=150, unique=True)
    display_name = peewee.CharField(max_length=200, default="")
    email = peewee.CharField(max_length=254, null=True)
    language = peewee.CharField(max_length=35, null=True)
    timezone = peewee.CharField(max_length=64, null=True)
    active = peewee.BooleanField(default=True)
    password_hash = peewee.CharField(max_length=255, null=True)
    totp_secret = peewee.CharField(max_length=64, null=True)
    totp_enabled = peewee.BooleanField(default=False)
    #: the last TOTP time step accepted: a code is never accepted twice
    totp_last_step = peewee.BigIntegerField(null=True)
    created_at = UTCDateTimeField()
    last_sign_in_at = UTCDateTimeField(null=True)
    disabled_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "crm_user"


class Team(Model):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=150)
    name_key = peewee.CharField(max_length=150, unique=True)
    description = peewee.CharField(max_length=500, default="")
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "crm_team"


class UserTeam(Model):
    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    team = peewee.ForeignKeyField(Team, column_name="team_id", on_delete="CASCADE")

    class Meta:
        table_name = "crm_user_team"
        indexes = ((("user", "team"), True),)


class UserRole(Model):
    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    user_id: int  # the id peewee's ForeignKeyField adds, declared for type checkers
    role = peewee.CharField(max_length=40)

    class Meta:
        table_name = "crm_user_role"
        indexes = ((("user", "role"), True), (("role",), False))


class Role(Model):
    """A custom role made with ``crm roles add`` (built-in and config roles are not stored)."""

    name = peewee.CharField(max_length=40, primary_key=True)
    description = peewee.CharField(max_length=500, default="")
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "crm_role"


class RolePermission(Model):
    id = peewee.AutoField()
    role = peewee.ForeignKeyField(Role, column_name="role", on_delete="CASCADE")
    role_id: str  # the id peewee's ForeignKeyField adds, declared for type checkers
    permission = peewee.CharField(max_length=150)

    class Meta:
        table_name = "crm_role_permission"
        indexes = ((("role", "permission"), True),)


class RoleScope(Model):
    id = peewee.AutoField()
    role = peewee.ForeignKeyField(Role, column_name="role", on_delete="CASCADE")
    role_id: str  # the id peewee's ForeignKeyField adds, declared for type checkers
    record_type = peewee.CharField(max_length=150)
    scope = peewee.CharField(max_length=8)

    class Meta:
        table_name = "crm_role_scope"
        indexes = ((("role", "record_type"), True),)


class Session(Model):
    """A server-side sign-in session; the browser holds the key, the table its SHA-256."""

    id = peewee.BigAutoField()
    key_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    user_id: int  # the id peewee's ForeignKeyField adds, declared for type checkers
    created_at = UTCDateTimeField()
    last_seen_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    ended_at = UTCDateTimeField(null=True)
    ended_reason = peewee.CharField(max_length=30, null=True)
    address = peewee.CharField(max_length=100, null=True)

    class Meta:
        table_name = "crm_session"
        indexes = ((("user", "ended_at"), False),)


class ApiToken(Model):
    """An API token: ``prefix`` is shown for recognition, the whole text is kept as SHA-256."""

    id = peewee.AutoField()
    prefix = peewee.CharField(max_length=20, unique=True)
    secret_hash = peewee.CharField(max_length=64)
    user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    #: JSON list of permission names; null: every permission of the user
    scopes = peewee.TextField(null=True)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField(null=True)
    last_used_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "crm_api_token"


class SignInFailure(Model):
    """One failed sign-in, kept for the back-off (per user name and per address)."""

    id = peewee.BigAutoField()
    user_key = peewee.CharField(max_length=150, index=True)
    address = peewee.CharField(max_length=100, null=True, index=True)
    failed_at = UTCDateTimeField(index=True)

    class Meta:
        table_name = "crm_signin_failure"


class RecoveryCode(Model):
    """A single-use two-factor recovery code, kept as SHA-256."""

    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    code_hash = peewee.CharField(max_length=64)
    used_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "crm_recovery_code"
        indexes = ((("user", "code_hash"), True),)


class SecurityAudit(Model):
    """A security event; also emitted as the ``SecurityEvent`` contract event."""

    id = peewee.BigAutoField()
    occurred_at = UTCDateTimeField(index=True)
    action = peewee.CharField(max_length=40, index=True)
    user_id = peewee.IntegerField(null=True, index=True)
    user_name = peewee.CharField(max_length=150, null=True)
    actor = peewee.CharField(max_length=150, null=True)
    address = peewee.CharField(max_length=100, null=True)
    detail = peewee.TextField(default="{}")

    class Meta:
        table_name = "crm_security_audit"
