"""The app factory: one Flask app per CRM app, with the portal's pages, its plugins' pages and its defences.

Customers are not CRM users: a signed link or token, or a public form, is
what authorises a request. So every request runs as *the system*, in a
context of its own (:func:`each_request_as_the_system`): it never inherits the acting
user of the code that called the WSGI app (an embedding application that
wraps its requests in ``crm.as_user``, a test inside one), and the portal
never calls ``crm.as_user``. What a page may do is bounded by its link,
not by anyone's roles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import flask
import jinja2
from flask import Flask, g, request, session
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, InternalServerError

from crm_portal.i18n import (
    choice_options,
    country_options,
    format_date,
    format_datetime,
    install_jinja,
    language_names,
    reset_current,
    set_current,
)
from crm_portal.site import as_the_system
from crm_portal.templating import PACKAGE_TEMPLATES
from crm_portal.web import security

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_portal.site import Site

__all__ = ["create_app"]

#: the largest request body accepted (a form is a few kilobytes)
MAX_BODY = 64 * 1024
log = logging.getLogger("crm.portal")
#: the endpoints whose answers a browser may keep (every other page is no-store)
CACHEABLE = ("static", "portal.theme", "portal.logo")


def create_app(crm: CRM, *, name: str = "crm_portal") -> Flask:
    """The portal as a WSGI application for ``crm``.

    Mount it anywhere (``DispatcherMiddleware(host, {"/portal": create_app(crm)})``):
    every link it makes follows the mount point, and its session cookie
    (``crm_portal``) is scoped to it. Plugins' pages (``crm_portal_pages``)
    are added here; a page that clashes is a ``PluginError``.
    """
    from crm_portal.startup import logo_file

    portal = crm.plugin("portal")
    site = portal.site
    settings = site.settings
    app = Flask(
        name, static_folder=str(PACKAGE_TEMPLATES.parent / "static"), static_url_path="/static", template_folder=None
    )
    app.config.update(
        SECRET_KEY=_session_key(site.key),
        SESSION_COOKIE_NAME="crm_portal",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_PARTS=200,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        TEMPLATES_AUTO_RELOAD=False,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    app.session_interface = security.PortalSession()
    app.request_class = security.PortalRequest
    app.extensions["crm"] = crm
    app.extensions["crm_portal"] = portal
    app.wsgi_app = each_request_as_the_system(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_prefix=count)  # type: ignore[method-assign]

    plugin_templates: dict[str, jinja2.BaseLoader] = {}
    _configure_jinja(app, site, plugin_templates)

    logo_path = logo_file(crm)
    logo_origin = None
    if settings.logo and logo_path is None:
        parts = urlsplit(settings.logo)
        logo_origin = f"{parts.scheme}://{parts.netloc}"
    policy = security.content_security_policy(logo_origin or "")

    from crm_portal.web import pages, signup, surveys, unsubscribe, update

    blueprint = flask.Blueprint("portal", __name__)
    pages.register(blueprint, logo_path)
    update.register(blueprint)
    surveys.register(blueprint)
    signup.register(blueprint)
    unsubscribe.register(blueprint)
    app.register_blueprint(blueprint)
    pages.register_plugin_pages(app, crm, plugin_templates)

    @app.before_request
    def _begin() -> None:
        g.crm = crm
        g.portal = portal
        g.site = site
        g._activation = crm.activate()
        g._activation.__enter__()
        g.explicit_language = _explicit_language(site)
        set_language(None)
        security.check_csrf()
        if request.method == "POST" and request.blueprint in app.extensions["crm_portal_plugins"]:
            security.rate_limit("pages")

    @app.after_request
    def _headers(response: flask.Response) -> flask.Response:
        return security.secure_headers(response, policy, settings.hsts_max_age, cacheable=CACHEABLE)

    @app.teardown_request
    def _end(exc: BaseException | None) -> None:
        token = g.pop("_language_token", None)
        if token is not None:
            reset_current(token)
        activation = g.pop("_activation", None)
        if activation is not None:
            activation.__exit__(None, None, None)
        if getattr(crm.database, "pooled", False) and not crm.database.in_transaction():
            # with a pool (?pool=true) the thread hands its connection back after each request
            crm.database.close()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        from crm_portal.web.render import http_error_page

        return http_error_page(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        import peewee
        from werkzeug.exceptions import ServiceUnavailable

        from crm_core.errors import ConstraintError, StorageError
        from crm_portal.web.render import http_error_page

        # the traceback goes to the log, never to the browser
        log.exception("portal: unexpected error on %s %s", request.method, request.path)
        if (isinstance(exc, StorageError) and not isinstance(exc, ConstraintError)) or isinstance(
            exc, (peewee.OperationalError, peewee.InterfaceError)
        ):
            # the database went away (a restart, a network cut; the kernel opens a new connection
            # for the next transaction) or cannot be written: say "try again later". A plugin's own
            # raw peewee error may have left this thread's connection broken: drop it too.
            try:
                crm.database.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close too
                log.debug("portal: closing the broken database connection failed", exc_info=True)
            return http_error_page(ServiceUnavailable())
        return http_error_page(InternalServerError())

    return app


def each_request_as_the_system(wsgi_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``wsgi_app`` run in a fresh context for each request: no acting CRM user, whatever the caller's.

    A WSGI server or an embedding application may call the app from inside
    a context where a staff user acts (:func:`crm_portal.site.as_the_system`
    says why an empty context is the way out). Flask's own request context
    lives in it too, and is pushed and popped inside.
    """

    def run(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return as_the_system(wsgi_app, environ, start_response)

    return run


def _session_key(key: bytes) -> bytes:
    from crm_portal.links import derive_key

    return derive_key(key, "session")


def _explicit_language(site: Site) -> str | None:
    """A language the person chose: ``?lang=`` (remembered in the session), else the one chosen before."""
    from crm_portal.i18n import match_language

    chosen = match_language(request.args.get("lang"), site.settings.languages)
    if chosen:
        if session.get("lang") != chosen:
            session["lang"] = chosen
        return chosen
    remembered = session.get("lang")
    return remembered if isinstance(remembered, str) and remembered in site.settings.languages else None


def set_language(contact_language: str | None) -> str:
    """Use the person's chosen language, else the contact's, else the browser's, else the default."""
    catalogs = g.site.catalogs
    browser = [value for value, _quality in request.accept_languages]
    language: str = catalogs.choose(g.get("explicit_language"), contact_language, browser)
    token = set_current(language, catalogs.translations(language))
    if "_language_token" not in g:
        g._language_token = token  # the first one restores the language before the request
    g.language = language
    return language


def _configure_jinja(app: Flask, site: Site, plugin_templates: dict[str, jinja2.BaseLoader]) -> None:
    theme = site.path_setting(site.settings.templates_dir)
    loaders: list[jinja2.BaseLoader] = []
    if theme is not None:
        loaders.append(jinja2.FileSystemLoader(str(theme)))
    loaders.append(jinja2.PrefixLoader(plugin_templates))  # filled as plugins' pages are added
    loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
    app.jinja_loader = jinja2.ChoiceLoader(loaders)
    environment = app.jinja_env
    environment.trim_blocks = True
    environment.lstrip_blocks = True
    install_jinja(environment)
    settings = site.settings
    names = language_names(settings.languages)
    crm = site.crm

    @app.context_processor
    def _common() -> dict[str, Any]:
        return {
            "brand": _brand(settings),
            "language": g.get("language", settings.default_language),
            "language_names": names,
            "csrf_token": security.csrf_token,
            "csrf_field": lambda: Markup(
                f'<input type="hidden" name="{security.CSRF_FIELD}" value="{security.csrf_token()}">'
            ),
            "switch_language_url": _switch_language_url,
        }

    environment.filters["datetime"] = lambda value: (
        format_datetime(value, g.get("language", "en"), crm.tz) if value else ""
    )
    environment.filters["date"] = lambda value: format_date(value, g.get("language", "en"), crm.tz) if value else ""
    environment.globals["country_options"] = country_options
    environment.globals["choice_options"] = choice_options


def _brand(settings: Any) -> dict[str, Any]:
    logo = settings.logo
    if logo and not logo.startswith(("http://", "https://")):
        logo = flask.url_for("portal.logo")
    return {"site_name": settings.site_name, "logo_url": logo or None, "privacy_url": settings.privacy_url or None}


def _switch_language_url(language: str) -> str:
    """This page's address in another language (the other query values kept)."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    args["lang"] = [language]
    if request.endpoint is None:
        return flask.url_for("portal.home", lang=language)
    return flask.url_for(request.endpoint, **(request.view_args or {}), **args)
