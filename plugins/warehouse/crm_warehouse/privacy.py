"""Deprecated: the warehouse's personal-data functions moved to :mod:`crm_warehouse.personal`.

This module re-exports them under their old names for code written before
the move (``merge`` is now ``merged``, ``unmerge`` ``unmerged``); it goes
away with contract 2.0.
"""

from __future__ import annotations

from crm_warehouse.personal import ERASED, KEPT_FIELDS, erase, export, merged, unmerged

__all__ = ["ERASED", "KEPT_FIELDS", "erase", "export", "merge", "unmerge"]

merge = merged
unmerge = unmerged
