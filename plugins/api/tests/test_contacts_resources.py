"""The contacts plugin's resources over HTTP, under each token's permissions and scope."""

from __future__ import annotations

import pytest


@pytest.fixture
def shop(crm_factory, crm_user):
    """Ana and Bea sell (own scope), Boss manages; each seller owns two customers."""
    from crm_api import create_app

    crm = crm_factory(plugins=["contacts", "api"])
    crm_user(crm, name="ana", roles=["sales"])
    crm_user(crm, name="bea", roles=["sales"])
    crm_user(crm, name="boss", roles=["manager"])
    contacts = crm.plugin("contacts")
    ids = {}
    for owner in ("ana", "bea"):
        for i in (1, 2):
            card = contacts.create(
                first_name=f"{owner.title()}{i}", last_name="Client", owner=owner, email=f"{owner}{i}@example.com"
            )
            ids[f"{owner}{i}"] = card.id
    tokens = {name: crm.authz.tokens.create(name, "shop").text for name in ("ana", "bea", "boss")}
    client = create_app(crm).test_client()

    class Shop:
        def call(self, method, path, user="ana", **kwargs):
            headers = {"Authorization": f"Bearer {tokens[user]}", **kwargs.pop("headers", {})}
            return client.open(path, method=method, headers=headers, **kwargs)

    shop = Shop()
    shop.crm, shop.ids = crm, ids
    return shop


def test_a_seller_lists_and_counts_only_own_customers(shop):
    mine = shop.call("GET", "/api/v1/contacts?count=true")
    assert mine.status_code == 200, mine.json
    assert sorted(c["first_name"] for c in mine.json["data"]) == ["Ana1", "Ana2"] and mine.json["total"] == 2
    assert shop.call("GET", "/api/v1/contacts?count=true", user="boss").json["total"] == 4
    paged = shop.call("GET", "/api/v1/contacts?limit=1", user="boss")
    seen = [c["id"] for c in paged.json["data"]]
    while paged.json["next"]:
        paged = shop.call("GET", paged.json["next"], user="boss")
        seen += [c["id"] for c in paged.json["data"]]
    assert sorted(seen) == sorted(shop.ids.values())


def test_another_sellers_customer_is_404_for_read_change_and_delete(shop):
    theirs = shop.ids["bea1"]
    assert shop.call("GET", f"/api/v1/contacts/{theirs}").status_code == 404
    tag = shop.call("GET", f"/api/v1/contacts/{theirs}", user="bea").headers["ETag"]
    patch = shop.call("PATCH", f"/api/v1/contacts/{theirs}", json={"status": "customer"}, headers={"If-Match": tag})
    assert patch.status_code == 404
    assert shop.call("DELETE", f"/api/v1/contacts/{theirs}", headers={"If-Match": tag}).status_code == 404
    assert shop.call("GET", f"/api/v1/contacts/{theirs}", user="bea").json["status"] == "prospect"


def test_create_change_and_delete_a_contact(shop):
    made = shop.call(
        "POST",
        "/api/v1/contacts",
        json={
            "first_name": "Nuevo",
            "last_name": "Cliente",
            "emails": [{"address": "nuevo@example.com"}],
            "tags": ["web"],
        },
        headers={"Idempotency-Key": "signup-77"},
    )
    assert made.status_code == 201, made.json
    record = made.json
    assert record["owner"] == "ana" and record["emails"][0]["address"] == "nuevo@example.com"
    path = made.headers["Location"]
    again = shop.call(
        "POST",
        "/api/v1/contacts",
        json={
            "first_name": "Nuevo",
            "last_name": "Cliente",
            "emails": [{"address": "nuevo@example.com"}],
            "tags": ["web"],
        },
        headers={"Idempotency-Key": "signup-77"},
    )
    assert again.json["id"] == record["id"]
    changed = shop.call("PATCH", path, json={"status": "customer"}, headers={"If-Match": made.headers["ETag"]})
    assert changed.status_code == 200 and changed.json["status"] == "customer"
    stale = shop.call("PATCH", path, json={"status": "former"}, headers={"If-Match": made.headers["ETag"]})
    assert stale.status_code == 412
    bad = shop.call("PATCH", path, json={"colour": "red"}, headers={"If-Match": changed.headers["ETag"]})
    assert bad.status_code == 422 and "colour" in bad.json["detail"]
    refused = shop.call("DELETE", path, headers={"If-Match": changed.headers["ETag"]})
    assert refused.status_code == 403 and "contacts.delete" in refused.json["detail"]  # a seller does not delete
    gone = shop.call("DELETE", path, user="boss", headers={"If-Match": changed.headers["ETag"]})
    assert gone.status_code == 204
    assert shop.call("GET", path).status_code == 404 or shop.call("GET", path).json["deleted_at"]
    restored = shop.call("POST", f"{path}/restore", user="boss")
    assert restored.status_code == 200 and restored.json["deleted_at"] is None


