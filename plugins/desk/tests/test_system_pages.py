"""The system part of the administration: admin.system only; plugins, checks, migrations, mail, jobs, event failures."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

from crm_desk.testing import DeskClient
from crm_hookspecs.events import ContactCreated

PASSWORD = "Correct-horse-42!"
PAGES = ["/admin/system", "/admin/mail", "/admin/jobs", "/admin/events"]
#: a failing handler is what several tests check
pytestmark = pytest.mark.crm_allow_delivery_failures
FORMS = ["/admin/mail/retry", "/admin/mail/MAIL/retry", "/admin/events/retry", "/admin/events/FAILURE/retry"]


class Flaky:
    """An event handler that fails while ``broken``."""

    def __init__(self) -> None:
        self.broken = True
        self.seen: list[int] = []

    def __call__(self, crm: Any, events: Any) -> None:
        for event in events:
            if not isinstance(event, ContactCreated):
                continue
            if self.broken:
                raise RuntimeError(f"the ledger is offline for contact {event.contact_id}")
            self.seen.append(event.contact_id)


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
def system_app(desk_app: Callable[..., Any], crm_plugin: Callable[..., Any], flaky: Flaky) -> Any:
    crm = desk_app(crm_plugin("ledger", crm_handle_events=lambda crm, events: flaky(crm, events)))
    crm.authz.users.add("marta", display_name="Marta", email="marta@example.com", roles=["manager"], password=PASSWORD)
    return crm


@pytest.fixture
def admin(system_app: Any) -> DeskClient:
    web = DeskClient(system_app)
    web.sign_in("root", PASSWORD)
    return web


def _failed_mail(crm: Any, error: str = "550 5.1.1 mailbox unavailable") -> int:
    from crm_core.mail.models import MailMessage

    message = crm.mail.queue("lost@example.com", "Your invoice", "Hello", key="invoice-1")
    with crm.activate():
        MailMessage.update(status="failed", attempts=3, last_error=error).where(MailMessage.id == message.id).execute()
    return int(message.id)


def _failed_delivery(crm: Any) -> int:
    crm.emit(ContactCreated(contact_id=7, data={"name": "Lucía"}))
    failures = crm.events.failed()
    assert len(failures) == 1
    return int(failures[0].id)


def test_the_admin_sees_the_system_tabs_and_pages(admin: DeskClient) -> None:
    admin.get("/admin/users")
    for url in PAGES:
        assert f'href="{url}"' in admin.text, url
    for url in PAGES:
        assert admin.get(url).status_code == 200, url


@pytest.mark.parametrize("who", ["ana", "marta"])
def test_sales_and_managers_get_403_on_every_system_page_and_action(system_app: Any, who: str) -> None:
    web = DeskClient(system_app)
    web.sign_in(who, PASSWORD)
    for url in PAGES:
        assert web.get(url).status_code == 403, url
    mail_id = _failed_mail(system_app)
    failure = _failed_delivery(system_app)
    for url in FORMS:
        url = url.replace("MAIL", str(mail_id)).replace("FAILURE", str(failure))
        assert web.post(url, {}).status_code == 403, url
    assert system_app.mail.counts()["failed"] == 1 and len(system_app.events.failed()) == 1


def test_a_role_with_admin_system_alone_sees_only_the_system_sections(system_app: Any) -> None:
    system_app.authz.roles.add("operator", permissions=["admin.system"])
    system_app.authz.users.add("olga", roles=["operator"], password=PASSWORD)
    web = DeskClient(system_app)
    web.sign_in("olga", PASSWORD)
    assert web.get("/admin/").headers["Location"] == "/admin/system"
    assert web.get("/admin/mail").status_code == 200
    assert web.get("/admin/users").status_code == 403


def test_every_system_form_needs_its_csrf_token(admin: DeskClient, system_app: Any) -> None:
    mail_id = _failed_mail(system_app)
    failure = _failed_delivery(system_app)
    for url in FORMS:
        url = url.replace("MAIL", str(mail_id)).replace("FAILURE", str(failure))
        assert admin.post(url, {}, csrf=False).status_code == 403, url
    assert system_app.mail.counts()["failed"] == 1 and len(system_app.events.failed()) == 1


def test_the_system_page_shows_plugins_checks_and_migrations(admin: DeskClient) -> None:
    from importlib.metadata import version

    admin.get("/admin/system")
    text = admin.text
    assert "desk" in text and version("crm-desk") in text and "loaded" in text
    assert "ledger" in text  # an object plugin, as `crm plugins` lists it
    assert "migrations" in text and "all applied" in text  # the doctor's checks
    assert "No migration is pending" in text
    # the failing handler is one of the doctor's findings
    admin.app.extensions["crm"].emit(ContactCreated(contact_id=8, data={"name": "Ona"}))
    admin.get("/admin/system")
    assert "1 failed deliveries" in admin.text and "1 problem found" in admin.text


def test_a_failed_mail_shows_its_error_and_retry_requeues_it(admin: DeskClient, system_app: Any) -> None:
    mail_id = _failed_mail(system_app)
    admin.get("/admin/mail")
    assert "550 5.1.1 mailbox unavailable" in admin.text and "lost@example.com" in admin.text
    assert re.search(r'data-status="failed">1<', admin.text)
    response = admin.post(f"/admin/mail/{mail_id}/retry", {})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/mail"
    message = system_app.mail.get(mail_id)
    assert (message.status, message.attempts) == ("queued", 0)
    admin.get("/admin/mail")
    assert f"Message {mail_id} is queued again." in admin.text
    # a message that is not failed or waiting is refused with the kernel's message
    system_app.mail.deliver()
    admin.post(f"/admin/mail/{mail_id}/retry", {})
    admin.get("/admin/mail")
    assert "only failed or waiting messages can be retried" in admin.text


def test_retry_every_failed_mail(admin: DeskClient, system_app: Any) -> None:
    _failed_mail(system_app)
    second = system_app.mail.queue("gone@example.com", "Hi", "Hello", key="hi-2")
    from crm_core.mail.models import MailMessage

    with system_app.activate():
        MailMessage.update(status="failed", last_error="refused").where(MailMessage.id == second.id).execute()
    admin.get("/admin/mail")
    response = admin.post("/admin/mail/retry", {})
    assert response.status_code == 302, admin.text
    assert system_app.mail.counts()["failed"] == 0 and system_app.mail.counts()["queued"] == 2
    admin.get("/admin/mail")
    assert "2 failed message(s) are queued again." in admin.text


def test_a_failing_handlers_delivery_shows_and_retries(admin: DeskClient, system_app: Any, flaky: Flaky) -> None:
    failure = _failed_delivery(system_app)
    admin.get("/admin/events")
    assert "ledger" in admin.text and "ContactCreated" in admin.text
    assert "RuntimeError: the ledger is offline for contact 7" in admin.text
    # still broken: it fails again, and says so
    admin.post(f"/admin/events/{failure}/retry", {})
    admin.get("/admin/events")
    assert "0 delivered, 1 failed again" in admin.text
    assert system_app.events.failed()[0].attempts == 2
    flaky.broken = False
    admin.post(f"/admin/events/{failure}/retry", {})
    assert system_app.events.failed() == [] and flaky.seen == [7]
    admin.get("/admin/events")
    assert "1 delivered." in admin.text and "No failed delivery" in admin.text
    # a failure that is no longer open: the kernel's message, no error page
    admin.post(f"/admin/events/{failure}/retry", {})
    admin.get("/admin/events")
    assert f"no open event failure {failure}" in admin.text


def test_retry_every_failed_delivery(admin: DeskClient, system_app: Any, flaky: Flaky) -> None:
    _failed_delivery(system_app)
    flaky.broken = False
    admin.get("/admin/events")
    assert admin.post("/admin/events/retry", {}).headers["Location"] == "/admin/events"
    assert system_app.events.failed() == []


def test_the_jobs_page_shows_last_runs_and_failures(admin: DeskClient, system_app: Any) -> None:
    from crm_core.worker.models import Job, JobRun

    now = system_app.clock.now()
    with system_app.activate():
        Job.create(
            name="crm.mail",
            owner="crm",
            schedule="every 10s",
            last_scheduled_at=now,
            last_status="failed",
            last_error="Traceback…\nConnectionRefusedError: smtp.example.com:25",
            created_at=now,
        )
        JobRun.create(
            job="crm.mail",
            scheduled_at=now,
            status="failed",
            worker="host-1",
            started_at=now,
            lease_until=now + dt.timedelta(minutes=1),
            finished_at=now,
            error="Traceback…\nConnectionRefusedError: smtp.example.com:25",
        )
    admin.get("/admin/jobs")
    assert "crm.mail" in admin.text and "crm.events" in admin.text
    assert "ConnectionRefusedError: smtp.example.com:25" in admin.text and "host-1" in admin.text
