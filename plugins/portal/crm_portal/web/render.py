"""Rendering pages: the common values, error pages, and refusals of links."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template
from werkzeug.exceptions import HTTPException

from crm_portal.i18n import N_
from crm_portal.i18n import gettext as _

__all__ = ["error_page", "http_error_page", "link_refused", "page"]

#: what each HTTP error says, in words for the person who sees it
_HTTP_TEXTS = {
    400: (
        N_("Something is wrong with this request"),
        N_("The page could not use what was sent. Go back, check the form and try again."),
    ),
    403: (N_("This is not allowed"), N_("You may not do this with this link or form.")),
    404: (
        N_("Page not found"),
        N_("There is no page at this address. Check the link, or open it again from the e-mail we sent you."),
    ),
    405: (N_("This is not allowed"), N_("This page cannot be used that way.")),
    410: (N_("This link no longer works"), N_("The link has expired or was already used. Ask us for a new one.")),
    413: (
        N_("Too much was sent"),
        N_("The form sent more than this page accepts. Shorten your answers and try again."),
    ),
    429: (N_("Too many attempts"), N_("You have sent this form too often. Please wait a while and try again.")),
    500: (
        N_("Something went wrong"),
        N_("An error occurred on our side and has been recorded. Please try again later."),
    ),
    503: (N_("Not available right now"), N_("This page is not available at the moment. Please try again later.")),
}


def page(template: str, status: int = 200, **values: Any) -> Any:
    response = make_response(render_template(template, **values), status)
    return response


def error_page(status: int, title: str, message: str, *, headers: dict[str, str] | None = None, **values: Any) -> Any:
    response = make_response(
        render_template("portal/error.html", status=status, title=title, message=message, **values), status
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_error_page(exc: HTTPException) -> Any:
    from crm_portal.web.security import CSRFRefused, RateLimited, UndecodableForm

    status = exc.code or 500
    title, message = _HTTP_TEXTS.get(status, _HTTP_TEXTS[400 if status < 500 else 500])
    headers = {}
    if isinstance(exc, CSRFRefused):
        title = N_("This form has expired")
        message = N_(
            "The form was sent without its security code, or the code is no longer valid (for instance after a long pause). "
            "Go back, reload the page and send the form again."
        )
    if isinstance(exc, UndecodableForm):
        title = N_("The form could not be read")
        message = N_(
            "What was sent is not UTF-8 text, the only encoding this page reads. Go back, reload the page and send the form "
            "again from it; if it happens again, set your browser's text encoding to UTF-8."
        )
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 405 and exc.get_headers():
        headers.update({k: v for k, v in exc.get_headers() if k == "Allow"})
    try:
        return error_page(status, _(title), _(message), headers=headers)
    except Exception:  # the error page itself failed (a broken theme): plain text, still no traceback
        from flask import Response

        return Response(f"{status} {title}\n", status=status, mimetype="text/plain", headers=headers)


def link_refused(exc: Exception, kind: str) -> Any:
    """The page for a refused link: the status its error names (403, 404, 410) and words that say what to do.

    ``kind`` is ``update``, ``survey``, ``signup`` or ``unsubscribe``. The
    plugins' own messages are in English; the person reads ours, in his
    language, chosen by the error's ``code`` (:mod:`crm_core.signing`); any
    other refusal is a 400 in general words.
    """
    from crm_core.signing import LinkError

    if not isinstance(exc, LinkError) or exc.code == "invalid":
        title, message = _HTTP_TEXTS[400]
        return error_page(400, _(title), _(message), code="invalid")
    code, status = exc.code, exc.http_status
    when = getattr(exc, "expires_at", None) if code == "expired" else getattr(exc, "used_at", None)
    texts = {
        "forged": (
            N_("This link is not valid"),
            N_(
                "The link is damaged or incomplete. Open it again from the whole e-mail we sent you, or ask us for a new one."
            ),
        ),
        "expired": (
            N_("This link has expired"),
            N_("The link was valid for a limited time only. Ask us for a new one."),
        ),
        "used": (
            N_("This link was already used"),
            N_("Each link works only once. If you want to change something else, ask us for a new link."),
        ),
        "unknown": (
            N_("This link no longer works"),
            N_("The link was withdrawn, or what it was made for no longer exists."),
        ),
        "out_of_scope": (N_("This is not allowed"), N_("This link does not let you change that.")),
    }
    title, message = texts.get(code, texts["forged"])
    if kind == "signup" and code == "used":
        title, message = N_("Already confirmed"), N_("This sign-up was already confirmed. There is nothing more to do.")
    if kind == "survey" and code == "unknown":
        message = N_("This survey can no longer be answered with this link.")
    return error_page(status, _(title), _(message), when=when, code=code)
