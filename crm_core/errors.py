"""The kernel's errors.

Every error a user can cause is a :class:`CRMError`: it carries a message that
names the thing at fault and the fix, and the exit code the CLI uses. The CLI
prints ``Error: <message>`` on one line and exits with ``exit_code``; with
``--debug`` it shows the traceback too.

::

    CRMError                      exit 1
    ├── ConfigError               exit 2   bad or missing configuration
    ├── PluginError               exit 3   a plugin failed to load or resolve
    │   ├── PluginNotInstalledError        an enabled name is not an installed plugin
    │   ├── PluginImportError              its import or registration raised
    │   ├── PluginDependencyError          a required plugin is missing, failed or too old
    │   ├── PluginContractError            it needs another contract version
    │   └── PluginCycleError               plugins require each other in a cycle
    ├── StorageError              exit 4   the database cannot be used
    │   ├── MigrationError                 a migration failed (its changes were undone)
    │   ├── DatabaseUnavailableError       the database cannot be opened or reached
    │   ├── ConnectionLostError            the connection broke during a transaction or statement
    │   └── QueryError                     the database refused a statement (read-only, full, missing table…)
    │       └── ConstraintError            a change broke a constraint (duplicate key, missing reference)
    ├── AppContextError           exit 1   model used with no app, or with several
    ├── EventError                exit 1   an event cannot be emitted or delivered
    ├── NotFoundError             exit 5   a record named by the user does not exist
    ├── PermissionDenied          exit 6   the acting user lacks a permission or scope (HTTP 403)
    └── AuthenticationError       exit 7   a sign-in, session or token was refused (HTTP 401)
        ├── UserDisabledError              the user is disabled
        ├── TwoFactorRequired              the password was right; a two-factor code is needed (``ticket``)
        ├── TokenUnknownError              no such API token
        ├── TokenRevokedError              the token was revoked
        └── TokenExpiredError              the token's expiry has passed

Every error carries a stable ``code`` (``"not_found"``, ``"invalid_input"``,
``"permission_denied"``, ``"token_expired"``…) and the ``http_status`` the
web apps and the HTTP API answer with; the message is for people, the code
for programs. A subclass without its own keeps its parent's.
"""

from __future__ import annotations

__all__ = [
    "AppContextError",
    "AuthenticationError",
    "CRMError",
    "ConfigError",
    "ConnectionLostError",
    "ConstraintError",
    "DatabaseUnavailableError",
    "EventError",
    "MigrationError",
    "NotFoundError",
    "PermissionDenied",
    "PluginContractError",
    "PluginCycleError",
    "PluginDependencyError",
    "PluginError",
    "PluginImportError",
    "PluginNotInstalledError",
    "QueryError",
    "StorageError",
    "TokenExpiredError",
    "TokenRevokedError",
    "TokenUnknownError",
    "UserDisabledError",
    "ValidationError",
]


class CRMError(Exception):
    """Base of the errors a user can cause; ``str(err)`` is the one-line message."""

    code = "error"
    http_status = 500

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(CRMError):
    """The configuration file or a value in it is wrong."""

    code = "config_error"
    http_status = 500

    exit_code = 2


class ValidationError(CRMError):
    """A value given by the user (CLI option, API argument, import row) is invalid.

    ``field`` names the field it is about, when one is, and ``reason`` says
    what is wrong with it without naming it (a :class:`crm_core.i18n.Message`
    where the plugin wrote one, which a web form shows beside the field in the
    user's language); ``str(err)`` is the whole message, as before.
    """

    code = "invalid_input"
    http_status = 422

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class PluginError(CRMError):
    """A plugin could not be loaded; ``plugin`` names it."""

    code = "plugin_error"
    http_status = 500

    exit_code = 3

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(message)
        self.plugin = plugin


class PluginNotInstalledError(PluginError):
    """A name in the enabled list is not an installed plugin (a typo, or it was uninstalled).

    Unlike the other plugin errors this is a mistake in the list itself, so an
    app refuses to start with it, strict or not (``CRM(plugins=["taks"])``).
    """


