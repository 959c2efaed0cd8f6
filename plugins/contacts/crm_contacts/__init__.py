"""The contacts plugin of the CRM framework.

Reach it through the app: ``crm.plugin("contacts")`` returns a
:class:`crm_contacts.api.ContactsAPI`.
"""
