"""Duplicates and merges (filled in below)."""

from __future__ import annotations


class Merging:
    """The duplicates and merge part of ``crm.plugin("contacts")``."""
