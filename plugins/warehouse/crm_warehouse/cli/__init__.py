"""The warehouse's commands: ``crm sales …`` and ``crm warehouse …``.

Imported only when one of them runs.
"""
