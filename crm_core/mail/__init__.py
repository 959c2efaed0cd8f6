"""Outgoing mail: a queue in the database, transports, delivery with retries.

::

    crm.mail.queue("Ana <ana@example.com>", "Welcome", "Hello Ana", key=f"welcome:{contact_id}")
    crm.mail.queue_many(OutgoingMessage(to, subject, text, key=...) for ...)
    crm.mail.deliver()                 # the worker's crm.mail job does this

The names below are imported on first use, so that the configuration can
check an address (``crm_core.mail.address``) without loading the queue.
See ``docs/mail.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Address": "address",
    "parse_address": "address",
    "parse_addresses": "address",
    "Attachment": "message",
    "OutgoingMessage": "message",
    "build_message": "message",
    "DeliveryReport": "delivery",
    "Mailer": "mailer",
    "QueuedMessage": "mailer",
    "Envelope": "transports",
    "FileTransport": "transports",
    "MemoryTransport": "transports",
    "SendResult": "transports",
    "SentMessage": "transports",
    "SmtpTransport": "transports",
    "Transport": "transports",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crm_core.mail' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"crm_core.mail.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