class PluginImportError(PluginError):
    """Importing or registering the plugin raised."""


class PluginDependencyError(PluginError):
    """A plugin that this one requires is missing, failed, disabled or of the wrong version."""


class PluginContractError(PluginError):
    """The plugin was written for a contract version that is not installed."""


class PluginCycleError(PluginError):
    """Plugins require each other in a cycle."""


class StorageError(CRMError):
    """The database URL is wrong or the database cannot be reached."""

    code = "storage_error"
    http_status = 500

    exit_code = 4


class MigrationError(StorageError):
    """A migration failed; the plugin's tables are as they were before it."""


# The database errors below are raised by the kernel's database layer
# (crm_core.database) in place of peewee's and the drivers': each one raised
# there is also the peewee exception it replaces (``ConstraintError`` is a
# ``peewee.IntegrityError``, the others ``peewee.OperationalError``…), so
# code that catches peewee's keeps working. They are declared here without
# peewee so that importing this module stays cheap.


class DatabaseUnavailableError(StorageError):
    """The database cannot be opened or reached (server down, wrong password, missing folder)."""

    code = "database_unavailable"
    http_status = 503


class ConnectionLostError(StorageError):
    """The connection to the database server broke while a transaction or statement ran.

    The server rolled the transaction back, so nothing of it was saved
    (unless the message says the commit's outcome is unknown); the next
    transaction opens a new connection, so running it again is the fix.
    """

    code = "connection_lost"
    http_status = 503


class QueryError(StorageError):
    """The database refused a statement: a read-only file, a full disk, a missing table, a bad value."""

    code = "query_failed"
    http_status = 500


class ConstraintError(QueryError):
    """A change broke a unique, foreign-key or not-null constraint of the database."""

    code = "conflict"
    http_status = 409


class AppContextError(CRMError):
    """A model was used where no app, or more than one, could be meant."""

    code = "app_context"
    http_status = 500


class EventError(CRMError):
    """An event cannot be emitted or delivered."""

    code = "event_error"
    http_status = 500


class NotFoundError(CRMError):
    """A record the user named does not exist."""

    code = "not_found"
    http_status = 404

    exit_code = 5


class PermissionDenied(CRMError):
    """The acting user may not do this; the message names the permission (or scope) missing.

    ``permission`` is the permission checked; ``code`` is stable for programs.
    ``record`` is true when the user holds the permission but the record is
    out of their scope (the HTTP API answers that with ``404``, so record
    ids do not leak).
    """

    exit_code = 6
    http_status = 403
    code = "permission_denied"

    def __init__(self, message: str, permission: str | None = None, *, record: bool = False) -> None:
        super().__init__(message)
        self.permission = permission
        self.record = record


class AuthenticationError(CRMError):
    """A sign-in, session or API token was refused; ``code`` says why.

    Codes: ``invalid_credentials``, ``signin_throttled``, ``otp_required``,
    ``invalid_otp``, ``session_invalid``, ``session_expired``, and those of
    the subclasses below.
    """

    exit_code = 7
    http_status = 401

    def __init__(self, message: str, code: str = "invalid_credentials") -> None:
        super().__init__(message)
        self.code = code


class TwoFactorRequired(AuthenticationError):
    """The password was right and the user has two-factor sign-in: ask for a code.

    ``ticket`` (code ``otp_required``) lets a web page finish the sign-in
    with the code alone (``sessions.sign_in_with_ticket``), so that it need
    not keep the password; it expires after a few minutes.
    """

    def __init__(self, message: str, ticket: str) -> None:
        super().__init__(message, "otp_required")
        self.ticket = ticket


class UserDisabledError(AuthenticationError):
    """The user (of a password, session or token) is disabled."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "user_disabled")


class TokenUnknownError(AuthenticationError):
    """No API token has this text (mistyped, or deleted)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "token_unknown")


class TokenRevokedError(AuthenticationError):
    """The API token was revoked."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "token_revoked")


class TokenExpiredError(AuthenticationError):
    """The API token's expiry has passed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "token_expired")