def test_lists_over_http(shop):
    shop.crm.plugin("contacts").create_list("newsletter", "Monthly news")
    added = shop.call(
        "POST", "/api/v1/lists/newsletter/members", user="boss", json={"contact_ids": list(shop.ids.values())}
    )
    assert added.status_code == 200 and added.json == {"added": 4}, added.json
    names = [l["name"] for l in shop.call("GET", "/api/v1/lists", user="boss").json["data"]]
    assert names == ["newsletter"]
    members = shop.call("GET", "/api/v1/lists/newsletter/members?limit=2", user="boss")
    assert len(members.json["data"]) == 2 and members.json["next"]
    # a seller sees only their own customers on the list, and adds only their own
    mine = shop.call("GET", "/api/v1/lists/newsletter/members").json["data"]
    assert sorted(m["contact_id"] for m in mine) == sorted([shop.ids["ana1"], shop.ids["ana2"]])
    again = shop.call("POST", "/api/v1/lists/newsletter/members", json={"contact_ids": [shop.ids["ana1"]]})
    assert again.status_code == 200 and again.json == {"added": 0}
    theirs = shop.call("POST", "/api/v1/lists/newsletter/members", json={"contact_ids": [shop.ids["bea1"]]})
    assert theirs.status_code in (403, 404) and "bea" not in theirs.get_data(as_text=True)
    removed = shop.call("DELETE", f"/api/v1/lists/newsletter/members/{shop.ids['bea1']}", user="boss")
    assert removed.status_code == 204
    assert shop.call("GET", "/api/v1/lists/nope/members", user="boss").status_code == 404


def test_a_read_and_a_page_take_a_fixed_number_of_statements(shop):
    """The token's check (token and user; teams and roles), then the contact and its child tables: no query per row."""
    from crm_core.testing import statements

    contacts = shop.crm.plugin("contacts")
    for n in range(60):
        contacts.create(first_name=f"Row{n}", last_name="Client", owner="boss", email=f"row{n}@example.com", tags=["x"])
    one = shop.ids["ana1"]
    shop.call("GET", "/api/v1/me", user="boss")  # the token's first use in the minute is stamped and audited
    with statements(shop.crm) as sql:
        assert shop.call("GET", f"/api/v1/contacts/{one}", user="boss").status_code == 200
    assert len(sql) <= 4, sql
    counts = {}
    for size in (5, 50):
        with statements(shop.crm) as sql:
            page = shop.call("GET", f"/api/v1/contacts?limit={size}&count=true", user="boss")
        assert len(page.json["data"]) == size
        counts[size] = len(sql)
    assert counts[5] == counts[50] <= 6, counts


def test_pages_follow_the_last_row_so_an_insert_shifts_nothing(shop):
    contacts = shop.crm.plugin("contacts")
    for n in range(5):
        contacts.create(first_name="Mid", last_name=f"Client{n}", owner="boss")
    first = shop.call("GET", "/api/v1/contacts?limit=4", user="boss").json
    seen = [c["id"] for c in first["data"]]
    contacts.create(first_name="Aaa", last_name="Early", owner="boss")  # sorts before the first page's end
    following = first["next"]
    while following:
        page = shop.call("GET", following, user="boss").json
        seen += [c["id"] for c in page["data"]]
        following = page["next"]
    assert len(seen) == len(set(seen)) == 9  # the four customers and five "Mid"s, none twice, none skipped


def test_unmerge_and_tags_over_http(shop):
    boss = "boss"
    survivor, merged = shop.ids["ana1"], shop.ids["ana2"]
    done = shop.call("POST", f"/api/v1/contacts/{survivor}/merge", user=boss, json={"merged_id": merged})
    assert done.status_code == 200, done.json
    back = shop.call("POST", f"/api/v1/contacts/{merged}/unmerge", user=boss)
    assert back.status_code == 200 and back.json == {"merge_id": done.json["merge_id"], "contact_id": merged}
    assert shop.call("GET", f"/api/v1/contacts/{merged}", user=boss).json["merged_into"] is None
    tagged = shop.call("POST", "/api/v1/contacts/tags", json={"contact_ids": [survivor, merged], "add": ["fair-2026"]})
    assert tagged.status_code == 200 and tagged.json == {"changed": 2}
    assert "fair-2026" in shop.call("GET", f"/api/v1/contacts/{merged}").json["tags"]
    # a seller may not tag another seller's customer: nothing is tagged, and the id does not leak
    theirs = shop.call(
        "POST", "/api/v1/contacts/tags", json={"contact_ids": [survivor, shop.ids["bea1"]], "add": ["x"]}
    )
    assert theirs.status_code == 404
    assert "x" not in shop.call("GET", f"/api/v1/contacts/{survivor}").json["tags"]
    empty = shop.call("POST", "/api/v1/contacts/tags", json={"contact_ids": [survivor]})
    assert empty.status_code == 422 and "tags to add" in empty.json["detail"]


