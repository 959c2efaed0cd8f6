"""Bulk mail: every message queued with bulk=True carries an unsubscribe link and the List-Unsubscribe headers (RFC 2369, RFC 8058)."""

from __future__ import annotations

import pytest

from crm_core.errors import ValidationError
from crm_core.mail import OutgoingMessage


class Links:
    """A plugin serving an unsubscribe page, as the portal does; counts its calls."""

    def __init__(self, base: str = "https://crm.example.com/unsubscribe") -> None:
        self.base = base
        self.calls: list[tuple[list[int], str | None]] = []

    @property
    def hook(self):
        def crm_unsubscribe_urls(crm, contact_ids, mailing_list):
            self.calls.append((list(contact_ids), mailing_list))
            return [f"{self.base}/{mailing_list or 'all'}-{c}" for c in contact_ids]

        return crm_unsubscribe_urls


def test_bulk_mail_gets_the_link_in_both_bodies_and_the_one_click_headers(crm_factory, crm_plugin):
    links = Links()
    app = crm_factory([crm_plugin("pages", crm_unsubscribe_urls=links.hook)])
    queued = app.mail.queue(
        "Ana <ana@example.com>", "News", "Hello Ana\n", html="<html><body><p>Hello Ana</p></body></html>",
        bulk=True, contact_id=7, mailing_list="news",
    )  # fmt: skip
    url = "https://crm.example.com/unsubscribe/news-7"
    assert queued.text == f"Hello Ana\n\n-- \nTo stop receiving these e-mails: {url}\n"
    assert (
        f'<p class="unsubscribe" style="font-size:small">To stop receiving these e-mails: <a href="{url}">{url}</a></p>\n</body>'
        in queued.html
    )
    app.mail.deliver()
    (sent,) = app.mail.sent
    assert sent.headers["List-Unsubscribe"] == f"<{url}>"
    assert sent.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parsed = sent.email
    assert parsed["List-Unsubscribe"] == f"<{url}>"
    assert url in parsed.get_body(("plain",)).get_content() and url in parsed.get_body(("html",)).get_content()


def test_queue_many_asks_once_per_list_and_chunk_and_plain_mail_gets_nothing(crm_factory, crm_plugin):
    links = Links()
    app = crm_factory(
        [crm_plugin("pages", crm_unsubscribe_urls=links.hook)],
        mail={"unsubscribe_mailto": "Unsubscribe <leave@example.com>"},
    )
    messages = [
        OutgoingMessage(f"p{i}@example.com", "News", "Hi", bulk=True, contact_id=i, mailing_list="news")
        for i in range(5)
    ]
    messages += [OutgoingMessage(f"q{i}@example.com", "Offer", "Hi", bulk=True, contact_id=10 + i) for i in range(3)]
    messages.append(OutgoingMessage("staff@example.com", "Report", "Numbers"))
    assert app.mail.queue_many(messages) == 9
    assert links.calls == [([0, 1, 2, 3, 4], "news"), ([10, 11, 12], None)]
    app.mail.deliver()
    by_to = {m.recipients[0]: m for m in app.mail.sent}
    assert by_to["p3@example.com"].headers["List-Unsubscribe"] == (
        "<https://crm.example.com/unsubscribe/news-3>, <mailto:leave@example.com?subject=unsubscribe>"
    )
    assert "https://crm.example.com/unsubscribe/all-12" in by_to["q2@example.com"].text
    assert (
        "List-Unsubscribe" not in by_to["staff@example.com"].headers
        and "unsubscribe" not in by_to["staff@example.com"].text
    )


def test_a_template_that_shows_the_link_gets_no_second_one_and_http_links_no_one_click(crm_factory, crm_plugin):
    links = Links("http://localhost:8000/unsubscribe")
    app = crm_factory(
        [crm_plugin("pages", crm_unsubscribe_urls=links.hook)], mail={"unsubscribe_text": "Darse de baja: {url}"}
    )
    url = "http://localhost:8000/unsubscribe/all-3"
    queued = app.mail.queue(
        "ana@example.com", "News", f"Hello\nLeave: {url}\n", html="<p>Hello</p>", bulk=True, contact_id=3
    )
    assert queued.text == f"Hello\nLeave: {url}\n"
    assert (
        queued.html
        == f'<p>Hello</p>\n<p class="unsubscribe" style="font-size:small">Darse de baja: <a href="{url}">{url}</a></p>\n'
    )
    headers = dict(queued.headers)
    assert headers == {"List-Unsubscribe": f"<{url}>"}  # RFC 8058 one-click needs an https link


def test_without_a_plugin_the_configured_mailto_is_the_way_out(crm_factory):
    app = crm_factory([], mail={"unsubscribe_mailto": "leave@example.com"})
    queued = app.mail.queue("ana@example.com", "News", "Hello", bulk=True, contact_id=3, mailing_list="news")
    assert dict(queued.headers) == {"List-Unsubscribe": "<mailto:leave@example.com?subject=unsubscribe>"}
    assert queued.text.endswith("To stop receiving these e-mails: mailto:leave@example.com?subject=unsubscribe\n")


def test_bulk_mail_with_no_way_to_unsubscribe_is_refused_and_nothing_is_queued(crm_factory, crm_plugin):
    app = crm_factory([])
    with pytest.raises(
        ValidationError,
        match=r"bulk mail to ana@example.com needs an unsubscribe link, and no enabled plugin serves an unsubscribe page; enable the portal plugin .* or set \[crm.mail\] unsubscribe_mailto",
    ):
        app.mail.queue("ana@example.com", "News", "Hello", bulk=True, contact_id=3)
    with pytest.raises(ValidationError, match="needs an unsubscribe link"):
        app.mail.queue_many(
            [
                OutgoingMessage("a@example.com", "s", "t"),
                OutgoingMessage("b@example.com", "s", "t", bulk=True, contact_id=1),
            ]
        )
    assert sum(app.mail.counts().values()) == 0
    partial = crm_factory([crm_plugin("pages", crm_unsubscribe_urls=lambda contact_ids: [None for _ in contact_ids])])
    with pytest.raises(ValidationError, match="plugin 'pages' gave no unsubscribe link for contact 4"):
        partial.mail.queue("ana@example.com", "News", "Hello", bulk=True, contact_id=4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bulk": True}, "bulk mail needs contact_id="),
        ({"bulk": True, "contact_id": True}, "bulk mail needs contact_id="),
        ({"contact_id": 3}, "pass bulk=True too"),
        ({"mailing_list": "news"}, "pass bulk=True too"),
        ({"bulk": "yes", "contact_id": 3}, "bulk= must be True or False"),
        ({"bulk": True, "contact_id": 3, "mailing_list": " "}, "mailing_list= must be a list's name"),
        ({"bulk": True, "contact_id": 3, "headers": {"List-Unsubscribe": "<x>"}}, "is set by the mail queue"),
    ],
)
def test_bulk_arguments_are_checked(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        OutgoingMessage("ana@example.com", "s", "t", **kwargs)


def test_bulk_mail_goes_to_one_recipient():
    with pytest.raises(ValidationError, match="one recipient per message"):
        OutgoingMessage(["a@example.com", "b@example.com"], "s", "t", bulk=True, contact_id=1)
