"""Who may do what with the portal (issue 15): staff's methods check permissions and the contact's scope;
customers' flows are authorised by their links and run as the system in the web app.

Every public method of :class:`crm_portal.api.PortalAPI` has an entry in
``CALLS``, with its kind:

- ``staff``: needs a ``portal.*`` permission; a contact's link or consents
  also the contact in the user's ``contacts.read`` scope;
- ``customer``: a customer's flow (a signed link, a public form): the
  portal's pages run it as the system; a user running it from Python acts on
  the customer's behalf and needs ``portal.submissions.*``;
- ``mail``: the bulk-mail unsubscribe links, which every sender must get.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from crm_core.errors import PermissionDenied
from crm_portal.api import PortalAPI
from crm_portal.unsubscribing import UnsubscribeTarget


def confirm_token(crm: Any, to: str) -> str:
    """The token of the confirmation link e-mailed to ``to``."""
    crm.mail.deliver()
    mail = crm.mail.transport.to(to)[-1]
    return re.search(r"/signup/confirm/([^?\s]+)", mail.text).group(1)


def signed_up(crm: Any, email: str) -> str:
    """A sign-up requested by the system for ``email``; its confirmation token."""
    crm.plugin("portal").request_signup("newsletter", email=email, first_name="X", last_name="Y")
    return confirm_token(crm, email)


class World:
    """Users of three kinds in two teams, contacts owned by them, and each contact's consent (made by the system)."""

    def __init__(self, crm: Any, crm_user: Any, kit: Any) -> None:
        self.crm = crm
        crm_user(crm, name="seller", roles=["sales"], teams=["north"])
        crm_user(crm, name="mate", roles=["sales"], teams=["north"])
        crm_user(crm, name="helper", roles=["support"], teams=["north"])
        crm_user(crm, name="outsider", roles=["sales"], teams=["south"])
        crm_user(crm, name="boss", roles=["manager"])
        crm_user(crm, name="nobody", roles=[])
        contacts = crm.plugin("contacts")
        self.ana = kit.add_contact(crm, email="ana@example.com", phone="+34612345671", owner="seller").id
        self.cai = kit.add_contact(
            crm, first_name="Cai", email="cai@example.com", phone="+34612345672", owner="mate"
        ).id
        self.bea = kit.add_contact(
            crm, first_name="Bea", email="bea@example.com", phone="+34612345673", owner="outsider"
        ).id
        contacts.add_to_list("newsletter", [self.ana, self.cai, self.bea])
        portal = crm.plugin("portal")
        for address in ("ana@example.com", "cai@example.com", "bea@example.com"):
            portal.confirm_signup(signed_up(crm, address))
        self.unsubscribe = portal.unsubscribe_url(self.ana, "newsletter").rsplit("/", 1)[1]
        self.pending = signed_up(crm, "dan@example.com")


