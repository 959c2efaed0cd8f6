"""``crm.plugin("campaigns")``: campaigns, previews, tests, sends now and later, no double send, unsubscribes."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest
from crm_campaigns.models import Recipient, Send

from crm_core.errors import NotFoundError, PermissionDenied, ValidationError

HTML = "<p>Hello {{ first_name }}</p>"


def test_a_campaign_is_made_checked_and_changed(app):
    api = app.plugin("campaigns")
    made = api.create("Welcome", "Hi {{ first_name }}", "Hello {{ first_name }}", HTML)
    assert (made.name, made.revision, made.html) == ("Welcome", 1, HTML)
    changed = api.update("Welcome", subject="Hello {{ display_name }}", html="")
    assert changed.revision == 2 and changed.html is None and changed.subject == "Hello {{ display_name }}"
    assert [c.name for c in api.list()] == ["Welcome"]
    assert api.get(made.id) == changed
    with pytest.raises(ValidationError, match="a campaign named 'Welcome' exists") as taken:
        api.create("Welcome", "x", "y")
    assert taken.value.field == "name"
    with pytest.raises(NotFoundError, match="no campaign has the id or name 'Nope'"):
        api.get("Nope")


@pytest.mark.parametrize(
    ("part", "value", "message"),
    [
        ("text", "Hello\n{{ frist_name }}", r"text, line 2: 'frist_name' is undefined .*first_name"),
        ("html", "<p>\n\n{% if %}</p>", r"html, line 3: "),
        ("subject", "{{ contact.__class__.__mro__ }}", r"subject, line 1: .*unsafe|subject, line 1: .*"),
        ("subject", "   ", r"subject is empty"),
    ],
)
def test_template_errors_name_the_part_and_the_line(app, part, value, message):
    values = {"subject": "Hi", "text": "Body", "html": None, part: value}
    with pytest.raises(ValidationError, match=message) as refused:
        app.plugin("campaigns").create("Bad", values["subject"], values["text"], values["html"])
    assert refused.value.field == part


def test_the_sandbox_refuses_reaching_into_python(app):
    with pytest.raises(ValidationError, match="unsafe"):
        app.plugin("campaigns").create("Trick", "x", "{{ contact.__class__.__subclasses__() }}")


def test_preview_renders_for_a_contact_and_escapes_the_html(app, audience, campaign):
    ana = audience.add(first_name="<b>Ana</b>")
    shown = app.plugin("campaigns").preview(campaign.id, ana)
    assert shown.subject == "News for <b>Ana</b>"
    assert "Hello <b>Ana</b>," in shown.text
    assert "<p>Hello &lt;b&gt;Ana&lt;/b&gt;,</p>" in (shown.html or "")
    sample = app.plugin("campaigns").preview(campaign.id)
    assert sample.contact_id == 0 and sample.subject == "News for Ana"


def test_a_test_goes_to_the_acting_users_address_only(app, audience, campaign, manager, mailed):
    audience.add("news")
    with app.as_user(manager):
        sent = app.plugin("campaigns").test(campaign.id)
    assert sent.to == "boss@example.com" and sent.subject == "[Test] News for Ana"
    assert mailed(app) == ["boss@example.com"]
    with pytest.raises(ValidationError, match="the system .* has none"):
        app.plugin("campaigns").test(campaign.id)


def test_send_now_honours_do_not_contact_and_list_unsubscribes_and_mails_each_address_once(
    app, audience, campaign, manager, mailed
):
    a = audience.add("news")
    audience.add("news", do_not_contact=True)
    c = audience.add("news")
    app.plugin("contacts").unsubscribe(c, "news")
    audience.add("news", email="shared@example.com")
    audience.add("news", email="Shared@Example.com")
    audience.add("news", email=None)
    with app.as_user(manager):
        info = app.plugin("campaigns").send(campaign.id, "news")
    assert info.status == "sent" and info.counts.queued == 2
    assert (info.do_not_contact, info.unsubscribed_before, info.no_address, info.duplicates) == (1, 1, 1, 1)
    assert sorted(mailed(app)) == ["ana1@example.com", "shared@example.com"]
    message = app.mail.get(app.mail.list()[-1].id)
    headers = dict(message.headers)
    assert headers["List-Unsubscribe"].startswith("<http://localhost:8000/unsubscribe/")
    assert "unsubscribe" in (message.text or "").lower()
    with app.activate():
        assert a in set(Recipient.select(Recipient.contact_id).scalars())


def test_a_send_run_again_or_resumed_mails_nobody_twice(app, audience, campaign, manager, mailed):
    from crm_campaigns.sending import run_send

    for _ in range(3):
        audience.add("news")
    with app.as_user(manager):
        info = app.plugin("campaigns").send(campaign.id, "news")
    assert info.counts.queued == 3
    # a crash after the first page: the send is still 'sending', two contacts join the list meanwhile
    with app.activate():
        Send.update(status="sending", finished_at=None).where(Send.id == info.id).execute()
    audience.add("news")
    audience.add("news")
    assert run_send(app, info.id) is True
    assert run_send(app, info.id) is False  # sent: left alone
    assert len(mailed(app)) == len(set(mailed(app))) == 5
    with app.activate(), pytest.raises(peewee.IntegrityError):  # the unique index: one row per send and address
        Recipient.insert(
            send=info.id, address="ana1@example.com", contact_id=1, mail_key="x", queued_at=app.clock.now()
        ).execute()


def test_a_scheduled_send_goes_when_the_worker_finds_it_due_and_can_be_cancelled(
    app, audience, campaign, manager, crm_clock, mailed
):
    audience.add("news")
    audience.add("news")
    api = app.plugin("campaigns")
    at = app.clock.now() + dt.timedelta(hours=2)
    with app.as_user(manager):
        later = api.send(campaign.id, "news", at=at)
        other = api.send(campaign.id, "news", at=at)
        assert api.cancel(other.id).status == "cancelled"
        with pytest.raises(
            ValidationError, match="only a scheduled send, or one stopped by an error, can be cancelled"
        ):
            api.cancel(other.id)
        with pytest.raises(ValidationError, match="in the past"):
            api.send(campaign.id, "news", at=app.clock.now() - dt.timedelta(hours=1))
    assert later.status == "scheduled" and mailed(app) == []
    assert api.run_due() == []
    crm_clock.advance(dt.timedelta(hours=2))
    assert api.run_due() == [later.id]
    assert len(mailed(app)) == 2 and api.send_info(later.id).status == "sent"
    app.mail.deliver()
    counts = api.send_info(later.id).counts
    assert (counts.queued, counts.sent, counts.bounced, counts.waiting) == (2, 2, 0, 0)
    recorded = [
        (e["type"], e["payload"]["send_id"]) for e in app.events.recent(limit=20) if e["type"].startswith("Campaign")
    ]
    assert sorted(recorded) == sorted(
        [
            ("CampaignScheduled", later.id),
            ("CampaignScheduled", other.id),
            ("CampaignCancelled", other.id),
            ("CampaignSent", later.id),
        ]
    )


def test_bounces_are_counted_from_the_mail_queue(app, audience, campaign, manager):
    audience.add("news", email="gone@example.com")
    audience.add("news")
    app.mail.transport.bounce("gone@example.com")
    with app.as_user(manager):
        info = app.plugin("campaigns").send(campaign.id, "news")
    app.mail.deliver()
    counts = app.plugin("campaigns").send_info(info.id).counts
    assert (counts.queued, counts.sent, counts.bounced) == (2, 1, 1)


def test_an_unsubscribe_through_the_mails_link_is_counted_for_its_send(app, audience, campaign, manager):
    ana = audience.add("news")
    audience.add("news")
    with app.as_user(manager):
        first = app.plugin("campaigns").send(campaign.id, "news")
    link = next(m for m in app.mail.list() if f"ana{1}@example.com" in m.to[0])
    headers = dict(app.mail.get(link.id).headers)
    token = headers["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    assert app.plugin("portal").unsubscribe(token) is True
    info = app.plugin("campaigns").send_info(first.id)
    assert info.counts.unsubscribed == 1
    # a staff unsubscribe is not the mail's doing; the next send leaves the contact out
    with app.as_user(manager):
        second = app.plugin("campaigns").send(campaign.id, "news")
    assert second.counts.queued == 1 and second.unsubscribed_before == 1
    with app.activate():
        assert ana not in set(Recipient.select(Recipient.contact_id).where(Recipient.send == second.id).scalars())


def test_a_monthly_newsletter_sends_each_occurrence_once(app, audience, campaign, manager, crm_clock, mailed):
    audience.add("news")
    api = app.plugin("campaigns")
    start = app.clock.now() + dt.timedelta(days=1)
    with app.as_user(manager):
        monthly = api.recur(campaign.id, "news", "FREQ=MONTHLY;BYHOUR=9;BYMINUTE=0", start=start)
        with pytest.raises(ValidationError, match="rule"):
            api.recur(campaign.id, "news", "FREQ=SOMETIMES")
    assert monthly.next_at is not None
    crm_clock.advance(dt.timedelta(days=2))
    first = api.run_due()
    assert len(first) == 1 and api.run_due() == []
    crm_clock.advance(dt.timedelta(days=31))
    assert len(api.run_due()) == 1
    assert len(mailed(app)) == 2
    api.stop_recurring(monthly.id)
    crm_clock.advance(dt.timedelta(days=31))
    assert api.run_due() == [] and [s.recurring_id for s in api.sends(campaign.id)] == [monthly.id] * 2


def test_who_may_do_what(app, audience, campaign, manager, seller, crm_user):
    audience.add("news")
    api = app.plugin("campaigns")
    with app.as_user(seller):
        assert [c.name for c in api.list()] == ["November news"]
        api.update(campaign.id, subject="Hi {{ first_name }}")
        assert api.test(campaign.id).to == "ana.seller@example.com"
        with pytest.raises(PermissionDenied, match="campaigns.send"):
            api.send(campaign.id, "news")
        with pytest.raises(PermissionDenied, match="campaigns.send"):
            api.recur(campaign.id, "news", "FREQ=MONTHLY")
    reader = crm_user(app, name="rita", roles=["read-only"])
    with app.as_user(reader):
        api.get(campaign.id)
        with pytest.raises(PermissionDenied, match="campaigns.edit"):
            api.update(campaign.id, subject="x")
        with pytest.raises(PermissionDenied, match="campaigns.create"):
            api.create("Mine", "x", "y")
    app.authz.roles.add("mailer", permissions=["campaigns.*", "contacts.lists.*", "contacts.read"], scopes={"*": "own"})
    narrow = crm_user(app, name="nora", roles=["mailer"])
    with app.as_user(narrow), pytest.raises(PermissionDenied, match="scope for contacts.read is own"):
        api.send(campaign.id, "news")
    with app.as_user(manager):
        with pytest.raises(ValidationError, match="nope") as unknown:
            api.send(campaign.id, "nope")
        assert unknown.value.field == "source"


def test_a_send_to_a_segment_offers_a_link_out_of_all_mail(app, audience, campaign, manager, mailed):
    audience.add(region="Norte")
    audience.add(region="Sur")
    app.plugin("contacts").create_segment("north", {"region": "Norte"})
    with app.as_user(manager):
        info = app.plugin("campaigns").send(campaign.id, "north")
    assert info.counts.queued == 1 and mailed(app) == ["ana1@example.com"]
    message = app.mail.get(app.mail.list()[0].id)
    token = dict(message.headers)["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    assert app.plugin("portal").unsubscribe_target(token).list_name is None  # a segment is about no list
    assert app.plugin("portal").unsubscribe(token) is True
    assert app.plugin("campaigns").send_info(info.id).counts.unsubscribed == 1
    assert app.plugin("contacts").card(1).do_not_contact is True


def test_the_worker_job_sends_what_is_due(app, audience, campaign, manager, crm_clock, mailed):
    from crm_core.worker import Worker

    audience.add("news")
    with app.as_user(manager):
        app.plugin("campaigns").send(campaign.id, "news", at=app.clock.now() + dt.timedelta(minutes=5))
    crm_clock.advance(dt.timedelta(minutes=6))
    outcomes = {o.job: o for o in Worker(app).run_pending()}
    assert outcomes["campaigns.sends"].result == "1 send(s) queued"
    assert mailed(app) == ["ana1@example.com"]


def test_export_erase_and_merge_of_a_recipient(app, audience, campaign, manager):
    ana = audience.add("news")
    twin = audience.add("news", email="twin@example.com")
    with app.as_user(manager):
        app.plugin("campaigns").send(campaign.id, "news")
    exported = app.plugin("contacts").export_personal_data(ana)
    assert exported["plugins"]["campaigns"]["mailings"][0]["address"] == "ana1@example.com"
    app.plugin("contacts").merge(ana, twin)
    with app.activate():
        assert Recipient.select().where(Recipient.contact_id == ana).count() == 2
    app.plugin("contacts").erase(ana)
    with app.activate():
        rows = list(Recipient.select())
    assert all(r.contact_id is None and r.address.startswith("erased:") for r in rows if r.contact_id != twin)
    assert app.plugin("campaigns").sends(campaign.id)[0].counts.queued == 2  # still counted


def test_a_send_stopped_by_a_template_error_resumes_once_fixed_or_is_cancelled(
    app, audience, manager, crm_clock, mailed
):
    api = app.plugin("campaigns")
    # the sample contact has an organization; a contact without one makes .upper() fail on None
    made = api.create("Orgs", "For {{ contact.organization_name.upper() }}", "Hello")
    audience.add("news", email="first@example.com")
    with (
        app.as_user(manager),
        pytest.raises(ValidationError, match=r"send 1 stopped: subject, line 1: .*cancel it") as stop,
    ):
        api.send(made.id, "news")
    assert stop.value.field == "subject"
    assert api.send_info(1).status == "sending" and "subject, line 1" in api.send_info(1).last_error
    api.update(made.id, subject="For {{ organization_name or display_name }}")
    crm_clock.advance(dt.timedelta(minutes=11))
    assert api.run_due() == [1]
    assert mailed(app) == ["first@example.com"] and api.send_info(1).last_error is None
    with app.as_user(manager):
        api.update(made.id, subject="{{ contact.organization_name.upper() }}")
        with pytest.raises(ValidationError):
            api.send(made.id, "news")
        assert api.cancel(2).status == "cancelled"
    crm_clock.advance(dt.timedelta(minutes=11))
    assert api.run_due() == [] and mailed(app) == ["first@example.com"]
