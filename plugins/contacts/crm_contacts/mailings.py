"""What a list or segment becomes on the way out: e-mail distribution lists and postal labels.

Everything here reads :meth:`MailingLists.audience`, so deleted contacts,
do-not-contact flags and per-list unsubscribes are honoured in one place;
each function returns a :class:`MailingCounts` with who was left out and why.
Labels come as CSV for a word processor's mail merge, or as a PDF of label
sheets laid out by ``[plugins.contacts.labels]``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

import attrs

from crm_core.errors import CRMError, ValidationError
from crm_core.output import csv_safe
from crm_hookspecs.records import ContactCard

if TYPE_CHECKING:
    from crm_contacts.lists import MailingLists
    from crm_core.app import CRM

__all__ = [
    "DISTRIBUTION_FORMATS",
    "LABEL_COLUMNS",
    "MailingCounts",
    "Mailings",
    "PdfUnavailable",
    "label_lines",
    "require_pdf",
]

DISTRIBUTION_FORMATS = ("csv", "addresses")
DISTRIBUTION_COLUMNS = ("email", "name", "first_name", "last_name", "language", "contact_id")
LABEL_COLUMNS = (
    "contact_id",
    "name",
    "organization",
    "street",
    "extra",
    "postal_code",
    "city",
    "region",
    "country",
    "label",
)
_MM = 72 / 25.4  # points per millimetre
_PAGE_SIZES = {"A4": (210 * _MM, 297 * _MM), "letter": (612.0, 792.0)}
_COUNTRY_NAMES = {
    "ES": "SPAIN",
    "FR": "FRANCE",
    "DE": "GERMANY",
    "IT": "ITALY",
    "PT": "PORTUGAL",
    "GB": "UNITED KINGDOM",
    "IE": "IRELAND",
    "US": "UNITED STATES",
    "MX": "MEXICO",
    "NL": "NETHERLANDS",
    "BE": "BELGIUM",
    "CH": "SWITZERLAND",
    "AT": "AUSTRIA",
    "CA": "CANADA",
    "AR": "ARGENTINA",
    "BR": "BRAZIL",
    "CL": "CHILE",
    "CO": "COLOMBIA",
}


@attrs.frozen
class MailingCounts:
    """Who a distribution list or label sheet holds and who it left out, and why."""

    written: int
    do_not_contact: int
    unsubscribed: int
    no_address: int

    def summary(self, what: str) -> str:
        medium = "an e-mail address" if what == "addresses" else "a postal address"
        return (
            f"{self.written} {what} written; left out: {self.do_not_contact} do-not-contact, "
            f"{self.unsubscribed} unsubscribed from the list, {self.no_address} without {medium}"
        )


def label_lines(card: ContactCard, home_country: str | None = None) -> list[str]:
    """The lines of a postal label: name, organization, street… and the country when it is abroad."""
    address = card.address
    lines = [card.display_name]
    if card.kind == "person" and card.organization_name:
        lines.append(card.organization_name)
    if address is None:
        return lines
    city_line = " ".join(p for p in (address.postal_code, address.city) if p)
    lines += [p for p in (address.street, address.extra, city_line, address.region) if p]
    if address.country and address.country != (home_country or ""):
        lines.append(_COUNTRY_NAMES.get(address.country, address.country))
    return lines


class Mailings:
    """The distribution lists and labels service, built on the lists' audiences.

    ``visible`` (the reader's contact scope, a peewee expression) is passed
    on to :meth:`MailingLists.audience`.
    """

    def __init__(self, crm: CRM, lists: MailingLists) -> None:
        self.crm = crm
        self._lists = lists

    def _left_out(self, source: str, medium: str, visible: Any) -> dict[str, int]:
        """The audience report, asked first so that an unknown source fails before anything is written."""
        return self._lists.audience_report(source, medium, visible=visible)

    @staticmethod
    def _counts(report: dict[str, int], written: int) -> MailingCounts:
        return MailingCounts(written, report["do_not_contact"], report["unsubscribed"], report["no_address"])

    def distribution_list(self, source: str, out: IO[str], fmt: str = "csv", *, visible: Any = None) -> MailingCounts:
        """Write the e-mail audience of a list or segment: ``csv`` (address, name, language…) or ``addresses`` (one per line)."""
        if fmt not in DISTRIBUTION_FORMATS:
            raise ValidationError(f"distribution list format {fmt!r} is not known; use csv or addresses")
        report = self._left_out(source, "email", visible)
        cards: Iterable[ContactCard] = self._lists.audience(source, "email", visible=visible)
        written = 0
        if fmt == "addresses":
            for card in cards:
                out.write(f"{card.email}\n")
                written += 1
        else:
            writer = csv.writer(out)
            writer.writerow(DISTRIBUTION_COLUMNS)
            for card in cards:
                writer.writerow(
                    [
                        csv_safe(v)
                        for v in (
                            card.email,
                            card.display_name,
                            card.first_name,
                            card.last_name,
                            card.language or "",
                            card.id,
                        )
                    ]
                )
                written += 1
        return self._counts(report, written)

    def labels_csv(self, source: str, out: IO[str], *, visible: Any = None) -> MailingCounts:
        """Write the postal audience of a list or segment as CSV for a mail merge (one row per label)."""
        home = self.crm.settings("contacts").default_region or None
        report = self._left_out(source, "post", visible)
        writer = csv.writer(out)
        writer.writerow(LABEL_COLUMNS)
        written = 0
        for card in self._lists.audience(source, "post", visible=visible):
            a = card.address
            assert a is not None  # the post audience holds contacts with an address only
            organization = card.organization_name if card.kind == "person" else ""
            row = [
                card.id,
                card.display_name,
                organization or "",
                a.street,
                a.extra,
                a.postal_code,
                a.city,
                a.region,
                a.country,
                "\n".join(label_lines(card, home)),
            ]
            writer.writerow([csv_safe(v) for v in row])
            written += 1
        return self._counts(report, written)

    def labels_pdf(self, source: str, out: str | os.PathLike[str] | IO[bytes], *, visible: Any = None) -> MailingCounts:
        """Write the postal audience of a list or segment as a PDF of label sheets (``[plugins.contacts.labels]``).

        Needs reportlab (``pip install 'crm-contacts[pdf]'``): without it,
        :class:`PdfUnavailable` before anything is read or written.
        """
        require_pdf()
        settings = self.crm.settings("contacts").labels
        home = self.crm.settings("contacts").default_region or None
        sheet = _Sheet(settings)
        report = self._left_out(source, "post", visible)
        cards = self._lists.audience(source, "post", visible=visible)
        written = sheet.write(out, (label_lines(card, home) for card in cards))
        return self._counts(report, written)


class PdfUnavailable(CRMError):
    """PDF labels were asked for where reportlab (the ``pdf`` extra of crm-contacts) is not installed."""

    code = "pdf_unavailable"
    http_status = 501

    exit_code = 1


def require_pdf() -> None:
    """Raise :class:`PdfUnavailable`, naming the fix, when reportlab cannot be imported."""
    try:
        import reportlab  # noqa: F401 - only whether it is there
    except ImportError:
        raise PdfUnavailable(
            "PDF labels need reportlab, which is not installed: pip install 'crm-contacts[pdf]' "
            "(or write the labels as CSV for a mail merge: --format csv)"
        ) from None


class _Sheet:
    """A label sheet: ``columns`` × ``rows`` equal labels inside the page margin."""

    PADDING_MM = 3.0
    MIN_FONT = 6.0

    def __init__(self, settings: Any) -> None:
        self.page_width, self.page_height = _PAGE_SIZES[settings.page_size]
        margin = settings.margin_mm * _MM
        self.margin = margin
        self.columns, self.rows = settings.columns, settings.rows
        self.width = (self.page_width - 2 * margin) / self.columns
        self.height = (self.page_height - 2 * margin) / self.rows
        self.font_size = settings.font_size
        padding = self.PADDING_MM * _MM
        if margin < 0 or self.width <= 2 * padding + self.MIN_FONT or self.height <= 2 * padding + self.MIN_FONT:
            raise ValidationError(
                f"plugins.contacts.labels: {self.columns} × {self.rows} labels with a {settings.margin_mm} mm margin do not fit "
                f"on a {settings.page_size} page (each would be {self.width / _MM:.0f} × {self.height / _MM:.0f} mm); "
                "use fewer columns or rows, or a smaller margin"
            )
        self.padding = padding

    def write(self, out: str | os.PathLike[str] | IO[bytes], labels: Iterable[list[str]]) -> int:
        from reportlab.pdfbase.pdfmetrics import stringWidth
        from reportlab.pdfgen.canvas import Canvas

        font = _font()
        target = os.fspath(out) if isinstance(out, (str, os.PathLike)) else out
        canvas = Canvas(target, pagesize=(self.page_width, self.page_height))
        canvas.setTitle("Address labels")
        per_page = self.columns * self.rows
        count = 0
        for count, lines in enumerate(labels, 1):
            slot = (count - 1) % per_page
            if slot == 0 and count > 1:
                canvas.showPage()
            column, row = slot % self.columns, slot // self.columns
            left = self.margin + column * self.width + self.padding
            top = self.page_height - self.margin - row * self.height - self.padding
            room_w = self.width - 2 * self.padding
            room_h = self.height - 2 * self.padding
            size = self.font_size
            # shrink to fit the lines, then cut what is still too wide
            while size > self.MIN_FONT and len(lines) * size * 1.2 > room_h:
                size -= 0.5
            shown = lines[: max(1, int(room_h // (size * 1.2)))]
            canvas.setFont(font, size)
            for i, text in enumerate(shown):
                while text and stringWidth(text, font, size) > room_w:
                    text = text[:-2] + "…"
                canvas.drawString(left, top - size - i * size * 1.2, text)
        if count == 0:
            canvas.setFont(font, self.font_size)
            canvas.drawString(
                self.margin,
                self.page_height - self.margin - self.font_size,
                "(no contact with a postal address to label)",
            )
        canvas.save()
        return count


def _font() -> str:
    """DejaVu Sans where installed (it has every European letter), else Helvetica (Latin-1 only)."""
    from reportlab.pdfbase import pdfmetrics

    name = "CRMLabelSans"
    if name in pdfmetrics.getRegisteredFontNames():
        return name
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"):
        if os.path.exists(path):
            from reportlab.pdfbase.ttfonts import TTFError, TTFont

            try:
                pdfmetrics.registerFont(TTFont(name, path))
                return name
            except (TTFError, OSError):
                break
    return "Helvetica"
