"""``crm demo``: links to try the portal with (``crm portal serve``, then open them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.errors import ConfigError, NotFoundError, ValidationError
from crm_hookspecs.apis import MailingListsAPI, SurveysAPI

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_portal.api import PortalAPI

__all__ = ["load_demo"]


def load_demo(crm: CRM) -> list[str]:
    portal: PortalAPI = crm.plugin("portal")
    lines = ["run 'crm portal serve' and open:"]
    try:
        lines.append(f"  sign-up form: {portal.signup_url()}")
    except NotFoundError:
        lines.append("  (no sign-up form: add one in [[plugins.portal.signup_forms]])")
    members = []
    try:
        members = [
            m
            for m in crm.plugin("contacts", MailingListsAPI).list_members("newsletter", limit=50)  # type: ignore[type-abstract]
            if m.state == "subscribed" and m.email
        ]
    except NotFoundError:
        pass
    if not members:
        return lines + [
            "  (no mailing list 'newsletter' with members: enable the contacts plugin's demo for personal links)"
        ]
    member = members[0]
    lines.append(
        f"  unsubscribe link of {member.display_name}: {portal.unsubscribe_url(member.contact_id, 'newsletter')}"
    )
    try:
        surveys = crm.plugin("surveys", SurveysAPI)  # type: ignore[type-abstract]
        lines.append(
            f"  survey link of {member.display_name}: {surveys.link(surveys.token('customer-satisfaction', member.contact_id))}"
        )
    except (NotFoundError, ValidationError):
        pass
    try:
        # ContactsSelfService's method, with the contacts plugin's own actor= (the contract's has none)
        link = crm.plugin("contacts").issue_update_link(member.contact_id, actor="demo")
        lines.append(f"  update link of {member.display_name}: {link.url}")
    except ConfigError:
        lines.append("  (set plugins.contacts.self_service.secret for a self-service update link)")
    return lines
