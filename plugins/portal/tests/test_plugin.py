"""The entry module's declarations, the settings and their checks at start-up, mounting, and the import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attrs
import click
import pytest

import crm_portal.plugin as portal_plugin
from crm_core.errors import ConfigError
from crm_hookspecs.apis import PortalAPI
from crm_hookspecs.records import PluginSchema
from crm_portal.settings import PortalSettings


def test_the_entry_module_is_cheap_to_import():
    """``crm --help`` imports it: no Flask, Jinja2, Babel, waitress or peewee models."""
    code = (
        "import sys, crm_portal.plugin, crm_portal; "
        "print(','.join(m for m in ('flask', 'jinja2', 'babel', 'waitress', 'werkzeug', 'peewee', 'crm_portal.models', 'crm_core.app')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_declarations():
    schema = portal_plugin.crm_schema()
    assert isinstance(schema, PluginSchema) and (schema.migrations / "0001_initial.py").is_file()
    assert {m._meta.table_name for m in schema.models} == {"portal_signup", "portal_consent", "portal_rate"}
    assert portal_plugin.crm_config_section() is PortalSettings and attrs.has(PortalSettings)
    (spec,) = portal_plugin.crm_cli_commands()
    module, _, attr = spec.target.partition(":")
    import importlib

    assert spec.name == "portal" and isinstance(getattr(importlib.import_module(module), attr), click.Group)


@pytest.mark.sqlite_only
def test_the_api_object_implements_the_contract(app):
    assert isinstance(app.plugin("portal"), PortalAPI) and app.plugin("portal") is app.plugin("portal")
    assert {"portal_signup", "portal_consent", "portal_rate"} <= set(app.database.get_tables())
    [(name, job)] = [(n, j) for n, j in app.hooks.worker_jobs(app) if n == "portal"]
    assert job.name == "portal.cleanup" and job.run(app, None).endswith("rate counter(s) deleted")


def test_without_a_configured_secret_one_is_made_and_kept(kit, portal_app):
    first = portal_app(secret="")
    key = first.plugin("portal").site.key
    assert len(key) >= 32
    second = portal_app(secret="")  # another app (another worker) on the same database
    assert second.plugin("portal").site.key == key


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "portal, message",
    [
        ({"primary_color": "blue"}, "plugins.portal.primary_color: 'blue' is not a colour"),
        ({"limits": {"signup": "lots"}}, "plugins.portal.limits.signup"),
        ({"default_language": "fr"}, "plugins.portal.default_language: 'fr' is not one of languages"),
        ({"languages": ["en", "Spanish"]}, "plugins.portal.languages"),
        ({"base_url": "crm.example.com"}, "plugins.portal.base_url"),
        (
            {"signup_forms": [{"name": "A b", "title": {"en": "x"}, "consent": {"en": "y"}}]},
            "plugins.portal.signup_forms",
        ),
        ({"signup_forms": [{"name": "a", "title": {}, "consent": {"en": "y"}}]}, "at least one language"),
        (
            {"signup_forms": [{"name": "a", "title": {"en": "x"}, "consent": {"en": "y"}}] * 2},
            "two sign-up forms are named 'a'",
        ),
        ({"colour": "#fff"}, "plugins.portal.colour: unknown key"),
        ({"trusted_proxies": -1}, "plugins.portal.trusted_proxies"),
    ],
)
def test_bad_settings_are_refused_with_the_key(kit, crm_factory, portal, message):
    settings = kit.settings(**portal)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        crm_factory(plugins=["contacts", "surveys", "portal"], settings=settings)


@pytest.mark.sqlite_only
def test_start_up_checks_the_files(kit, crm_factory, tmp_path):
    def build(**portal):
        return crm_factory(plugins=["contacts", "surveys", "portal"], settings=kit.settings(**portal), migrate=False)

    with pytest.raises(ConfigError, match="'fr' has no translation catalog"):
        build(languages=["en", "fr"])
    with pytest.raises(ConfigError, match="translations_dir: the folder .* does not exist"):
        build(translations_dir="missing")
    with pytest.raises(ConfigError, match="logo: the file .*logo.png does not exist"):
        build(logo="logo.png")
    (tmp_path / "logo.txt").write_text("x")
    with pytest.raises(ConfigError, match="is not an image"):
        build(logo="logo.txt")
    with pytest.raises(ConfigError, match="templates_dir"):
        build(templates_dir="theme")


@pytest.mark.sqlite_only
def test_branding_with_a_logo_file_and_a_theme_folder(kit, portal_app, tmp_path):
    (tmp_path / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    theme = tmp_path / "theme" / "portal"
    theme.mkdir(parents=True)
    (theme / "home.html").write_text(
        '{% extends "portal/base.html" %}{% block content %}<p>Our own home: {{ _("Welcome") }}</p>{% endblock %}'
    )
    web = kit.Web(portal_app(logo="logo.svg", templates_dir="theme", site_name="ACME"))
    web.get("/")
    assert "Our own home: Welcome" in web.text and '<img src="/brand/logo" alt="ACME" class="logo">' in web.text
    logo = web.get("/brand/logo")
    assert logo.status_code == 200 and logo.mimetype == "image/svg+xml"
    remote = kit.Web(portal_app(logo="https://cdn.example.com/acme.png"))
    remote.get("/")
    assert '<img src="https://cdn.example.com/acme.png"' in remote.text
    assert "img-src 'self' data: https://cdn.example.com" in remote.page.headers["Content-Security-Policy"]
    assert remote.get("/brand/logo").status_code == 404


@pytest.mark.sqlite_only
def test_mounted_under_a_prefix_in_another_wsgi_app(kit, app):
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.test import Client

    from crm_portal import create_app

    host = Flask("host")
    host.secret_key = "the host's own"

    @host.route("/")
    def index():
        from flask import session

        session["host"] = "mine"
        return "host home"

    host.wsgi_app = DispatcherMiddleware(host.wsgi_app, {"/portal": create_app(app)})
    client = Client(host)
    assert client.get("/").get_data(as_text=True) == "host home"
    ana = kit.add_contact(app)
    token = kit.survey_token(app, ana.id)
    page = client.get(f"/portal/surveys/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'action="/portal/surveys/{token}"' in text and 'href="/portal/static/portal.css"' in text
    assert 'href="/portal/theme.css"' in text and 'href="/portal/"' in text
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("crm_portal=") and "Path=/portal/" in cookie
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    saved = client.post(f"/portal/surveys/{token}", data={"recommend": "9", "shown": "recommend", "csrf_token": csrf})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/portal/surveys/{token}/thanks")
    assert client.get("/").status_code == 200  # the host's own session still works beside the portal's
    assert client.get("/portal/nowhere").status_code == 404


@pytest.mark.sqlite_only
def test_wsgi_factory_builds_the_app_from_a_config_file(tmp_path, monkeypatch):
    config = tmp_path / "crm.toml"
    config.write_text(
        '[crm]\ndatabase = "sqlite:///crm.db"\nsecret = "env:CRM_TEST_SECRET"\n[crm.mail]\ntransport = "memory"\n'
        '[plugins]\nenabled = ["contacts", "surveys", "portal"]\n'
        '[plugins.portal]\nsecret = "env:PORTAL_TEST_SECRET"\nsite_name = "From the file"\n'
    )
    monkeypatch.setenv("PORTAL_TEST_SECRET", "a-secret-from-the-environment")
    monkeypatch.setenv("CRM_TEST_SECRET", "the-app-key-from-the-environment-0123456789")
    monkeypatch.setenv("CRM_CONFIG", str(config))
    from crm_core.app import CRM

    with CRM.from_config(config) as crm:
        crm.migrate()
    from crm_portal.wsgi import make_app

    wsgi = make_app()
    try:
        response = wsgi.test_client().get("/")
        assert response.status_code == 200 and "From the file" in response.get_data(as_text=True)
        assert wsgi.extensions["crm_portal"].site.key == b"the-app-key-from-the-environment-0123456789"
        assert wsgi.extensions["crm_portal"].site.legacy_key == b"a-secret-from-the-environment"
    finally:
        wsgi.extensions["crm"].close()


def test_plugin_package_ships_its_files():
    root = Path(portal_plugin.__file__).parent
    for name in (
        "templates/portal/base.html",
        "static/portal.css",
        "static/portal.js",
        "translations/messages.pot",
        "translations/es/LC_MESSAGES/messages.mo",
        "translations/en/LC_MESSAGES/messages.mo",
    ):
        assert (root / name).is_file(), name
    pyproject = (root.parent / "pyproject.toml").read_text()
    for pattern in (
        '"templates/**/*"',
        '"static/*"',
        '"translations/*/LC_MESSAGES/*.mo"',
        '"crm-contacts',
        '"crm-surveys',
    ):
        assert pattern in pyproject


@pytest.mark.sqlite_only
def test_demo_data_prints_links_to_try(kit, app):
    from crm_portal.demo import load_demo

    contacts = app.plugin("contacts")
    assert load_demo(app)[-1].startswith("  (no mailing list 'newsletter' with members")
    ana = kit.add_contact(app)
    contacts.add_to_list("newsletter", [ana.id])
    lines = portal_plugin.crm_demo_data(app)
    assert lines[1] == "  sign-up form: http://localhost:8000/signup/newsletter"
    assert lines[2].startswith("  unsubscribe link of Ana García: http://localhost:8000/unsubscribe/")
    assert lines[-1].startswith("  update link of Ana García: http://localhost:8000/contacts/update?token=")


def test_the_package_says_its_version():
    from importlib.metadata import version

    import crm_portal

    assert crm_portal.__version__ == version("crm-portal")
