"""Self-service update links: issuing, checking, submitting, staff review, and every refusal."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import pytest

from crm_contacts.tokens import (
    ExpiredTokenError,
    ForgedTokenError,
    InvalidChangeError,
    OutOfScopeError,
    SelfServiceError,
    UnknownTokenError,
    UsedTokenError,
)
from crm_core.errors import ConfigError, NotFoundError, ValidationError
from crm_core.signing import ForgedLinkError

SECRET = "a-test-secret-of-enough-length"


def settings(mode: str = "apply", **extra):
    return {"contacts": {"default_region": "ES", "self_service": {"secret": SECRET, "mode": mode, **extra}}}


@pytest.fixture
def app(contacts_app, crm_recorder):
    return contacts_app(("recorder", crm_recorder), settings=settings())


@pytest.fixture
def review_app(contacts_app, crm_recorder):
    return contacts_app(("recorder", crm_recorder), settings=settings("review"))


@pytest.fixture
def ana(app):
    return app.plugin("contacts").create(
        first_name="Ana", last_name="García", email="ana@example.com", phone="+34612345678"
    )


def changed_events(recorder):
    return [e for e in recorder.events if e.type_name == "ContactChanged"]


def test_issue_inspect_and_apply(app, ana, crm_recorder):
    book = app.plugin("contacts")
    link = book.issue_update_link(ana.id, ["phones", "emails"], actor="maria")
    assert link.fields == ("emails", "phones")  # in the configured order
    assert link.url == "http://localhost:8000/contacts/update?token=" + link.token
    assert link.expires_at == app.clock.now() + dt.timedelta(hours=72)
    form = book.inspect_update_token(link.token)
    assert form.contact_id == ana.id and form.display_name == "Ana García" and form.mode == "apply"
    assert form.current == {
        "emails": [{"address": "ana@example.com", "kind": "other", "primary": True}],
        "phones": [{"number": "+34612345678", "kind": "other", "primary": True}],
    }
    preview = book.preview_update(link.token, {"phones": ["612 999 888"], "emails": ["Ana.Garcia@Example.COM"]})
    assert preview.changes["phones"].new == [{"number": "+34612999888", "kind": "other", "primary": True}]
    assert book.get(ana.id).phone == "+34612345678"  # a preview writes nothing
    result = book.submit_update(link.token, {"phones": ["612 999 888"], "emails": ["Ana.Garcia@Example.COM"]})
    assert result.status == "applied" and set(result.changes) == {"emails", "phones"}
    after = book.get(ana.id)
    assert (after.email, after.phone) == ("ana.garcia@example.com", "+34612999888")
    (event,) = changed_events(crm_recorder)
    assert (event.contact_id, event.channel, event.actor) == (ana.id, "self-service", None)
    assert set(event.changes) == {"emails", "phones"}


def test_link_is_single_use(app, ana):
    book = app.plugin("contacts")
    link = book.issue_update_link(ana.id)
    assert book.submit_update(link.token, {"first_name": "Anna"}).status == "applied"
    with pytest.raises(UsedTokenError, match="already used on 2026-01-05 09:00 UTC") as info:
        book.submit_update(link.token, {"first_name": "Hacked"})
    assert (info.value.code, info.value.http_status) == ("used", 410)
    with pytest.raises(UsedTokenError):
        book.inspect_update_token(link.token)
    assert book.get(ana.id).first_name == "Anna"


def test_unchanged_submission_uses_the_link(app, ana, crm_recorder):
    book = app.plugin("contacts")
    link = book.issue_update_link(ana.id)
    result = book.submit_update(link.token, {"first_name": "Ana", "emails": ["ANA@example.com"]})
    assert (result.status, result.changes) == ("unchanged", {})
    assert changed_events(crm_recorder) == []
    with pytest.raises(UsedTokenError):
        book.submit_update(link.token, {"first_name": "Ana"})


def test_forged_tokens_are_refused(app, ana, contacts_app):
    book = app.plugin("contacts")
    link = book.issue_update_link(ana.id, ["phones"])
    signature = link.token.rpartition(".")[2]
    # another contact, or more fields, with this link's signature
    luis = book.create(first_name="Luis")
    for other_link in (book.issue_update_link(luis.id, ["phones"]), book.issue_update_link(ana.id)):
        bad = other_link.token.rpartition(".")[0] + "." + signature
        with pytest.raises(ForgedTokenError, match="damaged, cut short, or was changed") as info:
            book.submit_update(bad, {"phones": ["+34600000000"]})
        assert (info.value.code, info.value.http_status) == ("forged", 403)
        assert isinstance(info.value, ForgedLinkError)  # the kernel's error of the same code
    for damaged in ("", "hello", link.token[:-5], link.token + "x", link.token.replace(".", "-")):
        with pytest.raises(ForgedTokenError, match="damaged, cut short"):
            book.inspect_update_token(damaged)
    # signed with another key: a token made by another CRM, or before the key changed
    other = contacts_app(database=None, core={"secret": "another-crm-key-of-at-least-32-chars!"})
    foreign = other.plugin("contacts")
    with pytest.raises(ForgedTokenError):
        foreign.inspect_update_token(link.token)
    assert book.get(ana.id).phone == "+34612345678"
    # the genuine token still works after all that
    assert book.submit_update(link.token, {"phones": ["+34600000000"]}).status == "applied"


def test_expired_token(app, ana, crm_clock):
    book = app.plugin("contacts")
    link = book.issue_update_link(ana.id, ttl_hours=2)
    crm_clock.advance(hours=1, minutes=59)
    assert book.inspect_update_token(link.token).contact_id == ana.id
    crm_clock.advance(minutes=1)
    with pytest.raises(ExpiredTokenError, match="expired on 2026-01-05 11:00 UTC") as info:
        book.submit_update(link.token, {"first_name": "Late"})
    assert (info.value.code, info.value.http_status) == ("expired", 410)
    assert info.value.expires_at == dt.datetime(2026, 1, 5, 11, tzinfo=dt.UTC)
    assert book.get(ana.id).first_name == "Ana"


def test_out_of_scope_and_invalid_values_leave_the_link_usable(app, ana, crm_recorder):
    book = app.plugin("contacts")
    link = book.issue_update_link(ana.id, "phones")
    with pytest.raises(OutOfScopeError, match="does not let you change emails, status; it covers phones") as info:
        book.submit_update(link.token, {"phones": ["+34600000000"], "emails": ["x@example.com"], "status": "customer"})
    assert (info.value.code, info.value.http_status, info.value.fields, info.value.allowed) == (
        "out_of_scope",
        403,
        ("emails", "status"),
        ("phones",),
    )
    with pytest.raises(InvalidChangeError, match="phones: '12' is not a valid phone number") as bad:
        book.submit_update(link.token, {"phones": ["12"]})
    assert (bad.value.field, bad.value.code, bad.value.http_status) == ("phones", "invalid", 422)
    with pytest.raises(InvalidChangeError, match="nothing was submitted"):
        book.submit_update(link.token, {})
    with pytest.raises(InvalidChangeError, match="expected a table"):
        book.submit_update(link.token, ["phones"])
    assert changed_events(crm_recorder) == [] and book.get(ana.id).phone == "+34612345678"
    assert book.submit_update(link.token, {"phones": ["+34 600 000 000"]}).status == "applied"


def test_invalid_email_names_the_field(app, ana):
    book = app.plugin("contacts")
    link = book.issue_update_link(ana.id)
    with pytest.raises(InvalidChangeError, match="emails: 'ana@@example' is not a valid e-mail address") as info:
        book.preview_update(link.token, {"emails": ["ana@@example"]})
    assert info.value.field == "emails"
    with pytest.raises(InvalidChangeError, match="display_name: cannot be empty"):
        book.submit_update(link.token, {"display_name": "  "})


def test_revoked_link_and_deleted_contact_are_unknown(app, ana):
    book = app.plugin("contacts")
    first = book.issue_update_link(ana.id)
    second = book.issue_update_link(ana.id)
    assert first.token != second.token
    assert book.revoke_update_links(ana.id) == 2
    with pytest.raises(UnknownTokenError, match="withdrawn") as info:
        book.inspect_update_token(first.token)
    assert (info.value.code, info.value.http_status) == ("unknown", 404)
    third = book.issue_update_link(ana.id)
    book.delete(ana.id)
    with pytest.raises(UnknownTokenError, match="no longer exists"):
        book.submit_update(third.token, {"first_name": "Ghost"})
    with pytest.raises(ValidationError, match="is deleted; restore it"):
        book.issue_update_link(ana.id)
    with pytest.raises(NotFoundError, match="no contact with id 999"):
        book.issue_update_link(999)


def test_inspecting_a_link_takes_two_statements_and_refuses_as_submitting_does(app, ana, crm_clock):
    """The portal's form reads the link and its contact in one query, the contact's children in one more (issue 19);
    a link refused there is refused with the error the submission gives."""
    from crm_core.testing import statements

    book = app.plugin("contacts")
    token = book.issue_update_link(ana.id, ["first_name", "emails"]).token
    with statements(app) as sql:
        form = book.inspect_update_token(token)
    assert len(sql) == 2, sql
    assert form.current == {
        "first_name": "Ana",
        "emails": [{"address": "ana@example.com", "kind": "other", "primary": True}],
    }
    with statements(app) as sql:
        book.preview_update(token, {"first_name": "Anna"})
    assert len(sql) == 2, sql
    deleted = book.issue_update_link(ana.id).token
    expired = book.issue_update_link(ana.id, ttl_hours=1).token
    used = book.issue_update_link(ana.id).token
    book.submit_update(used, {"first_name": "Ana"})
    crm_clock.advance(hours=2)
    for refused, error in ((expired, ExpiredTokenError), (used, UsedTokenError)):
        with pytest.raises(error) as peeked:
            book.inspect_update_token(refused)
        with pytest.raises(error) as submitted:
            book.submit_update(refused, {"first_name": "X"})
        assert str(peeked.value) == str(submitted.value)
    book.delete(ana.id)
    for call in (book.inspect_update_token, lambda t: book.submit_update(t, {"first_name": "X"})):
        with pytest.raises(UnknownTokenError, match="the contact it was made for no longer exists"):
            call(deleted)


def test_bad_issue_requests(app, ana):
    book = app.plugin("contacts")
    with pytest.raises(
        ValidationError, match="'status' cannot be changed through self-service here; choose from first_name"
    ):
        book.issue_update_link(ana.id, ["phones", "status"])
    with pytest.raises(ValidationError, match="name at least one field"):
        book.issue_update_link(ana.id, [])
    for ttl in (0, -1, 24 * 91, "48"):
        with pytest.raises(ValidationError, match="hours is not allowed"):
            book.issue_update_link(ana.id, ttl_hours=ttl)


def test_no_secret_to_configure_and_a_short_one_is_refused(contacts_app):
    """Links are signed with the app's key: made once and kept in the database, or ``[crm] secret``."""
    book = contacts_app().plugin("contacts")
    ana = book.create(first_name="Ana")
    link = book.issue_update_link(ana.id, ["first_name"])
    assert book.inspect_update_token(link.token).contact_id == ana.id
    short = contacts_app(core={"secret": "short"}).plugin("contacts")
    with pytest.raises(ConfigError, match="crm.secret is 5 characters long; use at least 32"):
        short.issue_update_link(ana.id)


