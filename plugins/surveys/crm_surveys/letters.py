"""Paper letters: the survey as a PDF to print, fold into a window envelope and fill in by hand.

The first page holds the recipient's address where the envelope's window
shows it (``plugins.surveys.letters``; DIN 5008 form B by default: 20 mm
from the left, 45 mm from the top), a small return-address line above it,
and on the right the letter's paper code and a QR code of it. The
questions follow, each kept whole on a page, with boxes to tick, numbered
scales and ruled lines. Every page's footer repeats the code, so staff can
type a letter's answers back in from any page (``crm surveys enter-paper``).

The invitations are committed before the PDFs are drawn: a letter run that
stops half-way is run again and reprints the same letters with the same
codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.pagesizes import letter as US_LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
)

from crm_core.clock import naive_utc
from crm_core.errors import ValidationError
from crm_core.storage import batched, bulk_insert
from crm_surveys import catalog
from crm_surveys.collect import month_of, secret
from crm_surveys.models import Invitation, Survey
from crm_surveys.sending import PAGE, get_round
from crm_surveys.tokens import make_code

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import ContactCard, SurveyCondition, SurveyQuestion
    from crm_surveys.definition import SurveyDefinition
    from crm_surveys.scope import ContactScope
    from crm_surveys.settings import LetterSettings

__all__ = ["Letter", "LetterPrinter", "LetterReport", "draw_letters", "make_letters"]

MM = 72 / 25.4
#: the address window's size (DIN 5008: 85 x 45 mm)
WINDOW = (85 * MM, 40 * MM)
QR_SIZE = 28 * MM


@attrs.frozen
class Letter:
    """What one letter needs: who, where, and which code."""

    code: str
    name: str
    address_lines: tuple[str, ...]
    greeting_name: str


@attrs.frozen
class LetterReport:
    survey_id: int
    survey_key: str
    version: int
    directory: Path
    files: tuple[Path, ...]
    letters: int
    new: int
    reprinted: int
    already_invited: int
    do_not_contact: int
    unsubscribed: int
    no_address: int
    #: contacts of the list the acting user may not read (no letter; always 0 for the system)
    out_of_scope: int = 0


def _letter_for(card: ContactCard, code: str) -> Letter:
    lines: list[str] = [card.display_name]
    if card.kind == "person" and card.organization_name:
        lines.append(card.organization_name)
    if card.address is not None:
        lines += card.address.lines()
    return Letter(code=code, name=card.display_name, address_lines=tuple(lines), greeting_name=card.display_name)


def make_letters(
    crm: CRM,
    survey: Survey,
    source: str,
    directory: Path,
    *,
    round_key: str = "manual",
    combined: bool = False,
    scope: ContactScope | None = None,
) -> LetterReport:
    """Invite the postal audience of ``source`` and write their letters to ``directory``.

    With ``scope``, only the contacts of ``source`` in it get a letter; the
    others are counted in ``out_of_scope``.
    """
    from crm_hookspecs.events import SurveySent

    if round_key == "direct":
        raise ValidationError("round 'direct' holds answers taken without a mailing; choose another round name")
    contacts = crm.plugin("contacts")
    counts = contacts.audience_report(source, "post")
    definition = catalog.definition(survey.id)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create the folder {directory} for the letters: {exc.strerror}") from None
    key = secret(crm)
    now = crm.clock.now()
    month = month_of(crm, now)
    cards: list[ContactCard] = []
    already = reprinted = new = out_of_scope = 0
    with crm.transaction():
        round_ = get_round(crm, survey, round_key)
        # peewee's stubs type .tuples() as yielding the model; the rows are the selected columns
        rows = cast(
            "Iterable[tuple[int, int | None, str, int]]",
            Invitation.select(Invitation.id, Invitation.contact_id, Invitation.medium, Invitation.version)
            .where(Invitation.round == round_.id)
            .tuples(),
        )
        existing = {contact: (pk, medium, version) for pk, contact, medium, version in rows}
        for page in batched(contacts.audience(source, "post"), PAGE):
            if scope is not None and scope.limited():
                reachable = scope.reachable(card.id for card in page)
                out_of_scope += sum(1 for card in page if card.id not in reachable)
                page = [card for card in page if card.id in reachable]
            fresh = []
            for card in page:
                seen = existing.get(card.id)
                if seen is None:
                    fresh.append(card)
                elif seen[1] == "post" and seen[2] == survey.current_version:
                    cards.append(card)
                    reprinted += 1
                else:
                    already += 1
            if fresh:
                bulk_insert(
                    Invitation,
                    (
                        "survey_id",
                        "round_id",
                        "version",
                        "contact_id",
                        "original_contact_id",
                        "medium",
                        "region",
                        "month",
                        "sent_at",
                        "source",
                    ),
                    [
                        (
                            survey.id,
                            round_.id,
                            survey.current_version,
                            c.id,
                            c.id,
                            "post",
                            c.region,
                            month,
                            naive_utc(now),
                            source,
                        )
                        for c in fresh
                    ],
                    database=crm.database,
                )
                ids: dict[int, int] = dict(
                    cast(
                        "Iterable[tuple[int, int]]",
                        Invitation.select(Invitation.original_contact_id, Invitation.id)
                        .where(
                            (Invitation.round == round_.id) & Invitation.original_contact_id.in_([c.id for c in fresh])
                        )
                        .tuples(),
                    )
                )
                for card in fresh:
                    existing[card.id] = (ids[card.id], "post", survey.current_version)
                crm.events.emit_many(
                    SurveySent(survey_id=survey.id, version=survey.current_version, contact_id=c.id, medium="post")
                    for c in fresh
                )
                cards.extend(fresh)
                new += len(fresh)
    letters = [_letter_for(card, make_code(key, existing[card.id][0])) for card in cards]
    settings = crm.settings("surveys").letters
    today = now.astimezone(crm.tz).date()
    files: list[Path] = []
    if combined and letters:
        path = directory / f"{survey.key}-v{survey.current_version}-letters.pdf"
        draw_letters(path, survey.key, definition, letters, settings, today)
        files.append(path)
    elif letters:
        for letter in letters:
            path = directory / f"{survey.key}-{letter.code}.pdf"
            draw_letters(path, survey.key, definition, [letter], settings, today)
            files.append(path)
    return LetterReport(
        survey_id=survey.id,
        survey_key=survey.key,
        version=survey.current_version,
        directory=directory,
        files=tuple(files),
        letters=len(letters),
        new=new,
        reprinted=reprinted,
        already_invited=already,
        do_not_contact=counts.get("do_not_contact", 0),
        unsubscribed=counts.get("unsubscribed", 0),
        no_address=counts.get("no_address", 0),
        out_of_scope=out_of_scope,
    )


class LetterPrinter:
    """Paper letters to the postal addresses of a list or segment, for the contacts the acting user may reach."""

    def __init__(self, crm: CRM, scope: ContactScope) -> None:
        self.crm = crm
        self.scope = scope

    def print(
        self, survey: Survey, source: str, directory: Path, *, round_key: str = "manual", combined: bool = False
    ) -> LetterReport:
        with self.crm.activate():
            return make_letters(
                self.crm, survey, source, directory, round_key=round_key, combined=combined, scope=self.scope
            )


# -- drawing ------------------------------------------------------------------------


def _fonts(settings: LetterSettings) -> tuple[str, str]:
    """The regular and bold font names: Helvetica, or the configured TrueType font."""
    if not settings.font_file:
        return "Helvetica", "Helvetica-Bold"
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    name = "SurveyFont"
    if name not in pdfmetrics.getRegisteredFontNames():
        try:
            pdfmetrics.registerFont(TTFont(name, settings.font_file))
        except (TTFError, OSError) as exc:
            raise ValidationError(
                f"plugins.surveys.letters.font_file {settings.font_file!r} cannot be used: {exc}; name a TrueType (.ttf) file"
            ) from None
    return name, name


def draw_letters(
    path: Path,
    survey_key: str,
    definition: SurveyDefinition,
    letters: Sequence[Letter],
    settings: LetterSettings,
    today: dt.date,
) -> None:
    """Write ``letters`` (one after the other, each starting on a new page) to ``path``."""
    regular, bold = _fonts(settings)
    page_size = A4 if settings.page_size == "A4" else US_LETTER
    width, height = page_size
    margin = 20 * MM
    styles = {
        "title": ParagraphStyle("title", fontName=bold, fontSize=14, leading=18, spaceAfter=6),
        "body": ParagraphStyle("body", fontName=regular, fontSize=10, leading=13, spaceAfter=6),
        "question": ParagraphStyle("question", fontName=bold, fontSize=10.5, leading=13.5, spaceBefore=8, spaceAfter=3),
        "note": ParagraphStyle("note", fontName=regular, fontSize=8.5, leading=11, textColor="#555555", spaceAfter=3),
        "choice": ParagraphStyle("choice", fontName=regular, fontSize=10, leading=13),
    }
    doc = BaseDocTemplate(
        str(path),
        pagesize=page_size,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 8 * MM,
        title=definition.title,
        author="CRM surveys",
    )
    frame = Frame(margin, margin + 8 * MM, width - 2 * margin, height - 2 * margin - 8 * MM, id="body")
    current: dict[str, Any] = {"letter": None, "page": 0}

    def footer(canvas: Any, _doc: Any) -> None:
        letter = current["letter"]
        if letter is None:
            return
        current["page"] += 1
        canvas.saveState()
        canvas.setFont(regular, 8)
        canvas.setFillColor("#555555")
        canvas.drawString(margin, margin, f"{definition.title} · survey {survey_key} · code {letter.code}")
        canvas.drawRightString(width - margin, margin, f"page {current['page']}")
        canvas.restoreState()

    doc.addPageTemplates([PageTemplate(id="letter", frames=[frame], onPageEnd=footer)])
    story: list[Any] = []
    for number, letter in enumerate(letters):
        if number:
            story.append(PageBreak())
        story.append(_LetterHead(letter, settings, regular, bold, today, page_size, current))
        story += _body(definition, letter, styles, regular)
    try:
        doc.build(story)
    except OSError as exc:
        raise ValidationError(f"cannot write the letter {path}: {exc.strerror}") from None


def _escape(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text).replace("\n", "<br/>")


def _body(definition: SurveyDefinition, letter: Letter, styles: dict[str, Any], font: str) -> list[Any]:
    out: list[Any] = [
        Paragraph(_escape(definition.title), styles["title"]),
        Paragraph(f"Dear {_escape(letter.greeting_name)},", styles["body"]),
    ]
    if definition.introduction:
        out.append(Paragraph(_escape(definition.introduction), styles["body"]))
    out.append(
        Paragraph(
            "Please answer with a pen: tick one box where a question asks for one answer, every box that applies where it "
            "says so, and write in the lines. Questions marked * need an answer.",
            styles["note"],
        )
    )
    numbers = {q.key: n for n, q in enumerate(definition.questions, start=1)}
    for n, question in enumerate(definition.questions, start=1):
        block: list[Any] = [
            Paragraph(f"{n}. {_escape(question.text)}{' *' if question.required else ''}", styles["question"])
        ]
        if question.show_if is not None:
            block.append(Paragraph(_escape(_condition_text(question.show_if, numbers)), styles["note"]))
        if question.help:
            block.append(Paragraph(_escape(question.help), styles["note"]))
        block += _answer_area(question, styles, font)
        out.append(KeepTogether(block))
    out.append(Spacer(1, 6 * MM))
    out.append(
        Paragraph("Thank you for your answers. Please return this form in the envelope enclosed.", styles["body"])
    )
    return out


def _condition_text(cond: SurveyCondition, numbers: dict[str, int]) -> str:
    target = f"question {numbers.get(cond.question, '?')}"
    value = cond.value
    words = {
        "=": "was",
        "!=": "was not",
        "<": "was less than",
        "<=": "was at most",
        ">": "was more than",
        ">=": "was at least",
    }
    if cond.op == "answered":
        return f"Answer only if you answered {target}."
    if cond.op == "contains":
        return f"Answer only if you ticked “{value}” in {target}."
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if cond.op in ("in", "not in"):
        listed = " or ".join(f"“{v}”" if isinstance(v, str) else str(v) for v in value)
        return f"Answer only if your answer to {target} was {'not ' if cond.op == 'not in' else ''}{listed}."
    shown = f"“{value}”" if isinstance(value, str) and value not in ("yes", "no") else str(value)
    return f"Answer only if your answer to {target} {words[cond.op]} {shown}."


def _answer_area(question: SurveyQuestion, styles: dict[str, Any], font: str) -> list[Any]:
    kind = question.kind
    if kind in ("nps", "csat", "rating"):
        low = question.min_label or {"nps": "Not at all likely", "csat": "Very dissatisfied"}.get(kind, "")
        high = question.max_label or {"nps": "Extremely likely", "csat": "Very satisfied"}.get(kind, "")
        # a scale question always has both ends (definition.py gives them)
        assert question.min is not None and question.max is not None
        return [_Scale(list(range(question.min, question.max + 1)), low, high, font)]
    if kind == "yes_no":
        return [_Boxes(["Yes", "No"], font, inline=True)]
    if kind in ("single_choice", "multiple_choice"):
        hint = "Tick one." if kind == "single_choice" else "Tick every box that applies."
        return [Paragraph(hint, styles["note"]), _Boxes(list(question.choices), font)]
    lines = min(8, max(3, (question.max_length or 0) // 250))
    return [_Lines(lines)]


class _Scale(Flowable):  # type: ignore[misc]  # reportlab has no type information
    """A row of numbered boxes, with the end labels under its ends."""

    def __init__(self, values: list[int], low: str, high: str, font: str) -> None:
        super().__init__()
        self.values, self.low, self.high, self.font = values, low, high, font
        self.box = 7 * MM

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.step = min(13 * MM, avail_width / max(len(self.values), 1))
        self.width = self.step * len(self.values)
        self.height = self.box + 9 * MM
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.setFont(self.font, 9)
        top = self.height
        for i, value in enumerate(self.values):
            x = i * self.step + (self.step - self.box) / 2
            c.rect(x, top - self.box - 4 * MM, self.box, self.box)
            c.drawCentredString(x + self.box / 2, top - 3 * MM, str(value))
        c.setFont(self.font, 7.5)
        c.setFillColor("#555555")
        if self.low:
            c.drawString(0, 1 * MM, self.low)
        if self.high:
            c.drawRightString(self.width, 1 * MM, self.high)


class _Boxes(Flowable):  # type: ignore[misc]  # reportlab has no type information
    """A tick box before each label: one per line, or side by side."""

    def __init__(self, labels: list[str], font: str, inline: bool = False) -> None:
        super().__init__()
        self.labels, self.font, self.inline = labels, font, inline
        self.box = 4 * MM
        self.line = 7 * MM

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = avail_width
        self.height = self.line if self.inline else self.line * len(self.labels)
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.setFont(self.font, 10)
        for i, label in enumerate(self.labels):
            if self.inline:
                x, y = i * 30 * MM, 1.5 * MM
            else:
                x, y = 0, self.height - (i + 1) * self.line + 1.5 * MM
            c.rect(x, y, self.box, self.box)
            c.drawString(x + self.box + 2.5 * MM, y + 0.8 * MM, label)


class _Lines(Flowable):  # type: ignore[misc]  # reportlab has no type information
    """Ruled lines to write on."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.gap = 8 * MM

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = avail_width
        self.height = self.gap * self.count
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.setStrokeColor("#999999")
        for i in range(self.count):
            y = self.height - (i + 1) * self.gap + 1
            c.line(0, y, self.width, y)


