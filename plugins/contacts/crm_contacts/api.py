"""``crm.plugin("contacts")``: the contacts plugin's Python API.

It implements the contract's protocols for the contacts plugin
(:data:`crm_hookspecs.apis.PROTOCOLS`: ``ContactsAPI``, ``ContactsEditing``,
``MailingListsAPI``, ``ContactsSelfService``) and more for its own CLI and
for embedders; each part lives in its own module and is mixed in here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_contacts.book import AddressBook
from crm_contacts.duplicates import Duplicates
from crm_contacts.gdpr import Privacy
from crm_contacts.lists import MailingLists
from crm_contacts.mailings import Mailings
from crm_contacts.merging import Merging
from crm_contacts.models import Contact
from crm_contacts.selfservice import SelfService
from crm_contacts.transfer import Transfer

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["ContactsAPI"]


class ContactsAPI(AddressBook, MailingLists, Mailings, Duplicates, Merging, SelfService, Transfer, Privacy):
    """Everything the contacts plugin offers to Python callers and other plugins."""

    def __init__(self, crm: CRM) -> None:
        super().__init__(crm)

    def __repr__(self) -> str:
        return f"<ContactsAPI of {self.crm!r}>"

    def reporting_tables(self) -> dict[str, str]:
        """The reporting table by role (the contract's ``ContactsAPI``): ``contacts``, columns in docs/plugins/contacts.md."""
        return {"contacts": Contact._meta.table_name}
