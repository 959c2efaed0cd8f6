"""Defences every web app of the CRM shares (the portal, the desk): CSRF, strict forms, cookies, headers.

Imported only by web plugins (it imports Flask, which the kernel does not
require; a web plugin requires ``flask``).

- **CSRF.** :func:`check_csrf` refuses a state-changing request whose
  ``csrf_token`` form field (or ``X-CSRF-Token`` header, as htmx sends it)
  is not the session's token (:func:`csrf_token`), with 403 before the view
  runs.
- **Form bodies** must be UTF-8 (:class:`StrictRequest`): anything else is
  refused with 400 (:class:`UndecodableForm`) instead of being read as an
  empty form or with replacement characters.
- **Cookies** (:class:`ScopedCookieSession`): Secure exactly when the request
  came over HTTPS, scoped to the app's mount point; the app sets HttpOnly
  and SameSite.
- **Headers** (:func:`secure_headers`): a strict Content-Security-Policy
  without ``unsafe-inline`` (:func:`content_security_policy`),
  X-Frame-Options DENY and ``frame-ancestors 'none'``, nosniff,
  Referrer-Policy no-referrer, HSTS over HTTPS, and ``Cache-Control:
  no-store`` on every page that is not a static file.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
from collections.abc import Callable, Collection
from typing import Any

from flask import Flask, Request, Response, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException
from werkzeug.formparser import FormDataParser

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CSRFRefused",
    "RateLimited",
    "ScopedCookieSession",
    "StrictFormParser",
    "StrictRequest",
    "UndecodableForm",
    "check_csrf",
    "content_security_policy",
    "csrf_token",
    "secure_headers",
]

CSRF_FIELD = "csrf_token"
#: the header a script (htmx) may carry the token in instead of the form field
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class RateLimited(HTTPException):
    """Too many attempts: answered 429 with ``Retry-After: retry_after``."""

    code = 429
    description = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class CSRFRefused(Forbidden):
    """A form posted without the session's CSRF token."""


class UndecodableForm(BadRequest):
    """A form body that is not UTF-8 text: answered 400 with a page that says so."""


class StrictFormParser(FormDataParser):
    """Werkzeug's form parser, refusing a body that is not UTF-8 instead of reading it as nothing.

    Werkzeug drops an undecodable url-encoded body silently (the form is then
    empty, and the missing CSRF token made it "This form has expired", 403)
    and reads an undecodable multipart field with U+FFFD in place of each bad
    byte, changing what the person sent. Both are refused here, by name.
    """

    def parse(
        self, stream: Any, mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> Any:
        """Parse the body; raise :class:`UndecodableForm` for one that is not UTF-8."""
        if mimetype == "application/x-www-form-urlencoded":
            # strict where werkzeug is lenient: raw bytes and percent-escapes must both be UTF-8
            # (a Latin-1 browser sends "Jos%E9", which werkzeug would keep as those six characters)
            try:
                items = urllib.parse.parse_qsl(stream.read().decode("utf-8"), keep_blank_values=True, errors="strict")
            except UnicodeDecodeError as exc:
                raise UndecodableForm(f"the form's body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            return stream, self.cls(items), self.cls()
        stream, form, files = super().parse(stream, mimetype, content_length, options)
        for name, value in form.items(multi=True):
            if "\ufffd" in value or "\ufffd" in name:  # werkzeug's stand-in for a multipart byte it could not decode
                raise UndecodableForm(f"form field {name[:40]!r} is not UTF-8 text")
        return stream, form, files


class StrictRequest(Request):
    """Flask's request with :class:`StrictFormParser`."""

    form_data_parser_class = StrictFormParser


class ScopedCookieSession(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure exactly when the request came over HTTPS, scoped to the mount point."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure over HTTPS (behind a proxy, as ProxyFix reports it)."""
        return request.is_secure

    def get_cookie_path(self, app: Flask) -> str:
        """The app's mount point, so two apps in one host keep their own cookies."""
        return (request.script_root or "") + "/"


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for a form's hidden field."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf(exempt: Callable[[], bool] | None = None) -> None:
    """Refuse a state-changing request whose CSRF token is missing or not the session's.

    ``exempt`` says whether this request needs none (the portal's one-click
    unsubscribe, whose signed link is its authority).
    """
    if request.method in _SAFE_METHODS or (exempt is not None and exempt()):
        return
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CSRFRefused()


def content_security_policy(image_sources: str = "") -> str:
    """A policy that allows the app's own scripts, styles and images only (never inline), and no framing."""
    images = "'self' data:" + (f" {image_sources}" if image_sources else "")
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src {images}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def secure_headers(
    response: Response, policy: str, hsts_max_age: int, *, cacheable: Collection[str | None] = ("static",)
) -> Response:
    """Add the security headers to ``response``; a page whose endpoint is not in ``cacheable`` gets ``no-store``."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if request.is_secure and hsts_max_age:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts_max_age}; includeSubDomains")
    if request.endpoint not in cacheable:
        # pages show personal details and carry tokens: no cache keeps them
        headers["Cache-Control"] = "no-store"
    return response
