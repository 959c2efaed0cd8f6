"""The app factory: one Flask app per CRM app, with the desk's pages, the plugins' pages and the defences.

Each request runs in a context of its own (it never inherits the acting
user of the code that called the WSGI app) and, once the session cookie
names a live kernel session, as that session's user (``crm.as_user``), so
every plugin API the pages call checks the user's permissions.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import flask
import jinja2
from flask import Flask, g, request
from werkzeug.exceptions import HTTPException, InternalServerError

from crm_core import web
from crm_core.signing import derive_key, secret_key
from crm_desk.contributions import Contributions
from crm_desk.web import assets, jinja, session

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["create_app"]

#: the largest request body accepted (a form is a few kilobytes)
MAX_BODY = 256 * 1024
log = logging.getLogger("crm.desk")


def create_app(crm: CRM, *, prefix: str = "", name: str = "crm_desk") -> Flask:
    """The desk as a WSGI application for ``crm``.

    ``prefix`` (``"/desk"``) serves it under a path of its own, so that the
    portal, the API and the desk can share one process and host; it may also
    be mounted by the host (``DispatcherMiddleware``) with no prefix. Every
    link follows the mount point, and the session cookie (``crm_desk``) is
    scoped to it. The plugins' pages (``crm_desk_pages``) are added here; one
    that fails or clashes is a ``PluginError``.
    """
    settings = crm.settings("desk")
    app = Flask(name, static_folder=None, template_folder=None)
    app.config.update(
        SECRET_KEY=derive_key(secret_key(crm), "desk.session"),
        SESSION_COOKIE_NAME="crm_desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_PARTS=500,
        TEMPLATES_AUTO_RELOAD=False,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    app.session_interface = web.ScopedCookieSession()
    app.request_class = web.StrictRequest
    app.extensions["crm"] = crm
    contributions = Contributions.collect(crm)
    app.extensions["crm_desk"] = contributions
    plugin_templates: dict[str, jinja2.BaseLoader] = {}
    jinja.configure(app, crm, contributions, plugin_templates)
    assets.register(app)
    _register_pages(app, contributions, plugin_templates)
    _install_request_hooks(app, crm, settings)
    _install_error_pages(app, crm)
    app.wsgi_app = _fresh_context(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_prefix=count)  # type: ignore[method-assign]
    if prefix.strip("/"):
        app.wsgi_app = _under_prefix(app.wsgi_app, "/" + prefix.strip("/"))  # type: ignore[method-assign]
    return app


def _register_pages(app: Flask, contributions: Contributions, plugin_templates: dict[str, jinja2.BaseLoader]) -> None:
    from crm_core.errors import PluginError
    from crm_desk.web import account, admin, auth, home

    blueprint = flask.Blueprint("desk", __name__)
    auth.register(blueprint)
    account.register(blueprint)
    home.register(blueprint)
    app.register_blueprint(blueprint)
    admin.register(app)
    for plugin, pages in contributions.pages:
        if pages.templates is not None:
            plugin_templates[plugin] = jinja2.FileSystemLoader(str(pages.templates))
        if pages.blueprint is None:
            continue
        try:
            contributed = pages.blueprint()
            app.register_blueprint(contributed, url_prefix=pages.url_prefix or f"/{plugin}")
            if pages.translations:
                app.extensions["crm_desk_blueprint_catalogs"][contributed.name] = pages.translations
        except Exception as exc:  # third-party code: say which plugin failed
            raise PluginError(
                plugin, f"plugin {plugin!r}: its desk blueprint could not be added: {type(exc).__name__}: {exc}"
            ) from exc
    for plugin, kind, endpoint in contributions.endpoints():
        if endpoint not in app.view_functions:
            raise PluginError(
                plugin,
                f"plugin {plugin!r}: crm_desk_pages: a {kind} links to endpoint {endpoint!r}, which no page has; "
                "name a view of the plugin's blueprint ('<blueprint>.<view>')",
            )


def _install_request_hooks(app: Flask, crm: CRM, settings: Any) -> None:
    policy = web.content_security_policy()

    @app.before_request
    def _begin() -> Any:
        g.crm = crm
        g.settings = settings
        g._activation = crm.activate()
        g._activation.__enter__()
        _allow_body(app, crm)
        web.check_csrf()
        return session.load_user()

    @app.after_request
    def _headers(response: flask.Response) -> flask.Response:
        return web.secure_headers(response, policy, settings.hsts_max_age, cacheable=(assets.ENDPOINT,))

    @app.teardown_request
    def _end(exc: BaseException | None) -> None:
        session.release()
        activation = g.pop("_activation", None)
        if activation is not None:
            activation.__exit__(None, None, None)
        if getattr(crm.database, "pooled", False) and not crm.database.in_transaction():
            crm.database.close()  # with a pool (?pool=true) the thread hands its connection back after each request


def _install_error_pages(app: Flask, crm: CRM) -> None:
    from crm_desk.web.render import error_page

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return error_page(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        from werkzeug.exceptions import Forbidden, NotFound

        from crm_core.errors import NotFoundError, PermissionDenied

        if isinstance(exc, PermissionDenied):
            # a record out of the user's scope is answered as an unknown one: its id does not say it exists
            return error_page(NotFound(str(exc)) if exc.record else Forbidden(str(exc)))
        if isinstance(exc, NotFoundError):
            return error_page(NotFound(str(exc)))
        # the traceback goes to the log, never to the browser
        log.exception("desk: unexpected error on %s %s", request.method, request.path)
        return error_page(InternalServerError())


WSGIApp = Callable[..., Iterable[bytes]]


def _fresh_context(wsgi_app: WSGIApp) -> WSGIApp:
    """``wsgi_app`` run in an empty context: no acting CRM user, whatever the caller's."""

    def run(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return contextvars.Context().run(wsgi_app, environ, start_response)

    return run


def _under_prefix(wsgi_app: WSGIApp, prefix: str) -> WSGIApp:
    """``wsgi_app`` answering under ``prefix`` only (moved from ``PATH_INFO`` to ``SCRIPT_NAME``); 404 elsewhere."""

    def run(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != prefix and not path.startswith(prefix + "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"Not found: the desk is under {prefix}/\n".encode()]
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
        environ["PATH_INFO"] = path[len(prefix) :] or "/"
        return wsgi_app(environ, start_response)

    return run


def _allow_body(app: Flask, crm: CRM) -> None:
    """Let a view that takes files raise the body limit for itself, before the CSRF check reads the form.

    A view function with ``desk_max_body`` (a number of bytes, or a function
    of the app returning one: an upload form) accepts bodies up to that size;
    every other request keeps ``MAX_BODY``.
    """
    view = app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "desk_max_body", None)
    if limit is not None:
        request.max_content_length = int(limit(crm) if callable(limit) else limit)
