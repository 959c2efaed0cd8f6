"""The plugin's own tests, written with the test kit of crm-core as it was for contract 1.0.0."""

import pytest

from crm_core.errors import NotFoundError, ValidationError


@pytest.fixture
def app(crm_factory):
    return crm_factory(plugins=["contacts", "referrals"], settings={"referrals": {"points": 5}})


@pytest.fixture
def people(app):
    contacts = app.plugin("contacts")
    return [contacts.create(first_name=name, email=f"{name.lower()}@example.com").id for name in ("Ana", "Luis", "Eva")]


def test_referrals_earn_points_from_config(app, people):
    ana, luis, eva = people
    referrals = app.plugin("referrals")
    referrals.add(ana, luis, "met at the fair")
    referrals.add(ana, eva)
    assert referrals.points(ana) == 10 and referrals.points(luis) == 0
    with pytest.raises(ValidationError):
        referrals.add(ana, ana)
    with pytest.raises(NotFoundError):
        referrals.add(ana, 999)


def test_a_deleted_contact_voids_the_referral_through_events(app, people):
    ana, luis, _ = people
    app.plugin("referrals").add(ana, luis)
    app.plugin("contacts").delete(luis)
    app.events.deliver()
    assert app.plugin("referrals").points(ana) == 0


def test_cli(app, people, crm_cli):
    ana, luis, _ = people
    added = crm_cli.invoke(["referrals", "add", str(ana), str(luis), "--note", "neighbour"], app=app)
    assert added.exit_code == 0, added.output
    listed = crm_cli.invoke(["referrals", "list", str(ana), "--format", "csv"], app=app)
    assert listed.output.splitlines()[1].endswith(",neighbour,False")


def test_personal_data_export_and_erase(app, people):
    ana, luis, _ = people
    app.plugin("referrals").add(ana, luis, "lives next to Luis on Calle Mayor")
    exported = app.plugin("contacts").export_personal_data(ana)
    assert "Calle Mayor" in str(exported)
    app.plugin("contacts").erase(ana)
    assert all(r["note"] == "" for r in app.plugin("referrals").of(luis))


def test_merge_and_unmerge_move_the_referrals(app, people):
    ana, luis, eva = people
    contacts = app.plugin("contacts")
    dup = contacts.create(first_name="Ana", last_name="Dup", email="ana.dup@example.com").id
    app.plugin("referrals").add(dup, eva)
    contacts.merge(ana, dup)
    assert app.plugin("referrals").points(ana) == 5
    contacts.unmerge(dup)
    assert app.plugin("referrals").points(ana) == 0 and app.plugin("referrals").points(dup) == 5
