"""``[plugins.campaigns]``: the plugin's settings, validated by the kernel with cattrs."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["CampaignSettings"]


@attrs.frozen
class CampaignSettings:
    """``[plugins.campaigns]``."""

    #: the From address of campaign mail; empty: ``[crm.mail] sender``
    sender: str = attrs.field(default="")
    #: how long after a campaign mail reached a contact an unsubscribe through
    #: his link (from the send's list, or from all mail) is counted for that send
    unsubscribe_window_days: int = attrs.field(default=30)
    #: put before the subject of a test mail
    test_prefix: str = "[Test] "

    @sender.validator
    def _check_sender(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value:
            from crm_core.mail import parse_address

            parse_address(value, "plugins.campaigns.sender")

    @unsubscribe_window_days.validator
    def _check_window(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if value < 1:
            raise ValueError(f"must be 1 or more days, not {value!r}")