def test_customer_updates_are_reviewed_over_http(shop):
    contacts = shop.crm.plugin("contacts")
    link = contacts.issue_update_link(shop.ids["ana1"])
    contacts.submit_update(link.token, {"language": "ca"})
    waiting = shop.call("GET", "/api/v1/updates", user="boss")
    assert waiting.status_code == 200 and [u["contact_id"] for u in waiting.json["data"]] == [shop.ids["ana1"]]
    change = waiting.json["data"][0]
    assert change["changes"]["language"] == {"old": None, "new": "ca"}
    assert shop.call("GET", "/api/v1/updates").status_code == 403  # sales do not review
    refused = shop.call("POST", f"/api/v1/updates/{change['id']}/reject", user="boss", json={})
    assert refused.status_code == 422 and "say why" in refused.json["detail"]
    approved = shop.call("POST", f"/api/v1/updates/{change['id']}/approve", user="boss", json={"note": "checked"})
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert shop.call("GET", f"/api/v1/contacts/{shop.ids['ana1']}", user="boss").json["language"] == "ca"
    assert shop.call("GET", "/api/v1/updates", user="boss").json["data"] == []


def test_personal_data_and_erasure_over_http(shop):
    ana1 = shop.ids["ana1"]
    data = shop.call("GET", f"/api/v1/contacts/{ana1}/personal-data", user="boss")
    assert data.status_code == 200 and "ana1@example.com" in str(data.json)
    assert shop.call("GET", f"/api/v1/contacts/{shop.ids['bea1']}/personal-data").status_code == 404
    assert shop.call("POST", f"/api/v1/contacts/{ana1}/erase").status_code == 403  # sales may not erase
    erased = shop.call("POST", f"/api/v1/contacts/{ana1}/erase", user="boss")
    assert erased.status_code == 200 and erased.json["erased"]
    record = shop.call("GET", f"/api/v1/contacts/{ana1}", user="boss").json
    assert record["erased_at"] is not None and record["emails"] == []


def test_lists_and_segments_over_http(shop):
    made = shop.call("POST", "/api/v1/lists", user="boss", json={"name": "fair", "description": "Trade fair"})
    assert made.status_code == 201 and made.json["name"] == "fair"
    again = shop.call("POST", "/api/v1/lists", user="boss", json={"name": "fair"})
    assert again.status_code in (409, 422)
    segment = shop.call(
        "POST", "/api/v1/segments", user="boss", json={"name": "prospects", "filters": {"status": "prospect"}}
    )
    assert segment.status_code == 201 and segment.json["filters"] == {"status": "prospect"}
    assert shop.call("POST", "/api/v1/segments", user="boss", json={"name": "all"}).status_code == 422
    assert [s["name"] for s in shop.call("GET", "/api/v1/segments").json["data"]] == ["prospects"]
    # the segment finds anew, under each caller's scope
    mine = shop.call("GET", "/api/v1/segments/prospects/members?count=true")
    assert mine.status_code == 200 and mine.json["total"] == 2
    assert shop.call("GET", "/api/v1/segments/prospects/members?count=true", user="boss").json["total"] == 4
    assert shop.call("GET", "/api/v1/segments/nobody/members").status_code == 404
    shop.crm.authz.users.add("rita", roles=["read-only"])
    reader = {"Authorization": f"Bearer {shop.crm.authz.tokens.create('rita', 'read').text}"}
    assert shop.call("DELETE", "/api/v1/segments/prospects", headers=reader).status_code == 403
    assert shop.call("DELETE", "/api/v1/segments/prospects", user="boss").status_code == 204
    assert shop.call("DELETE", "/api/v1/lists/fair", user="boss").status_code == 204
    assert shop.call("GET", "/api/v1/lists", user="boss").json["data"] == []


def test_a_seller_cannot_take_another_sellers_customer_off_a_list(shop):
    contacts = shop.crm.plugin("contacts")
    contacts.create_list("news")
    contacts.add_to_list("news", [shop.ids["ana1"], shop.ids["bea1"]])
    refused = shop.call("DELETE", f"/api/v1/lists/news/members/{shop.ids['bea1']}")
    assert refused.status_code == 404
    members = {m.contact_id for m in contacts.list_members("news")}
    assert members == {shop.ids["ana1"], shop.ids["bea1"]}
    assert shop.call("DELETE", f"/api/v1/lists/news/members/{shop.ids['ana1']}").status_code == 204
