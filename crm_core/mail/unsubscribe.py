"""Unsubscribe links in bulk mail: the ``List-Unsubscribe`` headers and a line in the bodies.

A message queued with ``bulk=True`` (a survey invitation, a newsletter) gets,
when it is queued:

* ``List-Unsubscribe: <https://…>`` with the link of the plugin that serves
  the unsubscribe page (``crm_unsubscribe_urls``; the portal), and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) when the
  link is ``https``, so mail programs show an unsubscribe button that works
  in one click;
* ``<mailto:…?subject=unsubscribe>`` as well when ``[crm.mail]
  unsubscribe_mailto`` is set, or alone when no plugin gives a link;
* the line ``[crm.mail] unsubscribe_text`` at the end of the text body and
  of the HTML body, unless the body shows the link already (a template
  that placed it itself).

Bulk mail with no link and no ``unsubscribe_mailto`` is refused: the law
(ePrivacy, CAN-SPAM) and the large mailbox providers require a way out of
every bulk message, and a CRM that sent them without one would put the
sender's reputation at risk without saying so.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import ValidationError
from crm_core.mail.address import check_header_value, parse_address
from crm_core.mail.message import envelope_address

if TYPE_CHECKING:
    from crm_core.context import AppContext
    from crm_core.mail.message import OutgoingMessage

__all__ = ["Unsubscribe", "apply", "unsubscribe_links"]

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@attrs.frozen
class Unsubscribe:
    """How one recipient unsubscribes: a web link, a mailto address, or both."""

    url: str | None
    mailto: str | None

    @property
    def link(self) -> str:
        """What the bodies show: the web link, else the mailto URI."""
        return self.url or self.mailto or ""

    def headers(self) -> list[tuple[str, str]]:
        uris = [u for u in (self.url, self.mailto) if u]
        out = [("List-Unsubscribe", ", ".join(f"<{u}>" for u in uris))]
        if self.url and self.url.startswith("https://"):
            # RFC 8058 one-click: only for an HTTPS link (a POST to it unsubscribes)
            out.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return out


def unsubscribe_links(app: AppContext, settings: Any, messages: Sequence[OutgoingMessage]) -> dict[int, Unsubscribe]:
    """The :class:`Unsubscribe` of each bulk message, by its index in ``messages``.

    One hook call per mailing list among the messages. Raises
    ``ValidationError`` naming the fix when a bulk message would get no way
    to unsubscribe.
    """
    groups: dict[str | None, list[int]] = {}
    for index, message in enumerate(messages):
        if message.bulk:
            groups.setdefault(message.mailing_list, []).append(index)
    if not groups:
        return {}
    mailto = None
    if settings.unsubscribe_mailto:
        address = parse_address(settings.unsubscribe_mailto, "[crm.mail] unsubscribe_mailto")
        mailto = f"mailto:{envelope_address(str(address))}?subject=unsubscribe"
    out: dict[int, Unsubscribe] = {}
    for mailing_list, indexes in groups.items():
        contact_ids = [int(messages[i].contact_id) for i in indexes]  # type: ignore[arg-type]
        answer = app.hooks.unsubscribe_urls(app, contact_ids, mailing_list)
        urls = answer[1] if answer is not None else [None] * len(indexes)
        for index, contact_id, url in zip(indexes, contact_ids, urls):
            if url is None and mailto is None:
                if answer is None:
                    provider = "no enabled plugin serves an unsubscribe page"
                else:
                    provider = f"plugin {answer[0]!r} gave no unsubscribe link for contact {contact_id}"
                raise ValidationError(
                    f"bulk mail to {messages[index].to[0]} needs an unsubscribe link, and {provider}; "
                    "enable the portal plugin (it serves the unsubscribe page), or set [crm.mail] unsubscribe_mailto "
                    "to an address that handles unsubscribe requests"
                )
            if url is not None:
                check_header_value(url, "the unsubscribe link")
            out[index] = Unsubscribe(url, mailto)
    return out


def apply(row: dict[str, Any], unsubscribe: Unsubscribe, text: str) -> None:
    """Add the headers and the line to a queue row (its ``text_body``, ``html_body`` and ``headers``, as a list)."""
    link = unsubscribe.link
    line = text.replace("{url}", link)
    body = row["text_body"]
    if link not in body:
        row["text_body"] = f"{body.rstrip()}\n\n-- \n{line}\n"
    page = row["html_body"]
    if page is not None and html.escape(link) not in page and link not in page:
        anchor = f'<a href="{html.escape(link)}">{html.escape(link)}</a>'
        footer = f'<p class="unsubscribe" style="font-size:small">{html.escape(text).replace("{url}", anchor)}</p>'
        ends = list(_BODY_END.finditer(page))
        if ends:
            at = ends[-1].start()
            row["html_body"] = f"{page[:at]}{footer}\n{page[at:]}"
        else:
            row["html_body"] = f"{page}\n{footer}\n"
    row["headers"].extend(unsubscribe.headers())