#: method -> (kind, call, what the system gets)
CALLS: dict[str, tuple[str, Any, Any]] = {
    "unsubscribe_url": (
        "staff",
        lambda p, w: p.unsubscribe_url(w.ana, "newsletter"),
        lambda r, w: r.startswith("http://localhost:8000/unsubscribe/"),
    ),
    "unsubscribe_headers": (
        "staff",
        lambda p, w: p.unsubscribe_headers(w.ana),
        lambda r, w: r["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click",
    ),
    "signup_url": ("staff", lambda p, w: p.signup_url(), lambda r, w: r == "http://localhost:8000/signup/newsletter"),
    "consents": ("staff", lambda p, w: p.consents(), lambda r, w: len(r) == 3),
    "unsubscribe_urls": (
        "mail",
        lambda p, w: p.unsubscribe_urls([w.ana, w.bea], "newsletter"),
        lambda r, w: len(r) == 2,
    ),
    "unsubscribe_target": (
        "customer",
        lambda p, w: p.unsubscribe_target(w.unsubscribe),
        lambda r, w: isinstance(r, UnsubscribeTarget) and r.contact_id == w.ana and r.list_name == "newsletter",
    ),
    "unsubscribe": ("customer", lambda p, w: p.unsubscribe(w.unsubscribe), lambda r, w: r is True),
    "resubscribe": ("customer", lambda p, w: p.resubscribe(w.unsubscribe), lambda r, w: r is True),
    "request_signup": (
        "customer",
        lambda p, w: p.request_signup(None, email="eva@example.com"),
        lambda r, w: isinstance(r, int),
    ),
    "pending_signup": (
        "customer",
        lambda p, w: p.pending_signup(w.pending),
        lambda r, w: r.email == "dan@example.com",
    ),
    "confirm_signup": (
        "customer",
        lambda p, w: p.confirm_signup(w.pending),
        lambda r, w: r.created and r.lists == ("newsletter",),
    ),
}


@pytest.fixture
def world(app, crm_user, kit):
    return World(app, crm_user, kit)


def test_every_public_method_of_the_api_is_in_the_table():
    public = {name for name, _ in inspect.getmembers(PortalAPI, inspect.isfunction) if not name.startswith("_")}
    assert public == set(CALLS), "give each public method of PortalAPI an entry in CALLS (and a permission check)"


def test_portal_is_a_deprecated_alias_of_portal_api(app):
    from crm_portal.api import Portal

    assert Portal is PortalAPI and type(app.plugin("portal")) is PortalAPI


def test_the_system_does_everything(app, world):
    portal = app.plugin("portal")
    assert app.current_user is None
    for name, (_kind, call, expected) in CALLS.items():
        result = call(portal, world)
        assert expected(result, world), f"{name} gave {result!r}"
    assert portal.consents(world.bea + 1000) == []  # a contact that is gone (or never was) has none


@pytest.mark.parametrize("name", sorted(n for n, (kind, *_) in CALLS.items() if kind != "mail"))
def test_a_user_without_roles_is_refused_every_staff_and_customer_method(app, world, name):
    kind, call, _expected = CALLS[name]
    with app.as_user("nobody"), pytest.raises(PermissionDenied, match=r"user 'nobody' may not portal\.") as denied:
        call(app.plugin("portal"), world)
    assert denied.value.code == "permission_denied"
    states = [m.state for m in app.plugin("contacts").list_members("newsletter")]
    assert states == ["subscribed"] * 3  # nobody was unsubscribed
    assert app.plugin("portal").pending_signup(world.pending).email == "dan@example.com"  # still pending


def test_the_bulk_mail_links_are_made_whoever_sends(app, world):
    with app.as_user("nobody"):
        urls = app.plugin("portal").unsubscribe_urls([world.ana, world.bea], "newsletter")
        queued = app.mail.queue(
            "ana@example.com", "News", "Hello", bulk=True, contact_id=world.ana, mailing_list="newsletter"
        )
    assert [u.rsplit("/", 1)[0] for u in urls] == ["http://localhost:8000/unsubscribe"] * 2
    assert urls[0] in queued.text  # the mail queue asked the portal (crm_unsubscribe_urls) inside the user's block


def test_a_seller_makes_links_for_own_contacts(app, world):
    with app.as_user("seller"):
        portal = app.plugin("portal")
        url = portal.unsubscribe_url(world.ana, "newsletter")
        assert portal.unsubscribe_headers(world.ana)["List-Unsubscribe"].startswith("<http://localhost:8000/")
        assert portal.signup_url("newsletter").endswith("/signup/newsletter")
    with app.as_user("nobody"), pytest.raises(PermissionDenied, match=r"portal\.links\.create"):
        app.plugin("portal").unsubscribe_url(world.ana)
    assert app.plugin("portal").unsubscribe_target(url.rsplit("/", 1)[1]).contact_id == world.ana


def test_a_seller_cannot_make_a_link_for_another_sellers_contact(app, world):
    with app.as_user("seller"), pytest.raises(PermissionDenied):
        app.plugin("portal").unsubscribe_url(world.bea, "newsletter")


def test_a_seller_cannot_read_another_sellers_contacts_consents(app, world):
    with app.as_user("seller"), pytest.raises(PermissionDenied):
        app.plugin("portal").consents(world.bea)


def test_a_seller_reads_own_contacts_consents_but_not_everyones(app, world):
    with app.as_user("seller"):
        portal = app.plugin("portal")
        mine = portal.consents(world.ana)
        assert [c.contact_id for c in mine] == [world.ana] and mine[0].form == "newsletter"
        with pytest.raises(PermissionDenied, match=r"one contact at a time .*scope for contacts.read is own"):
            portal.consents()
        with pytest.raises(PermissionDenied):
            portal.consents(form="newsletter", limit=10)


def test_a_support_user_reads_the_consents_of_the_teams_contacts(app, world):
    with app.as_user("helper"):
        portal = app.plugin("portal")
        assert [c.contact_id for c in portal.consents(world.cai)] == [world.cai]  # mate's, same team
        assert [c.contact_id for c in portal.consents(world.ana)] == [world.ana]
        assert portal.unsubscribe_url(world.cai).startswith("http://localhost:8000/unsubscribe/")
        with pytest.raises(PermissionDenied, match=r"scope for contacts.read is team"):
            portal.consents()


def test_a_support_user_does_not_reach_another_teams_contact(app, world):
    with app.as_user("helper"), pytest.raises(PermissionDenied):
        app.plugin("portal").consents(world.bea)


def test_a_manager_lists_every_consent_with_the_right_count(app, world):
    with app.as_user("boss"):
        portal = app.plugin("portal")
        everyone = portal.consents()
        assert sorted(c.contact_id for c in everyone) == sorted([world.ana, world.cai, world.bea])
        assert len(portal.consents(limit=2)) == 2
        assert [c.contact_id for c in portal.consents(world.bea)] == [world.bea]


def test_a_seller_may_act_for_a_customer_from_python(app, world, crm_user):
    with app.as_user("seller"):
        portal = app.plugin("portal")
        assert portal.unsubscribe_target(world.unsubscribe).display_name == "Ana García"
        assert portal.pending_signup(world.pending).email == "dan@example.com"
        assert portal.request_signup("newsletter", email="fay@example.com") > 0
    crm_user(app, name="reader", roles=["read-only"])
    with app.as_user("reader"):  # read-only reads what a link names, and may not act on it
        portal = app.plugin("portal")
        assert portal.pending_signup(world.pending).email == "dan@example.com"
        with pytest.raises(PermissionDenied, match=r"user 'reader' may not portal\.submissions\.create"):
            portal.confirm_signup(world.pending)
        with pytest.raises(PermissionDenied, match=r"portal\.submissions\.create"):
            portal.unsubscribe(world.unsubscribe)


# -- the web app: customers' requests run as the system ---------------------------------------


def _forbid_acting(app, monkeypatch):
    """Make every way of acting as a user fail loudly: the web app must never use one."""

    def refuse(*args, **kwargs):
        raise AssertionError("the portal's web app called crm.as_user / authz.enter")

    monkeypatch.setattr(app, "as_user", refuse)
    monkeypatch.setattr(app.authz, "as_user", refuse)
    monkeypatch.setattr(app.authz, "enter", refuse)


def test_the_customer_flows_work_with_no_user_and_never_call_as_user(kit, app, world, monkeypatch):
    _forbid_acting(app, monkeypatch)
    web = kit.Web(app)
    assert app.current_user is None
    web.get("/signup/newsletter")
    sent = web.post("/signup/newsletter", {"email": "gil@example.com", "first_name": "Gil", "consent": "yes"})
    assert sent.status_code == 303
    token = confirm_token(app, "gil@example.com")
    assert web.get(f"/signup/confirm/{token}").status_code == 200
    assert web.post(f"/signup/confirm/{token}", {}).status_code == 200 and "You are signed up" in web.text
    assert web.get(f"/unsubscribe/{world.unsubscribe}").status_code == 200
    assert web.post(f"/unsubscribe/{world.unsubscribe}", {"action": "all"}).status_code == 200
    assert app.plugin("contacts").get(world.ana).do_not_contact is True
    update = app.plugin("contacts").issue_update_link(world.cai, ["first_name"]).url.split("?", 1)[1]
    assert web.get(f"/contacts/update?{update}").status_code == 200
    survey = kit.survey_token(app, world.bea)
    assert web.get(f"/surveys/{survey}").status_code == 200


def test_a_request_never_acts_as_the_calling_codes_user(kit, portal_app, crm_user, crm_plugin, crm_recorder):
    """An application that wraps its requests in crm.as_user (here: a user without roles) does not lend it to the portal."""
    seen: list[Any] = []

    def who() -> str:
        import flask

        seen.append(flask.g.crm.current_user)
        return "ok"

    from crm_hookspecs.records import PortalPage

    crm = portal_app(
        "apply",
        ("recorder", crm_recorder),
        crm_plugin("probe", crm_portal_pages=lambda: [PortalPage("who", "/who", who)]),
    )
    crm_user(crm, name="nobody", roles=[])
    ana = kit.add_contact(crm, email="ana@example.com")
    crm.plugin("contacts").add_to_list("newsletter", [ana.id])
    link = crm.plugin("portal").unsubscribe_url(ana.id, "newsletter").replace("http://localhost:8000", "")
    web = kit.Web(crm)
    with crm.as_user("nobody"):
        assert web.get("/who").status_code == 200
        assert web.get(link).status_code == 200
        done = web.post(link, {"action": "list"})
        assert crm.current_user.name == "nobody"  # the caller's own context is left as it was
    assert seen == [None]
    assert done.status_code == 200 and "You will receive nothing more" in web.text
    (event,) = [e for e in crm_recorder.events if e.type_name == "ContactUnsubscribed"]
    assert event.actor is None and event.channel == "self-service"


# -- the command line -----------------------------------------------------------------------


def test_the_cli_refuses_a_user_without_the_permission(app, world, crm_cli):
    for args, permission in (
        (["portal", "unsubscribe-link", str(world.ana)], "portal.links.create"),
        (["portal", "consents"], "portal.submissions.read"),
        (["portal", "consents", str(world.ana)], "portal.submissions.read"),
    ):
        result = crm_cli.invoke(["--as", "nobody", *args], app=app)
        assert result.exit_code == 6, result.output
        assert f"user 'nobody' may not {permission}" in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    listing = crm_cli.invoke(["--as", "seller", "portal", "consents"], app=app)
    assert listing.exit_code == 6 and "give a contact id ('crm portal consents ID')" in listing.output
    mine = crm_cli.invoke(["--as", "seller", "portal", "consents", str(world.ana), "--format", "json"], app=app)
    assert mine.exit_code == 0 and f'"contact_id": {world.ana}' in mine.output
    link = crm_cli.invoke(["--as", "seller", "portal", "unsubscribe-link", str(world.ana)], app=app)
    assert link.exit_code == 0 and link.output.startswith("http://localhost:8000/unsubscribe/")


def test_the_docs_name_every_permission_the_portal_declares():
    from pathlib import Path

    from crm_portal.permissions import PERMISSIONS

    page = (Path(__file__).resolve().parents[3] / "docs" / "plugins" / "portal.md").read_text(encoding="utf-8")
    section = page.split("\n## Permissions\n", 1)[1].split("\n## ", 1)[0]
    missing = [
        p.name for p in PERMISSIONS if f"| `{p.name}` | {p.description.split(';')[0].rstrip('.')}" not in section
    ]
    assert missing == [], "describe these in the Permissions table of docs/plugins/portal.md, as declared"
