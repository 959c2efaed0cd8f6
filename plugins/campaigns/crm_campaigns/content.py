"""A campaign's subject, text and HTML parts: Jinja2 templates rendered per recipient in a sandbox.

The templates see the contact's fields (:data:`VARIABLES`) and nothing of the
application: a :class:`jinja2.sandbox.SandboxedEnvironment` refuses attribute
tricks (``{{ contact.__class__ }}``), and an undefined name is an error, not
an empty string, so a misspelt ``{{ frist_name }}`` is caught when the
campaign is saved rather than mailed to a list. Every error names the part
(``subject``, ``text`` or ``html``) and the line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import ValidationError

if TYPE_CHECKING:
    from crm_hookspecs.records import ContactCard

__all__ = ["PARTS", "FieldError", "Rendered", "Templates", "VARIABLES", "sample_card", "variables"]

#: the contact's fields a template may use, as ``{{ first_name }}`` (``contact`` is the whole card)
VARIABLES = (
    "first_name",
    "last_name",
    "display_name",
    "email",
    "organization_name",
    "status",
    "region",
    "country",
    "language",
    "owner",
)
PARTS = ("subject", "text", "html")
SUBJECT_MAX = 500
_SPACE = re.compile(r"\s+")


class FieldError(ValidationError):
    """A bad value of one field of a campaign or a send: ``field`` names it (the HTTP API's ``errors[].field``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@attrs.frozen
class Rendered:
    """A campaign rendered for one contact."""

    subject: str
    text: str
    html: str | None


def _source(sources: dict[str, str], name: str) -> tuple[str, str, Any]:
    return sources[name], name, lambda: True


class Templates:
    """The three parts compiled once, for a whole send; raises ``ValidationError`` naming part and line."""

    def __init__(self, subject: str, text: str, html: str | None) -> None:
        import jinja2
        from jinja2.sandbox import SandboxedEnvironment

        self.sources = {"subject": subject, "text": text}
        if html is not None and html.strip():
            self.sources["html"] = html
        env = SandboxedEnvironment(
            loader=jinja2.FunctionLoader(lambda name: _source(self.sources, name)),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: name == "html",
            keep_trailing_newline=True,
        )
        self.compiled: dict[str, Any] = {}
        for part in self.sources:
            try:
                self.compiled[part] = env.get_template(part)
            except jinja2.TemplateSyntaxError as exc:
                raise FieldError(f"{part}, line {exc.lineno}: {exc.message}; fix the template", field=part) from None

    def render(self, values: dict[str, Any], where: str = "") -> Rendered:
        import jinja2

        out: dict[str, str] = {}
        for part, template in self.compiled.items():
            try:
                out[part] = template.render(values)
            except jinja2.TemplateError as exc:
                line = _line(exc, part)
                at = f", line {line}" if line else ""
                whom = f" for {where}" if where else ""
                hint = (
                    f"; the names a template may use are {', '.join(VARIABLES)} and contact"
                    if isinstance(exc, jinja2.UndefinedError)
                    else ""
                )
                raise FieldError(f"{part}{at}: {str(exc).rstrip('.')}{whom}{hint}", field=part) from None
        subject = _SPACE.sub(" ", out["subject"]).strip()
        if not subject:
            raise FieldError(f"subject: it renders empty{' for ' + where if where else ''}", field="subject")
        return Rendered(subject[:SUBJECT_MAX], out["text"], out.get("html"))


def _line(exc: BaseException, part: str) -> int | None:
    """The template line an error was raised at: Jinja2 puts the template's frames in the traceback."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == part:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def variables(card: ContactCard) -> dict[str, Any]:
    """The names a template sees for one recipient."""
    values: dict[str, Any] = {name: _blank(getattr(card, name, None)) for name in VARIABLES}
    values["contact"] = card
    return values


def _blank(value: Any) -> Any:
    return "" if value is None else value


def sample_card() -> ContactCard:
    """A made-up contact with every field filled: what a campaign is checked with when it is saved."""
    from crm_hookspecs.records import ContactCard

    return ContactCard(
        id=0,
        kind="person",
        display_name="Ana García",
        first_name="Ana",
        last_name="García",
        organization_name="Example Ltd",
        email="ana@example.com",
        status="customer",
        region="Madrid",
        country="ES",
        owner="maria",
        language="es",
    )
