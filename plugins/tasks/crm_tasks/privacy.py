"""Deprecated: the personal-data functions moved to :mod:`crm_tasks.personal` (this shim goes in contract 2.0)."""

from crm_tasks.personal import erase, export, merged, unmerged

__all__ = ["erase", "export", "merged", "unmerged"]
