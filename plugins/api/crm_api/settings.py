"""``[plugins.api]``: the HTTP API's settings, validated by the kernel with cattrs."""

from __future__ import annotations

import re
from typing import Any

import attrs

__all__ = ["ApiSettings", "parse_rate"]

_RATE = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour)\s*\Z")
_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
_ORIGIN = re.compile(r"https?://[^/\s]+\Z")


def parse_rate(text: str) -> tuple[int, int]:
    """``"600/minute"`` -> ``(600, 60)``. Raises ValueError naming the form expected."""
    match = _RATE.match(text or "")
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f'{text!r} is not a rate; write it like "600/minute", "20/second" or "10000/hour"')
    return int(match.group(1)), _SECONDS[match.group(2)]


def _rate(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    parse_rate(value)


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"must be at least 1, not {value!r}")


def _origins(instance: Any, attribute: attrs.Attribute[list[str]], value: list[str]) -> None:
    for origin in value:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ValueError(f"{origin!r} is not an origin; write it as https://shop.example.com (no path), or '*'")


def _delivery(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("worker", "after-commit"):
        raise ValueError(f"is 'worker' or 'after-commit', not {value!r}")


def _networks(instance: Any, attribute: attrs.Attribute[list[str]], value: list[str]) -> None:
    import ipaddress

    for network in value:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{network!r} is not a network; write it as 10.0.0.0/8 or 127.0.0.1/32") from None


@attrs.define
class ApiSettings:
    """The ``[plugins.api]`` table of ``crm.toml``."""

    #: requests per API token (and, before a token is read, per client address) in each window
    rate_limit: str = attrs.field(default="600/minute", validator=_rate)
    #: the largest request body accepted, in kilobytes (413 above it)
    max_body_kb: int = attrs.field(default=1024, validator=_positive)
    #: origins whose browser scripts may call the API (CORS); empty: none, the default
    cors_origins: list[str] = attrs.field(factory=list, validator=_origins)
    #: how many proxies in front of the API set X-Forwarded-For/-Proto/-Host (0: trust none)
    trusted_proxies: int = 0
    #: how long a stored Idempotency-Key answer is replayed, in hours
    idempotency_hours: int = attrs.field(default=24, validator=_positive)
    #: private or local networks webhooks may post to (CIDR: "10.0.0.0/8", "127.0.0.1/32"); none by default
    webhook_private_targets: list[str] = attrs.field(factory=list, validator=_networks)
    #: who delivers the events a request emits, in a process serving the API (``crm api serve``,
    #: ``crm_api.wsgi``): "worker" (``crm worker``; the request does not wait for the handlers)
    #: or "after-commit" (the request, before it answers)
    deliver_events: str = attrs.field(default="worker", validator=_delivery)
