"""Rendering pages and error pages (no traceback ever reaches the browser)."""

from __future__ import annotations

from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = ["error_page", "page"]

#: what each status means to the person who sees it
_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You may not open this page."),
    404: N_("There is no such page."),
    405: N_("This page does not take that kind of request."),
    410: N_("This link no longer works."),
    413: N_("What you sent is too large."),
    429: N_("Too many attempts; wait a moment and try again."),
    500: N_("Something went wrong on our side; it has been logged. Try again in a moment."),
}
_CSRF_MESSAGE = N_("This form has expired or was not sent from the desk. Reload the page and send it again.")


def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    """Render ``template`` with ``values`` (and what every page sees) with ``status``."""
    return flask.render_template(template, **values), status


def error_page(exc: HTTPException, detail: str | None = None) -> Any:
    """The page for an HTTP error: its status, a message in the user's language, and nothing internal."""
    from crm_core.web import CSRFRefused, RateLimited, UndecodableForm

    code = exc.code or 500
    if isinstance(exc, CSRFRefused):
        message = _(_CSRF_MESSAGE)
    elif isinstance(exc, UndecodableForm):
        message = _("The form was not sent as UTF-8 text.")
    else:
        message = _(_MESSAGES.get(code, _MESSAGES[500] if code >= 500 else _MESSAGES[400]))
    body, status = page("desk/error.html", code, code=code, message=message, detail=detail)
    response = flask.make_response(body, status)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    if code == 405 and exc.get_headers():
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response
