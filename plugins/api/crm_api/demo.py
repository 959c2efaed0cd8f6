"""``crm demo``: a user for integrations, a token for it, and a first call to try."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.errors import NotFoundError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["load_demo"]

DEMO_USER = "integration"


def load_demo(crm: CRM) -> list[str]:
    users = crm.authz.users
    try:
        users.get(DEMO_USER)
    except NotFoundError:
        users.add(DEMO_USER, display_name="Demo integration", email="integration@example.com", roles=["manager"])
    token = crm.authz.tokens.create(DEMO_USER, "demo", days=30)
    base = "http://127.0.0.1:8100/api/v1"
    return [
        f"API token of user {DEMO_USER!r} (manager), valid 30 days: {token.text}",
        "run 'crm api serve', then try:",
        f"  curl -H 'Authorization: Bearer {token.text}' {base}/me",
        f"  curl -H 'Authorization: Bearer {token.text}' '{base}/events?limit=5'",
        f"  the operations: {base}/docs",
    ]
