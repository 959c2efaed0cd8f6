"""The HTTP API plugin: the resources every enabled plugin contributes, as JSON under ``/api/v1``.

``create_app(crm)`` returns the API as a Flask WSGI application, to run
alone (``crm api serve``) or to mount inside another WSGI application.
Importing this package imports no web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import flask

__all__ = ["__version__", "create_app"]

__version__ = "0.1.0"


def create_app(crm: Any, **options: Any) -> flask.Flask:
    """The API's WSGI app for ``crm`` (see :func:`crm_api.web.create_app`)."""
    from crm_api.web import create_app as _create_app

    return _create_app(crm, **options)
