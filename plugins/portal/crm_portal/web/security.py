"""The portal's defences, applied to every page: CSRF, rate limits, headers, sessions.

- **CSRF.** Every POST carries the session's token (``csrf_token`` field);
  a POST without it, or with another one, is refused with 403 before the
  view runs. The session cookie is HttpOnly, SameSite=Lax, Secure over
  HTTPS, and named ``crm_portal`` so that it never collides with the cookie
  of an application the portal is mounted in. The one exception is an
  RFC 8058 one-click unsubscribe (``List-Unsubscribe=One-Click``), which a
  mail client posts without a session: its signed link is its authority.
- **Rate limits.** A form's POST counts against its limit per client
  address (and, for sign-ups, per e-mail address); over it, 429 with
  ``Retry-After``.
- **Form bodies** must be UTF-8 (what every browser sends for these
  pages): anything else is refused with 400 and a page that says so,
  instead of being read as an empty form (which the CSRF check then took for
  an expired one) or with replacement characters in what the person typed.
- **Headers.** A strict Content-Security-Policy (no inline script or style:
  the theme's colours come from a stylesheet), X-Frame-Options DENY,
  Referrer-Policy no-referrer (links carry tokens), nosniff, HSTS over
  HTTPS, and ``Cache-Control: no-store`` on every page that is not a static
  file.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
from typing import TYPE_CHECKING, Any

from flask import Request, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException
from werkzeug.formparser import FormDataParser

if TYPE_CHECKING:
    from flask import Flask, Response

__all__ = [
    "CSRF_FIELD",
    "PortalRequest",
    "PortalSession",
    "RateLimited",
    "UndecodableForm",
    "csrf_token",
    "rate_limit",
    "rate_limit_email",
    "secure_headers",
]

CSRF_FIELD = "csrf_token"


class RateLimited(HTTPException):
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


class PortalRequest(Request):
    """Flask's request with :class:`StrictFormParser`."""

    form_data_parser_class = StrictFormParser


class PortalSession(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure exactly when the request came over HTTPS, scoped to the mount point."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure

    def get_cookie_path(self, app: Flask) -> str:
        return (request.script_root or "") + "/"


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for a form's hidden field."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def is_one_click_unsubscribe() -> bool:
    """An RFC 8058 POST from a mail client: ``List-Unsubscribe=One-Click`` and nothing else."""
    return (
        request.endpoint == "portal.unsubscribe"
        and request.form.get("List-Unsubscribe") == "One-Click"
        and CSRF_FIELD not in request.form
    )


def check_csrf() -> None:
    """Refuse a state-changing request whose CSRF token is missing or not the session's."""
    if request.method in ("GET", "HEAD", "OPTIONS") or is_one_click_unsubscribe():
        return
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CSRFRefused()


def rate_limit(form: str) -> None:
    """Count this POST against ``form``'s limit per client address (``plugins.portal.limits.<form>``); 429 when over."""
    from crm_portal import ratelimit

    limits = g.site.settings.limits
    _enforce(
        form, f"{form}:ip:{ratelimit.client_key(request.remote_addr)}", getattr(limits, form, None) or limits.pages
    )


def rate_limit_email(form: str, address: str) -> None:
    """Count a sign-up for an e-mail address (``plugins.portal.limits.signup_email``); 429 when over."""
    from crm_portal import ratelimit

    _enforce(form, f"{form}:email:{ratelimit.email_key(address)}", g.site.settings.limits.signup_email)


def _enforce(form: str, key: str, rate: str) -> None:
    from crm_portal import ratelimit

    decision = ratelimit.hit(g.crm, key, rate)
    if not decision.allowed:
        current_app.logger.warning(
            "rate limit: %s from %s refused for %ss", form, request.remote_addr, decision.retry_after
        )
        raise RateLimited(decision.retry_after)


def content_security_policy(logo_origin: str | None) -> str:
    images = "'self' data:" + (f" {logo_origin}" if logo_origin else "")
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def secure_headers(response: Response, policy: str, hsts_max_age: int) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if request.is_secure and hsts_max_age:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts_max_age}; includeSubDomains")
    if request.endpoint not in ("static", "portal.theme", "portal.logo"):
        # pages show personal details and carry tokens: no cache keeps them
        headers["Cache-Control"] = "no-store"
    return response


def client_ip() -> str | None:
    return request.remote_addr
