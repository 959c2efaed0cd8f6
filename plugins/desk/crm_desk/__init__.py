"""The desk plugin: the staff web app (sign-in, layout, navigation, home) that every plugin extends with pages.

``create_app(crm)`` returns the desk as a Flask WSGI application, to run
alone (``crm desk serve``) or to mount inside another WSGI application under
a prefix. Importing this package imports no web framework: Flask is
imported when an app is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import flask

    from crm_core.app import CRM

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]


def create_app(crm: CRM, **options: Any) -> flask.Flask:
    """The desk's WSGI app for ``crm`` (see :func:`crm_desk.web.app.create_app`)."""
    from crm_desk.web.app import create_app as _create_app

    return _create_app(crm, **options)
