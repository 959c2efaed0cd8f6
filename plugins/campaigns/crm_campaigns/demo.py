"""``crm demo``: one draft campaign, ready to preview, test and send to the demo's newsletter list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_campaigns.models import Campaign

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["load_demo"]

NAME = "December newsletter"
SUBJECT = "{{ first_name or display_name }}, what is new this December"
TEXT = """Hello {{ first_name or display_name }},

here is what changed at our shop this month.

{% if status == "customer" %}Thank you for being a customer.{% else %}Ask us for a quote any time.{% endif %}

Best regards,
The team
"""
HTML = """<p>Hello {{ first_name or display_name }},</p>
<p>here is what changed at our shop this month.</p>
<p>{% if status == "customer" %}Thank you for being a customer.{% else %}Ask us for a quote any time.{% endif %}</p>
<p>Best regards,<br>The team</p>
"""


def load_demo(crm: CRM) -> list[str]:
    with crm.activate():
        if Campaign.get_or_none(Campaign.name == NAME) is not None:
            return [f"campaigns: the draft campaign {NAME!r} is there already"]
    crm.plugin("campaigns").create(NAME, SUBJECT, TEXT, HTML)
    return [f"campaigns: a draft campaign {NAME!r} (preview it, test it, send it to a list)"]
