"""The forgotten password: a signed, expiring, single-use link sent through the kernel's mail queue."""

from __future__ import annotations

import re
from typing import Any

from crm_desk.testing import DeskClient

PASSWORD = "Correct-horse-42!"
NEW = "Brand-new-horse-44!"


def _link(crm: Any) -> str:
    from crm_core.mail.models import MailMessage

    with crm.activate():
        row = MailMessage.select().order_by(MailMessage.id.desc()).first()
    assert row is not None, "no mail was queued"
    match = re.search(r"https://crm\.example\.com/desk(/reset/\S+)", row.text_body)
    assert match, row.text_body
    return match.group(1)


def _ask(web: DeskClient, login: str) -> Any:
    web.get("/forgot")
    return web.post("/forgot", {"login": login})


def test_the_link_works_once(web: DeskClient) -> None:
    response = _ask(web, "ana@example.com")
    assert response.status_code == 302
    path = _link(web.crm)
    web.get(path)
    assert web.page.status_code == 200 and "Choose a new password" in web.text
    response = web.post(path, {"password": NEW, "confirm": NEW})
    assert response.status_code == 302
    assert web.sign_in("ana", NEW).status_code == 302
    web.post("/signout")
    assert web.get(path).status_code == 410  # used
    assert "already used" in web.text


def test_the_link_expires(web: DeskClient) -> None:
    _ask(web, "ana")
    path = _link(web.crm)
    web.crm.clock.advance(minutes=61)
    assert web.get(path).status_code == 410
    assert "expired" in web.text


def test_an_unknown_account_gets_the_same_answer_and_no_mail(web: DeskClient) -> None:
    from crm_core.mail.models import MailMessage

    response = _ask(web, "nobody@example.com")
    assert response.status_code == 302
    with web.crm.activate():
        assert MailMessage.select().count() == 0


def test_a_changed_link_is_refused(web: DeskClient) -> None:
    _ask(web, "ana")
    path = _link(web.crm)
    assert web.get(path[:-3] + "abc").status_code == 403


def test_a_weak_password_is_refused_beside_the_field(web: DeskClient) -> None:
    _ask(web, "ana")
    path = _link(web.crm)
    web.get(path)
    assert web.post(path, {"password": "short", "confirm": "short"}).status_code == 400
    assert 'class="error"' in web.text
    assert web.get(path).status_code == 200  # not used up


def test_requests_are_limited_per_user(web: DeskClient) -> None:
    from crm_core.mail.models import MailMessage

    for _ in range(5):
        _ask(web, "ana")
    with web.crm.activate():
        assert MailMessage.select().count() == 3
