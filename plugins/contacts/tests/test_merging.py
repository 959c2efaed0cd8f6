"""Duplicates, merge and unmerge, with other plugins' references moved through the contract hooks."""

from __future__ import annotations

import pytest

from crm_core.errors import NotFoundError, ValidationError


@pytest.fixture
def probe():
    """A plugin holding references to contacts, as surveys or tasks would."""
    state = {"rows": {1: "survey response", 2: "task"}, "owner": {}, "calls": []}

    def crm_contacts_merged(crm, survivor_id, merged_id):
        moved = [row for row, cid in state["owner"].items() if cid == merged_id]
        for row in moved:
            state["owner"][row] = survivor_id
        state["calls"].append(("merged", survivor_id, merged_id))
        return {"probe_rows": moved}

    def crm_contacts_unmerged(crm, survivor_id, merged_id, moved):
        for row in moved["probe_rows"]:
            state["owner"][row] = merged_id
        state["calls"].append(("unmerged", survivor_id, merged_id))

    state["hooks"] = {"crm_contacts_merged": crm_contacts_merged, "crm_contacts_unmerged": crm_contacts_unmerged}
    return state


@pytest.fixture
def app(contacts_app, crm_plugin, crm_recorder, probe):
    return contacts_app(crm_plugin("probe", **probe["hooks"]), ("recorder", crm_recorder))


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def test_duplicates_explain_why(book):
    org = book.create(kind="organization", display_name="Acme")
    a = book.create(first_name="Ana", last_name="García", email="ana@example.com", organization_id=org.id)
    b = book.create(first_name="ANA", last_name="Garcia", phone="+34612345678", organization_id=org.id)
    c = book.create(first_name="Someone", last_name="Else", emails=["x@example.com", "ana@example.com"])
    d = book.create(first_name="Luis", last_name="Pérez", phone="+34612345678", addresses=[{"city": "Madrid"}])
    e = book.create(first_name="Luís", last_name="Perez", addresses=[{"city": "madrid"}])
    pairs = {(p.first_id, p.second_id): p.reasons for p in book.find_duplicates()}
    assert pairs[(a.id, c.id)] == ("same e-mail ana@example.com",)
    assert pairs[(a.id, b.id)] == ("same name in organization Acme", "no e-mail or phone that differs")
    assert pairs[(b.id, d.id)] == ("same phone +34612345678",)
    assert pairs[(d.id, e.id)] == ("same name in Madrid", "no e-mail or phone that differs")
    book.delete(c.id)
    assert (a.id, c.id) not in {(p.first_id, p.second_id) for p in book.find_duplicates()}


def test_alike_names_need_a_second_signal(book):
    org = book.create(kind="organization", display_name="Acme")
    madrid = [{"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28001"}]
    # two different people who happen to share a common name in one city
    ana1 = book.create(
        first_name="Ana", last_name="García", email="ana.garcia@example.com", addresses=[{"city": "Madrid"}]
    )
    ana2 = book.create(
        first_name="Ana", last_name="García", email="agarcia@other.example", addresses=[{"city": "Madrid"}]
    )
    # same name, same organization, but each with a phone of his own
    luis1 = book.create(first_name="Luis", last_name="Pérez", phone="+34612000001", organization_id=org.id)
    luis2 = book.create(first_name="Luis", last_name="Pérez", phone="+34612000002", organization_id=org.id)
    # a typo of a name, at the same address, one record without any e-mail or phone
    marta1 = book.create(first_name="Marta", last_name="Iglesias Vidal", email="marta@example.com", addresses=madrid)
    marta2 = book.create(first_name="Martha", last_name="Iglesias Vidal", addresses=madrid)
    # same name, organization and address: a changed work e-mail is forgiven
    eva1 = book.create(
        first_name="Eva", last_name="Núñez", email="eva@old.example", organization_id=org.id, addresses=madrid
    )
    eva2 = book.create(
        first_name="Eva", last_name="Nunez", email="eva@new.example", organization_id=org.id, addresses=madrid
    )
    # alike but not enough (below duplicate_name_similarity)
    book.create(first_name="Mario", last_name="Iglesias", addresses=madrid)
    pairs = {(p.first_id, p.second_id): p.reasons for p in book.find_duplicates()}
    assert (ana1.id, ana2.id) not in pairs and (luis1.id, luis2.id) not in pairs
    assert pairs[(marta1.id, marta2.id)] == (
        "similar names (98%) at the same postal address (Calle Mayor 1, Madrid)",
        "no e-mail or phone that differs",
    )
    assert pairs[(eva1.id, eva2.id)] == (
        "same name in organization Acme and at the same postal address (Calle Mayor 1, Madrid)",
        "though their e-mails differ",
    )
    assert len(pairs) == 2


def test_demo_duplicates_are_found_and_nothing_else(app, book):
    from crm_contacts.demo import load_demo
    from crm_contacts.models import Contact

    load_demo(app, count=900)
    with app.activate():
        people = {r.id: r for r in Contact.select().where(Contact.kind == "person")}
    planted = {cid for cid, r in people.items() if r.external_id.startswith("demo-dup-")}
    assert len(planted) >= 15
    pairs = book.find_duplicates(limit=10_000)
    # every pair holds a planted duplicate, and every planted one is paired
    # with a contact of the same family name (its original)
    assert all(p.first_id in planted or p.second_id in planted for p in pairs)
    for cid in planted:
        partners = [p.second_id if p.first_id == cid else p.first_id for p in pairs if cid in (p.first_id, p.second_id)]
        assert any(people[o].last_name == people[cid].last_name and o not in planted for o in partners), people[
            cid
        ].display_name
    assert len(pairs) < len(planted) * 1.5


