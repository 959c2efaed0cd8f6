"""Languages: the shipped catalogs are complete and current, and the right language is chosen, overridable, extendable."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from crm_portal.i18n import SHIPPED, Catalogs, match_language

pytestmark = pytest.mark.sqlite_only  # catalogs and rendering do not depend on the database

PACKAGE = SHIPPED.parent
DISTRIBUTION = PACKAGE.parent


def catalog(language: str):
    with open(SHIPPED / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def test_every_text_is_translated_into_spanish():
    spanish = catalog("es")
    untranslated = [m.id for m in spanish if m.id and not m.string]
    fuzzy = [m.id for m in spanish if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == []
    for message in spanish:  # the placeholders of a translation are the original's
        if message.id:
            assert set(re.findall(r"%\((\w+)\)s", message.id)) == set(re.findall(r"%\((\w+)\)s", message.string)), (
                message.id
            )


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_compiled_catalogs_match_their_sources(language):
    buffer = io.BytesIO()
    write_mo(buffer, catalog(language))
    shipped = (SHIPPED / language / "LC_MESSAGES" / "messages.mo").read_bytes()
    assert shipped == buffer.getvalue(), f"run: pybabel compile -d crm_portal/translations (in {DISTRIBUTION})"


def test_the_template_holds_every_text_of_the_code_and_templates(tmp_path):
    out = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "--no-location",
            "--sort-output",
            "-o",
            str(out),
            ".",
        ],
        cwd=DISTRIBUTION,
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    with open(SHIPPED / "messages.pot", "rb") as f:
        shipped = {m.id for m in read_po(f) if m.id}
    spanish = {m.id for m in catalog("es") if m.id}
    assert extracted == shipped, "re-extract: see 'Adding a language' in docs/plugins/portal.md"
    assert extracted == spanish, "run pybabel update, then translate the new texts"


@pytest.mark.parametrize(
    "tag, expected",
    [
        ("es", "es"),
        ("es-MX", "es"),
        ("ES_es", "es"),
        ("en-GB", "en"),
        ("fr", None),
        ("*", None),
        ("", None),
        (None, None),
        ("pt", "pt_BR"),
    ],
)
def test_language_tags_match_the_offered_languages(tag, expected):
    assert match_language(tag, ("en", "es", "pt_BR")) == expected


def test_choice_order_chosen_then_contact_then_browser_then_default():
    catalogs = Catalogs(("en", "es"), "en")
    assert catalogs.choose("es", "en", ["en"]) == "es"
    assert catalogs.choose(None, "es-AR", ["en"]) == "es"
    assert catalogs.choose(None, "fr", ["fr-CA", "es;q=0.5", "es"]) == "es"
    assert catalogs.choose(None, None, []) == "en"


def test_the_language_links_switch_and_remember(kit, app, web):
    web.get("/signup/newsletter")
    assert (
        '<html lang="en">' in web.text
        and 'href="/signup/newsletter?lang=es" lang="es" hreflang="es">Español</a>' in web.text
    )
    web.get("/signup/newsletter?lang=es")
    assert '<html lang="es">' in web.text and "Nuestro boletín mensual" in web.text and "Acepto recibir" in web.text
    web.get("/")  # remembered for the session, over the browser's language
    assert '<html lang="es">' in web.text and "Sigamos en contacto" in web.text
    web.get("/?lang=xx")  # an unknown language changes nothing
    assert '<html lang="es">' in web.text
    ana = kit.add_contact(app, language="en")
    token = app.plugin("contacts").issue_update_link(ana.id, ["first_name"]).token
    web.get("/contacts/update?token=" + token)
    assert "Tus datos" in web.text  # the person's choice wins over the contact's language


def test_errors_are_translated(kit, app, web):
    web.get("/nowhere", headers={"Accept-Language": "es"})
    assert "Página no encontrada" in web.text
    web.get("/contacts/update?token=bad", headers={"Accept-Language": "es"})
    assert "Este enlace no es válido" in web.text


def test_the_confirmation_mail_is_in_the_forms_language(kit, app, web):
    web.get("/signup/newsletter?lang=es")
    web.post("/signup/newsletter", {"email": "pepa@example.com", "consent": "yes", "language": "es"})
    app.mail.deliver()
    (mail,) = app.mail.sent
    assert mail.subject == "Confirma tu suscripción: Nuestro boletín mensual"
    assert (
        "Hola:" in mail.text and "Acepto recibir el boletín mensual" in mail.text and "funciona hasta el" in mail.text
    )
    assert "lang" not in mail.subject and "Confirmar mi suscripción" in mail.html


def test_a_translations_folder_adds_a_language_and_overrides_texts(kit, portal_app, tmp_path):
    from babel.messages.catalog import Catalog

    for language, texts in {
        "fr": {"Sign up": "S'inscrire", "Your details": "Vos coordonnées"},
        "es": {"Sign up": "¡Apúntate!"},
    }.items():
        folder = tmp_path / "translations" / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        extra = Catalog(locale=language)
        for source, text in texts.items():
            extra.add(source, text)
        with open(folder / "messages.mo", "wb") as f:
            write_mo(f, extra)
    crm = portal_app(translations_dir="translations", languages=["en", "es", "fr"])
    web = kit.Web(crm)
    web.get("/signup/newsletter", headers={"Accept-Language": "fr"})
    assert '<html lang="fr">' in web.text and "S'inscrire" in web.text and "Français" in web.text
    assert "E-mail address" in web.text  # what the extra catalog lacks stays in English
    web.get("/signup/newsletter?lang=es")
    assert (
        "¡Apúntate!" in web.text and "Correo electrónico" in web.text
    )  # overridden, and the rest from the shipped catalog


def test_dates_are_written_in_the_pages_language(kit, app, web):
    ana = kit.add_contact(app, language="es")
    token = app.plugin("contacts").issue_update_link(ana.id, ["first_name"], ttl_hours=24).token
    web.get("/contacts/update?token=" + token)
    assert "6 de enero de 2026" in web.text


@pytest.mark.parametrize("selected", ["mobile", "fax", "other", "", None, "nothing-offered", '"><b>'])
@pytest.mark.parametrize("language", ["en", "es"])
def test_choice_options_are_the_template_loops_markup(selected, language):
    """The menus of kinds, built once per language, are what the form's loop used to write."""
    import jinja2

    from crm_portal.i18n import choice_options, install_jinja, reset_current, set_current
    from crm_portal.web.contact_form import PHONE_KINDS

    environment = jinja2.Environment(autoescape=True)
    install_jinja(environment)
    loop = environment.from_string(
        '{% for key, text in kinds.items() %}<option value="{{ key }}"{% if key == value %} selected{% endif %}>'
        "{{ _(text) }}</option>{% endfor %}"
    )
    catalogs = Catalogs(("en", "es"), "en")
    token = set_current(language, catalogs.translations(language))
    try:
        expected = loop.render(kinds=PHONE_KINDS, value=selected)
        assert str(choice_options(PHONE_KINDS, selected)) == expected
        assert str(choice_options(PHONE_KINDS, selected)) == expected  # from the cache too
    finally:
        reset_current(token)
    assert ("Móvil" in expected) == (language == "es")
