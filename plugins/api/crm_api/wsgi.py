"""A WSGI entry point for servers that import the app themselves (gunicorn, uWSGI, mod_wsgi).

``make_app()`` builds the CRM from ``$CRM_CONFIG`` (or ``./crm.toml``) in the
process that calls it, so each worker has its own database connections::

    CRM_CONFIG=/etc/crm/crm.toml gunicorn -w 4 'crm_api.wsgi:make_app()'
    waitress-serve --call crm_api.wsgi:make_app

Do not use gunicorn's ``--preload``: it would build the app (and open its
database connection) once, before the workers are forked.

:func:`served_app` is what both this entry point and ``crm api serve`` run:
a process of its own, whose events are delivered as ``[plugins.api]
deliver_events`` says (by ``crm worker`` by default, not in the request).
"""

from __future__ import annotations

import atexit
import os
from typing import Any

__all__ = ["make_app", "served_app"]


def make_app(config: str | None = None) -> Any:
    """The HTTP API's WSGI app for the CRM configured in ``config`` (default ``$CRM_CONFIG``, else ``crm.toml``)."""
    from crm_core.app import CRM

    crm = CRM.from_config(config or os.environ.get("CRM_CONFIG") or "crm.toml")
    atexit.register(crm.close)
    return served_app(crm)


def served_app(crm: Any) -> Any:
    """The API's WSGI app for a process that serves only the API, on a ``crm`` of its own.

    Its requests leave event delivery to ``crm worker`` (``[plugins.api]
    deliver_events = "worker"``, the default): a request that writes
    commits once and answers, instead of also running every event handler
    (the webhooks' queue, the warehouse, task rules) in a second
    transaction before it answers. Mounted in an app of your own,
    ``create_app(crm)`` changes nothing about ``crm``'s delivery.
    """
    from crm_api import create_app

    crm.deliver_events = crm.settings("api").deliver_events
    return create_app(crm)
