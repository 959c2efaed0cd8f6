"""Self-service update links."""

from __future__ import annotations


class SelfService:
    """The self-service part of ``crm.plugin("contacts")``."""