def _legacy_token(secret: bytes, contact_id: int, fields_mask: int, expires: dt.datetime, nonce: str) -> str:
    """An update link as the plugin signed them before the kernel did."""
    b36 = lambda n: "0" if n == 0 else b36(n // 36).lstrip("0") + "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36]  # noqa: E731
    payload = f"{b36(contact_id)}-{b36(int(expires.timestamp()))}-{b36(fields_mask)}-{nonce}"
    digest = hmac.new(secret, b"crm-contacts-update:" + payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def test_links_issued_with_the_old_secret_keep_working_while_it_is_kept(app, ana, contacts_app):
    from crm_contacts.models import UpdateToken

    book = app.plugin("contacts")
    stored = book.issue_update_link(ana.id, ["first_name"])  # a stored row for the old link to name
    with app.activate():
        row = UpdateToken.get()
    token = _legacy_token(SECRET.encode(), ana.id, 1, row.expires_at, row.nonce)
    assert token != stored.token
    assert book.inspect_update_token(token).contact_id == ana.id
    # the same link once the old secret is removed from the configuration
    forgetful = contacts_app(database=app.config.core.database).plugin("contacts")
    with pytest.raises(ForgedTokenError, match="a key this CRM no longer has"):
        forgetful.inspect_update_token(token)
    # changed by hand: refused
    with pytest.raises(ForgedTokenError, match="signature does not match"):
        book.inspect_update_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_secret_from_the_environment(tmp_path):
    from crm_core.app import CRM

    path = tmp_path / "crm.toml"
    path.write_text(
        f'[crm]\ndatabase = "sqlite:///{tmp_path / "crm.db"}"\nsecret = "env:CRM_SECRET"\n\n[plugins]\nenabled = ["contacts"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="CRM_SECRET is not set"):
        CRM.from_config(path, environ={})
    with CRM.from_config(path, environ={"CRM_SECRET": SECRET * 2}) as crm:
        crm.migrate()
        book = crm.plugin("contacts")
        ana = book.create(first_name="Ana")
        link = book.issue_update_link(ana.id, ["first_name"])
        assert book.submit_update(link.token, {"first_name": "Anna"}).status == "pending"  # review is the default mode


def test_review_mode_queues_changes_for_staff(review_app, crm_recorder):
    book = review_app.plugin("contacts")
    ana = book.create(first_name="Ana", email="ana@example.com")
    link = book.issue_update_link(ana.id)
    assert book.inspect_update_token(link.token).mode == "review"
    result = book.submit_update(link.token, {"first_name": "Anna", "phones": ["612345678"]})
    assert result.status == "pending" and result.pending_id is not None and result.applied == ()
    assert book.get(ana.id).first_name == "Ana" and changed_events(crm_recorder) == []
    (pending,) = book.pending_updates()
    assert (pending.contact_id, pending.status) == (ana.id, "pending")
    assert pending.submitted == {
        "first_name": "Anna",
        "phones": [{"number": "+34612345678", "kind": "other", "primary": True}],
    }
    assert pending.changes["display_name"].new == "Anna"  # derived from the first name, as a staff edit does
    done = book.approve_update(pending.id, actor="maria", note="checked by phone")
    assert (done.status, done.reviewed_by, done.note) == ("approved", "maria", "checked by phone")
    assert book.get(ana.id).phone == "+34612345678"
    (event,) = changed_events(crm_recorder)
    assert (event.channel, event.actor) == ("self-service", "maria")
    with pytest.raises(ValidationError, match="was already approved by maria on 2026-01-05 09:00 UTC"):
        book.reject_update(pending.id, actor="luis")
    assert book.pending_updates() == [] and [p.status for p in book.pending_updates("all")] == ["approved"]
    with pytest.raises(NotFoundError, match="no self-service change 99"):
        book.approve_update(99)
    with pytest.raises(ValidationError, match="status 'done' is not known"):
        book.pending_updates("done")


def test_review_mode_reject_and_do_not_contact_at_once(review_app, crm_recorder):
    book = review_app.plugin("contacts")
    ben = book.create(first_name="Ben", email="ben@example.com")
    link = book.issue_update_link(ben.id)
    result = book.submit_update(link.token, {"last_name": "Jones", "do_not_contact": True})
    # a wish not to be contacted does not wait for staff
    assert result.status == "pending" and result.applied == ("do_not_contact",)
    assert book.get(ben.id).do_not_contact is True
    assert book.get(ben.id).last_name == ""
    rejected = book.reject_update(result.pending_id, actor="luis", note="not him")
    assert rejected.status == "rejected" and book.get(ben.id).last_name == ""
    assert [set(e.changes) for e in changed_events(crm_recorder)] == [{"do_not_contact"}]


def test_approving_for_a_merged_contact_is_refused(review_app):
    book = review_app.plugin("contacts")
    ana = book.create(first_name="Ana", email="ana@example.com")
    dup = book.create(first_name="Ana", phone="+34612345678")
    link = book.issue_update_link(dup.id)
    pending_id = book.submit_update(link.token, {"last_name": "García"}).pending_id
    book.merge(ana.id, dup.id)
    with pytest.raises(ValidationError, match=f"contact {dup.id} is deleted \\(merged into {ana.id}\\); reject change"):
        book.approve_update(pending_id)
    assert book.reject_update(pending_id).status == "rejected"


def test_errors_form_one_family():
    codes = {
        cls: (cls.code, cls.http_status)
        for cls in (
            ForgedTokenError,
            ExpiredTokenError,
            UsedTokenError,
            UnknownTokenError,
            OutOfScopeError,
            InvalidChangeError,
        )
    }
    assert all(issubclass(cls, SelfServiceError) and issubclass(cls, ValidationError) for cls in codes)
    assert len({code for code, _ in codes.values()}) == len(codes)
    assert codes[ForgedTokenError] == ("forged", 403) and codes[UnknownTokenError] == ("unknown", 404)


def test_cli_update_link_and_review(contacts_app, crm_cli):
    app = contacts_app(settings=settings("review"))
    book = app.plugin("contacts")
    ana = book.create(first_name="Ana", email="ana@example.com")
    result = crm_cli.invoke(
        ["contacts", "update-link", str(ana.id), "--fields", "phones,first_name", "--ttl", "2d", "--send"], app=app
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0] == f"update link for contact {ana.id}, valid until 2026-01-07 09:00 UTC, once, for: first_name, phones"
    )
    token = lines[1].rpartition("token=")[2]
    assert "queued for ana@example.com" in lines[2]
    app.mail.deliver()
    (sent,) = app.mail.transport.sent
    assert token in sent.text and sent.to == ("ana@example.com",)
    book.submit_update(token, {"phones": ["612 345 678"]})
    listing = crm_cli.invoke(["contacts", "review"], app=app)
    assert "Ana" in listing.output and "phones" in listing.output
    (pending,) = book.pending_updates()
    shown = crm_cli.invoke(["contacts", "review", str(pending.id)], app=app)
    assert "+34612345678" in shown.output and "(none)" in shown.output
    approved = crm_cli.invoke(["contacts", "review", str(pending.id), "--approve"], app=app)
    assert approved.exit_code == 0 and "approved: contact" in approved.output
    again = crm_cli.invoke(["contacts", "review", str(pending.id), "--reject"], app=app)
    assert (
        again.exit_code == 2
        and again.output.startswith("Error: self-service change")
        and "Traceback" not in again.output
    )
    bad_ttl = crm_cli.invoke(["contacts", "update-link", str(ana.id), "--ttl", "soon"], app=app)
    assert bad_ttl.exit_code == 2 and "--ttl 'soon': write hours or days" in bad_ttl.output
    bad_field = crm_cli.invoke(["contacts", "update-link", str(ana.id), "--fields", "owner"], app=app)
    assert bad_field.exit_code == 2 and "'owner' cannot be changed through self-service" in bad_field.output
    assert crm_cli.invoke(["contacts", "update-link", str(ana.id)], app=app).exit_code == 0
    revoked = crm_cli.invoke(["contacts", "update-link", str(ana.id), "--revoke"], app=app)
    assert "1 unused update link(s) of contact" in revoked.output
    both = crm_cli.invoke(["contacts", "review", "1", "--approve", "--reject"], app=app)
    assert both.exit_code == 2


def test_cli_short_secret_is_one_line(contacts_app, crm_cli):
    app = contacts_app(core={"secret": "too short"})
    ana = app.plugin("contacts").create(first_name="Ana")
    result = crm_cli.invoke(["contacts", "update-link", str(ana.id)], app=app)
    assert result.exit_code == 2
    assert result.output.startswith("Error: crm.secret is 9 characters long; use at least 32")
    assert len(result.output.strip().splitlines()) == 1
