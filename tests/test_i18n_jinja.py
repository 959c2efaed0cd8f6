"""crm_core.i18n.install_jinja: ``_()`` in templates says exactly what Jinja2's own new-style gettext says."""

from __future__ import annotations

import gettext

import jinja2
import pytest

from crm_core.i18n import install_jinja, reset_current, set_current


class _Spanish(gettext.NullTranslations):
    TEXTS = {
        "Hello %(name)s": "Hola %(name)s",
        "100%% sure": "100%% seguro",
        "Fish & chips": "Pescado & patatas",
        "<b>Bold</b>": "<b>Negrita</b>",
        "%(num)s item": "%(num)s elemento",
        "%(num)s items": "%(num)s elementos",
    }

    def gettext(self, message: str) -> str:
        return self.TEXTS.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


TEMPLATES = [
    '{{ _("Hello %(name)s", name=who) }}',
    '{{ _("100%% sure") }}',
    '{{ _("Fish & chips") }}|{{ gettext("<b>Bold</b>") }}',
    "{% trans %}Hello {{ who }}{% endtrans %}",
    '{{ ngettext("%(num)s item", "%(num)s items", 3) }}',
    '{{ _("not in the catalog") }} {{ _("Hello %(name)s", name="x") }}',
]


def _jinja_own(autoescape: bool) -> jinja2.Environment:
    environment = jinja2.Environment(autoescape=autoescape, extensions=["jinja2.ext.i18n"])
    translations = _Spanish()
    environment.install_gettext_callables(translations.gettext, translations.ngettext, newstyle=True)
    return environment


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("source", TEMPLATES)
def test_templates_translate_as_jinjas_new_style_gettext(source: str, autoescape: bool) -> None:
    ours = jinja2.Environment(autoescape=autoescape)
    install_jinja(ours)
    token = set_current("es", _Spanish())
    try:
        for who in ("Ana", "<script>"):
            expected = _jinja_own(autoescape).from_string(source).render(who=who)
            assert ours.from_string(source).render(who=who) == expected
            assert ours.from_string(source).render(who=who) == expected  # the remembered texts too
    finally:
        reset_current(token)


def test_the_language_is_the_current_one_at_each_render() -> None:
    environment = jinja2.Environment(autoescape=True)
    install_jinja(environment)
    template = environment.from_string('{{ _("Fish & chips") }}')
    assert template.render() == "Fish & chips"  # a text to translate is markup, as with Jinja2's own
    token = set_current("es", _Spanish())
    try:
        assert template.render() == "Pescado & patatas"
    finally:
        reset_current(token)
    assert template.render() == "Fish & chips"
