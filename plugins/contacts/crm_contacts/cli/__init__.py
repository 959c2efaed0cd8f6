"""``crm contacts …``: the address book's commands.

Imported only when a ``crm contacts`` command runs. The group is assembled
here from the topic modules' ``COMMANDS`` (no side-effect imports): the
address book itself (:mod:`.book`), imports and exports (:mod:`.transfer`),
lists, segments and mailings (:mod:`.lists`), duplicates, merges and
personal data (:mod:`.admin`), and self-service (:mod:`.selfservice`).
Every listing goes through :func:`crm_core.output.render`; every user error
is a ``CRMError`` that the kernel shows as one line. Commands act as the
kernel's acting user (``crm --as USER``), whose permissions the API checks.
"""

from __future__ import annotations

import click

from crm_contacts.cli import admin, book, lists, selfservice, transfer

__all__ = ["contacts"]


@click.group()
def contacts() -> None:
    """Address book: contacts, imports, lists, duplicates, GDPR."""


for _module in (book, transfer, lists, admin, selfservice):
    for _command in _module.COMMANDS:
        contacts.add_command(_command)
