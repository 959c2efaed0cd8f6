"""Which CRM user the CLI acts as when ``--as`` is not given."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["shell_user", "shell_user_known"]


def shell_user() -> str | None:
    """The operating system's user name (``$LOGNAME``, ``$USER``…), or ``None`` when it cannot be told."""
    try:
        return getpass.getuser()
    except Exception:  # no such variable and no passwd entry (some containers)
        return None


def shell_user_known(app: CRM) -> str | None:
    """The shell user's name when a CRM user has it (any case), else ``None`` (act as the system).

    Costs one query, and builds no roles unless the user exists; a database
    not migrated to users yet has no users.
    """
    name = shell_user()
    if not name:
        return None
    from crm_core import rows as typed_rows
    from crm_core.auth.models import User

    with app.activate():
        if not typed_rows.table_exists(User):
            return None
        row = User.get_or_none(User.name_key == name.casefold())
    return row.name if row is not None else None
