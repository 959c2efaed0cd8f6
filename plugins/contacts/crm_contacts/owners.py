"""Who owns a contact: the ``owner`` field names a CRM user.

Permissions are checked against the owner's name (``contacts.contact`` is
owned by the user its ``owner`` names), and names are compared exactly, so
an owner is stored as the user's own spelling (``Ana`` given for the user
``ana`` is stored ``ana``). Once the CRM has users, an owner that names
none is refused: such a contact would be nobody's and, for sellers and
support staff, nobody's to see. Before any user exists the field is free
text, as it always was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Owners"]


class Owners:
    """Turns ``owner`` values into user names; one per operation (it remembers the names it resolved)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._names: dict[str, str] = {}
        #: values (casefolded) that name no user: kept as typed while no user exists, refused once one does;
        #: an import asks the database once per name, not once per row
        self._unknown: set[str] = set()
        self._any_user: bool | None = None

    def default(self) -> str | None:
        """The owner of a contact the acting user adds without naming one: that user (``None`` for the system)."""
        user = self.crm.current_user
        return user.name if user is not None else None

    def resolve(self, value: str | None) -> str | None:
        """``value`` as stored: the exact name of the CRM user it names (any case), or the text when no user exists.

        Raises ``ValidationError`` naming the value when users exist and
        none is called so.
        """
        if value is None or not str(value).strip():
            return None
        text = str(value).strip()
        key = text.casefold()
        if key in self._names:
            return self._names[key]
        if key not in self._unknown:
            try:
                name = self.crm.authz.users.get(text).name
            except NotFoundError:
                self._unknown.add(key)
            else:
                self._names[key] = name
                return name
        if not self._users_exist():
            return text  # no users yet: the field is the free text it always was
        raise ValidationError(
            f"owner {text!r} is not a CRM user; name one of 'crm users list', or add it with 'crm users add {text}'"
        )

    def _users_exist(self) -> bool:
        if self._any_user is None:
            self._any_user = bool(self.crm.authz.users.list())
        return self._any_user
