"""The portal's Jinja2 templates, outside any web request: the e-mails it sends.

One environment per app: the folder of ``plugins.portal.templates_dir``
first (a theme overrides any template by giving its name), then the
portal's own templates, with gettext in the current language
(:mod:`crm_portal.i18n`). An e-mail template holds three blocks,
``subject``, ``text`` and ``html``, rendered with the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import jinja2

__all__ = ["PACKAGE_TEMPLATES", "RenderedMail", "loader", "mail_environment", "render_mail"]

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"


@attrs.frozen
class RenderedMail:
    subject: str
    text: str
    html: str


def loader(templates_dir: Path | None) -> jinja2.BaseLoader:
    """Templates from the theme folder (if any), then the portal's own."""
    import jinja2

    folders = [str(templates_dir)] if templates_dir is not None else []
    return jinja2.FileSystemLoader([*folders, str(PACKAGE_TEMPLATES)])


def mail_environment(templates_dir: Path | None) -> jinja2.Environment:
    import jinja2

    from crm_portal.i18n import install_jinja

    environment = jinja2.Environment(
        loader=loader(templates_dir),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install_jinja(environment)
    return environment


def render_mail(environment: jinja2.Environment, name: str, values: dict[str, Any]) -> RenderedMail:
    """The ``subject``, ``text`` and ``html`` blocks of template ``name``, in the current language."""
    template = environment.get_template(name)
    context = template.new_context(values)
    parts = {}
    for block in ("subject", "text", "html"):
        render = template.blocks.get(block)
        if render is None:
            raise LookupError(f"the mail template {name} has no {{% block {block} %}}")
        parts[block] = "".join(render(context)).strip()
    subject = " ".join(parts["subject"].split())  # one line, whatever the template's layout
    return RenderedMail(subject=subject, text=parts["text"] + "\n", html=parts["html"])
