"""People and permissions: users, teams, roles, sessions, API tokens, sign-in limits and the security audit.

The models are written out here (not imported from ``crm_core.auth.models``)
so that this migration keeps creating the same tables when the models change
later.
"""

import peewee

TABLES = (
    "crm_security_audit",
    "crm_recovery_code",
    "crm_signin_failure",
    "crm_api_token",
    "crm_session",
    "crm_role_scope",
    "crm_role_permission",
    "crm_role",
    "crm_user_role",
    "crm_user_team",
    "crm_team",
    "crm_user",
)


def up(migrator, db):
    class Base(peewee.Model):
        class Meta:
            database = db

    class User(Base):
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
        totp_last_step = peewee.BigIntegerField(null=True)
        created_at = peewee.DateTimeField()
        last_sign_in_at = peewee.DateTimeField(null=True)
        disabled_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "crm_user"

    class Team(Base):
        id = peewee.AutoField()
        name = peewee.CharField(max_length=150)
        name_key = peewee.CharField(max_length=150, unique=True)
        description = peewee.CharField(max_length=500, default="")
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "crm_team"

    class UserTeam(Base):
        id = peewee.AutoField()
        user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
        team = peewee.ForeignKeyField(Team, column_name="team_id", on_delete="CASCADE")

        class Meta:
            table_name = "crm_user_team"
            indexes = ((("user", "team"), True),)

    class UserRole(Base):
        id = peewee.AutoField()
        user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
        role = peewee.CharField(max_length=40)

        class Meta:
            table_name = "crm_user_role"
            indexes = ((("user", "role"), True), (("role",), False))

    class Role(Base):
        name = peewee.CharField(max_length=40, primary_key=True)
        description = peewee.CharField(max_length=500, default="")
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "crm_role"

    class RolePermission(Base):
        id = peewee.AutoField()
        role = peewee.ForeignKeyField(Role, column_name="role", on_delete="CASCADE")
        permission = peewee.CharField(max_length=150)

        class Meta:
            table_name = "crm_role_permission"
            indexes = ((("role", "permission"), True),)

    class RoleScope(Base):
        id = peewee.AutoField()
        role = peewee.ForeignKeyField(Role, column_name="role", on_delete="CASCADE")
        record_type = peewee.CharField(max_length=150)
        scope = peewee.CharField(max_length=8)

        class Meta:
            table_name = "crm_role_scope"
            indexes = ((("role", "record_type"), True),)

    class Session(Base):
        id = peewee.BigAutoField()
        key_hash = peewee.CharField(max_length=64, unique=True)
        user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
        created_at = peewee.DateTimeField()
        last_seen_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField()
        ended_at = peewee.DateTimeField(null=True)
        ended_reason = peewee.CharField(max_length=30, null=True)
        address = peewee.CharField(max_length=100, null=True)

        class Meta:
            table_name = "crm_session"
            indexes = ((("user", "ended_at"), False),)

    class ApiToken(Base):
        id = peewee.AutoField()
        prefix = peewee.CharField(max_length=20, unique=True)
        secret_hash = peewee.CharField(max_length=64)
        user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
        name = peewee.CharField(max_length=100)
        scopes = peewee.TextField(null=True)
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField(null=True)
        last_used_at = peewee.DateTimeField(null=True)
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "crm_api_token"

    class SignInFailure(Base):
        id = peewee.BigAutoField()
        user_key = peewee.CharField(max_length=150, index=True)
        address = peewee.CharField(max_length=100, null=True, index=True)
        failed_at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = "crm_signin_failure"

    class RecoveryCode(Base):
        id = peewee.AutoField()
        user = peewee.ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
        code_hash = peewee.CharField(max_length=64)
        used_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "crm_recovery_code"
            indexes = ((("user", "code_hash"), True),)

    class SecurityAudit(Base):
        id = peewee.BigAutoField()
        occurred_at = peewee.DateTimeField(index=True)
        action = peewee.CharField(max_length=40, index=True)
        user_id = peewee.IntegerField(null=True, index=True)
        user_name = peewee.CharField(max_length=150, null=True)
        actor = peewee.CharField(max_length=150, null=True)
        address = peewee.CharField(max_length=100, null=True)
        detail = peewee.TextField(default="{}")

        class Meta:
            table_name = "crm_security_audit"

    db.create_tables(
        [
            User,
            Team,
            UserTeam,
            UserRole,
            Role,
            RolePermission,
            RoleScope,
            Session,
            ApiToken,
            SignInFailure,
            RecoveryCode,
            SecurityAudit,
        ]
    )


def down(migrator, db):
    for name in TABLES:  # children before parents, for the foreign keys
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")