def test_merge_and_unmerge_move_everything_back(app, book, probe, crm_recorder):
    survivor = book.create(
        first_name="Ana", last_name="García", email="ana@example.com", status="prospect", tags=["vip"]
    )
    merged = book.create(
        first_name="Ana",
        last_name="García",
        emails=["ana@work.example"],
        phone="+34612345678",
        status="customer",
        owner="luis",
        tags=["news"],
        custom={"industry": "retail"},
        do_not_contact=True,
    )
    member = book.create(first_name="Worker")
    book.create_list("news")
    book.add_to_list("news", [merged.id])
    probe["owner"].update({1: merged.id, 2: survivor.id})
    merge_id = book.merge(survivor.id, merged.id, {"status": "merged"}, actor="maria")
    after = book.get(survivor.id)
    assert [e.address for e in after.emails] == ["ana@example.com", "ana@work.example"]
    assert after.phone == "+34612345678" and after.status == "customer" and after.owner == "luis"
    assert after.tags == ("news", "vip") and after.custom == {"industry": "retail"} and after.do_not_contact
    gone = book.get(merged.id)
    assert gone.deleted_at is not None and gone.merged_into == survivor.id
    assert probe["owner"] == {1: survivor.id, 2: survivor.id}
    assert [c.id for c in book.search(list="news").cards] == [survivor.id]
    event = [e for e in crm_recorder.events if e.type_name == "ContactsMerged"][0]
    assert (event.survivor_id, event.merged_id, event.merge_id, event.actor) == (
        survivor.id,
        merged.id,
        merge_id,
        "maria",
    )
    with pytest.raises(ValidationError, match="was merged into .*unmerge"):
        book.restore(merged.id)
    assert book.unmerge(merged.id, actor="maria") == merge_id
    back = book.get(survivor.id)
    assert (
        [e.address for e in back.emails] == ["ana@example.com"] and back.status == "prospect" and back.tags == ("vip",)
    )
    assert not back.do_not_contact and back.custom == {}
    assert book.get(merged.id).deleted_at is None
    assert probe["owner"] == {1: merged.id, 2: survivor.id}
    assert [c.id for c in book.search(list="news").cards] == [merged.id]
    assert probe["calls"] == [("merged", survivor.id, merged.id), ("unmerged", survivor.id, merged.id)]
    assert "ContactsUnmerged" in crm_recorder.types()
    with pytest.raises(NotFoundError, match="no merge to undo"):
        book.unmerge(merged.id)
    del member


def test_bad_merges_change_nothing(app, book):
    a = book.create(first_name="A", email="a@example.com")
    b = book.create(first_name="B")
    org = book.create(kind="organization", display_name="Org")
    with pytest.raises(ValidationError, match="with itself"):
        book.merge(a.id, a.id)
    with pytest.raises(NotFoundError, match="no contact with id 999"):
        book.merge(a.id, 999)
    with pytest.raises(ValidationError, match="only contacts of one kind"):
        book.merge(a.id, org.id)
    with pytest.raises(ValidationError, match="merge rule"):
        book.merge(a.id, b.id, {"emails": "merged"})
    book.delete(b.id)
    with pytest.raises(ValidationError, match="contact .* is deleted"):
        book.merge(a.id, b.id)
    assert book.merges() == [] and book.get(a.id).emails[0].address == "a@example.com"


def test_merge_commands(app, book, crm_cli):
    a = book.create(first_name="Ana", email="ana@example.com")
    b = book.create(first_name="Ana", emails=["ana@example.com"], phone="+34612345678")
    result = crm_cli.invoke(["contacts", "duplicates", "--format", "csv"], app=app)
    assert f"{a.id},{b.id},Ana,Ana,same e-mail ana@example.com" in result.output
    result = crm_cli.invoke(["contacts", "merge", str(a.id), str(a.id)], app=app)
    assert result.exit_code == 2 and "with itself" in result.output
    result = crm_cli.invoke(["contacts", "merge", str(a.id), str(b.id), "--rule", "status=newest"], app=app)
    assert result.exit_code == 0 and "merged into" in result.output
    assert str(b.id) in crm_cli.invoke(["contacts", "merges"], app=app).output
    result = crm_cli.invoke(["contacts", "unmerge", str(b.id)], app=app)
    assert result.exit_code == 0 and "is back" in result.output


def test_gdpr_commands(app, book, crm_cli, tmp_path):
    a = book.create(first_name="Ana", email="ana@example.com")
    out = tmp_path / "ana.json"
    result = crm_cli.invoke(["contacts", "export-personal-data", str(a.id), "-o", str(out)], app=app)
    assert result.exit_code == 0 and "ana@example.com" in out.read_text()
    result = crm_cli.invoke(["contacts", "erase", str(a.id)], app=app, input="n\n")
    assert result.exit_code == 1 and book.get(a.id).erased_at is None
    result = crm_cli.invoke(["contacts", "erase", str(a.id), "--yes"], app=app)
    assert result.exit_code == 0 and "erased" in result.output and book.get(a.id).erased_at is not None
