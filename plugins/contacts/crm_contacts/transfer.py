"""Imports and exports."""

from __future__ import annotations


class Transfer:
    """The import and export part of ``crm.plugin("contacts")``."""