class _LetterHead(Flowable):  # type: ignore[misc]  # reportlab has no type information
    """The first page's top: drawn at fixed places on the page, whatever the frame."""

    def __init__(
        self,
        letter: Letter,
        settings: LetterSettings,
        regular: str,
        bold: str,
        today: dt.date,
        page_size: tuple[float, float],
        current: dict[str, Any],
    ) -> None:
        super().__init__()
        self.letter, self.settings, self.regular, self.bold = letter, settings, regular, bold
        self.today, self.page_size, self.current = today, page_size, current

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        # reserve the frame's space down to below the address window
        window_bottom = self.settings.address_top_mm * MM + WINDOW[1]
        frame_top = 20 * MM
        self.height = max(0.0, window_bottom - frame_top + 8 * MM)
        return avail_width, self.height

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802 - reportlab's name
        # the footer of this page belongs to this letter
        self.current["letter"] = self.letter
        self.current["page"] = 0
        width, height = self.page_size
        left = self.settings.address_left_mm * MM
        top = height - self.settings.address_top_mm * MM
        canvas.saveState()
        y_pos = top - 3 * MM
        if self.settings.return_address:
            canvas.setFont(self.regular, 7)
            canvas.drawString(left, y_pos, self.settings.return_address[:90])
            canvas.setLineWidth(0.4)
            canvas.line(left, y_pos - 1.2 * MM, left + WINDOW[0], y_pos - 1.2 * MM)
            y_pos -= 7 * MM
        else:
            y_pos -= 4 * MM
        canvas.setFont(self.regular, 10.5)
        for line in self.letter.address_lines[:7]:
            canvas.drawString(left, y_pos, line)
            y_pos -= 4.6 * MM
        # the code and its QR code, right of the window
        qr = QrCodeWidget(self.letter.code)
        x0, y0, x1, y1 = qr.getBounds()
        drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0])
        drawing.add(qr)
        qr_left = width - 20 * MM - QR_SIZE
        renderPDF.draw(drawing, canvas, qr_left, top - QR_SIZE)
        canvas.setFont(self.bold, 11)
        canvas.drawCentredString(qr_left + QR_SIZE / 2, top - QR_SIZE - 5 * MM, self.letter.code)
        canvas.setFont(self.regular, 8)
        canvas.drawCentredString(qr_left + QR_SIZE / 2, top - QR_SIZE - 9 * MM, self.today.isoformat())
        canvas.restoreState()
