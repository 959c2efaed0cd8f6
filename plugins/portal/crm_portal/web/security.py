"""The portal's defences, applied to every page: CSRF, rate limits, headers, sessions.

The shared parts (CSRF tokens, strict form parsing, the cookie, the
headers) are the kernel's :mod:`crm_core.web`, which the desk uses too;
this module adds the portal's exemption and its rate limits.

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

from flask import current_app, g, request

from crm_core import web
from crm_core.web import (
    CSRF_FIELD,
    CSRFRefused,
    RateLimited,
    StrictFormParser,
    UndecodableForm,
    content_security_policy,
    csrf_token,
    secure_headers,
)

__all__ = [
    "CSRF_FIELD",
    "CSRFRefused",
    "PortalRequest",
    "PortalSession",
    "RateLimited",
    "StrictFormParser",
    "UndecodableForm",
    "check_csrf",
    "content_security_policy",
    "csrf_token",
    "rate_limit",
    "rate_limit_email",
    "secure_headers",
]

#: the kernel's strict request and scoped cookie, under the names the portal gave them
PortalRequest = web.StrictRequest
PortalSession = web.ScopedCookieSession


def is_one_click_unsubscribe() -> bool:
    """An RFC 8058 POST from a mail client: ``List-Unsubscribe=One-Click`` and nothing else."""
    return (
        request.endpoint == "portal.unsubscribe"
        and request.form.get("List-Unsubscribe") == "One-Click"
        and CSRF_FIELD not in request.form
    )


def check_csrf() -> None:
    """Refuse a state-changing request whose CSRF token is missing or not the session's (one-click unsubscribes aside)."""
    web.check_csrf(exempt=is_one_click_unsubscribe)


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


def client_ip() -> str | None:
    return request.remote_addr
