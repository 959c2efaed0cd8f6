"""Deprecated: the personal-data functions now live in :mod:`crm_contacts.personal`.

Kept until contract 2.0 for code that imports the old names:
``export_contact`` is :func:`crm_contacts.personal.export`, ``erase_contact``
:func:`crm_contacts.personal.erase` and ``personal_values``
:func:`crm_contacts.personal.values`. The ``Privacy`` mixin is gone: its
methods are ``ContactsAPI.export_personal_data`` and ``ContactsAPI.erase``.
"""

from __future__ import annotations

from crm_contacts.personal import erase as erase_contact
from crm_contacts.personal import export as export_contact
from crm_contacts.personal import values as personal_values

__all__ = ["erase_contact", "export_contact", "personal_values"]
