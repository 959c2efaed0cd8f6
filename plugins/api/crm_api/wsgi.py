"""A WSGI entry point for servers that import the app themselves (gunicorn, uWSGI, mod_wsgi).

``make_app()`` builds the CRM from ``$CRM_CONFIG`` (or ``./crm.toml``) in the
process that calls it, so each worker has its own database connections::

    CRM_CONFIG=/etc/crm/crm.toml gunicorn -w 4 'crm_api.wsgi:make_app()'
    waitress-serve --call crm_api.wsgi:make_app

Do not use gunicorn's ``--preload``: it would build the app (and open its
database connection) once, before the workers are forked.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

__all__ = ["make_app"]


def make_app(config: str | None = None) -> Any:
    """The HTTP API's WSGI app for the CRM configured in ``config`` (default ``$CRM_CONFIG``, else ``crm.toml``)."""
    from crm_api import create_app
    from crm_core.app import CRM

    crm = CRM.from_config(config or os.environ.get("CRM_CONFIG") or "crm.toml")
    atexit.register(crm.close)
    return create_app(crm)
