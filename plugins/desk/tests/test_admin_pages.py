"""Administration pages: an admin uses each; a salesperson sees none; every form needs its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from crm_desk.testing import DeskClient

PASSWORD = "Correct-horse-42!"

#: every administration page a GET opens, and every form a POST sends
PAGES = [
    "/admin/",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/ana",
    "/admin/teams",
    "/admin/teams/north",
    "/admin/roles",
    "/admin/roles/new",
    "/admin/roles/admin",
    "/admin/tokens",
    "/admin/tokens/new",
]
FORMS = [
    ("/admin/users/new", {"name": "eve", "email": "eve@example.com", "access": "link"}),
    ("/admin/users/ana", {"display_name": "Ana", "email": "ana@example.com", "roles": "sales"}),
    ("/admin/users/ana/disable", {}),
    ("/admin/users/ana/enable", {}),
    ("/admin/users/ana/reset", {}),
    ("/admin/teams", {"name": "south"}),
    ("/admin/teams/north", {"members": "ana"}),
    ("/admin/teams/north/remove", {}),
    ("/admin/roles/new", {"name": "viewer", "permissions": "admin.audit"}),
    ("/admin/roles/viewer", {"description": "x"}),
    ("/admin/roles/viewer/remove", {}),
    ("/admin/tokens/new", {"user": "ana", "name": "export"}),
    ("/admin/tokens/PREFIX/revoke", {}),
]


@pytest.fixture
def admin_app(desk_app: Callable[..., Any]) -> Any:
    crm = desk_app()
    crm.authz.teams.add("north", "The northern sales team")
    crm.authz.roles.add("viewer", description="Reads the audit", permissions=["admin.audit"])
    crm.authz.users.add("marta", display_name="Marta", email="marta@example.com", roles=["manager"], password=PASSWORD)
    return crm


@pytest.fixture
def admin(admin_app: Any) -> DeskClient:
    web = DeskClient(admin_app)
    web.sign_in("root", PASSWORD)
    return web


def _token_prefix(crm: Any) -> str:
    return crm.authz.tokens.create("ana", "probe").info.prefix


def test_the_admin_sees_the_entry_and_every_page(admin: DeskClient) -> None:
    admin.get("/")
    assert 'href="/admin/"' in admin.text and "Administration" in admin.text
    for url in PAGES:
        status = admin.get(url).status_code
        assert status == (302 if url == "/admin/" else 200), url
    assert admin.get("/admin/").headers["Location"] == "/admin/users"


@pytest.mark.parametrize("who", ["ana", "marta"])
def test_a_user_without_admin_permissions_gets_403_everywhere_and_no_entry(admin_app: Any, who: str) -> None:
    web = DeskClient(admin_app)
    web.sign_in(who, PASSWORD)
    web.get("/")
    assert "Administration" not in web.text and "/admin/" not in web.text
    for url in PAGES:
        assert web.get(url).status_code == 403, url
    prefix = _token_prefix(admin_app)
    web.get("/")
    for url, data in FORMS:
        assert web.post(url.replace("PREFIX", prefix), data).status_code == 403, url
    assert admin_app.authz.users.get("ana").active and admin_app.authz.tokens.get(prefix).revoked_at is None


def test_every_admin_form_needs_the_csrf_token(admin: DeskClient) -> None:
    prefix = _token_prefix(admin.crm)
    for url, data in FORMS:
        assert admin.post(url.replace("PREFIX", prefix), data, csrf=False).status_code == 403, url
    assert admin.crm.authz.users.get("ana").active
    assert admin.crm.authz.tokens.get(prefix).revoked_at is None
    assert "eve" not in {u.name for u in admin.crm.authz.users.list()}


def test_the_users_list_shows_what_an_admin_needs(admin: DeskClient) -> None:
    text = admin.get("/admin/users").get_data(as_text=True)
    for expected in ("Ana García", "ana@example.com", "sales", "never", "Two-factor", "Last sign-in"):
        assert expected in text
    assert 'href="/admin/users/new"' in text


def test_adding_a_user_with_a_first_password(admin: DeskClient) -> None:
    admin.get("/admin/users/new")
    answer = admin.post(
        "/admin/users/new",
        {
            "name": "eve",
            "display_name": "Eve Ruiz",
            "email": "eve@example.com",
            "roles": "sales",
            "teams": "north",
            "access": "password",
            "password": "Another-horse-77!",
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/users/eve"
    eve = admin.crm.authz.users.get("eve")
    assert (eve.display_name, list(eve.roles), list(eve.teams)) == ("Eve Ruiz", ["sales"], ["north"])
    other = DeskClient(admin.crm)
    assert other.sign_in("eve", "Another-horse-77!").status_code == 302
    assert admin.crm.mail.counts()["queued"] == 0


def test_adding_a_user_with_a_link_by_email_queues_the_mail(admin: DeskClient) -> None:
    admin.get("/admin/users/new")
    answer = admin.post("/admin/users/new", {"name": "eve", "email": "eve@example.com", "access": "link"})
    assert answer.status_code == 302
    queued = admin.crm.mail.list("queued")
    assert [m.to for m in queued] == [("eve@example.com",)]
    assert "https://crm.example.com/desk/reset/" in admin.crm.mail.get(queued[0].id).text


def test_a_bad_user_name_is_shown_beside_the_field_and_the_form_keeps_what_was_typed(admin: DeskClient) -> None:
    admin.get("/admin/users/new")
    answer = admin.post(
        "/admin/users/new",
        {
            "name": "bad name!",
            "display_name": "Kept Name",
            "email": "kept@example.com",
            "roles": "sales",
            "access": "link",
        },
    )
    assert answer.status_code == 400
    text = admin.text
    note = re.search(r'<p class="error" id="f-name-note">([^<]+)</p>', text)
    assert note is not None and "user name" in note.group(1)
    assert 'value="bad name!"' in text and 'value="Kept Name"' in text and 'value="kept@example.com"' in text
    assert re.search(r'name="roles" value="sales" checked', text)
    assert 'aria-invalid="true"' in text


def test_a_link_needs_an_email_address(admin: DeskClient) -> None:
    admin.get("/admin/users/new")
    assert admin.post("/admin/users/new", {"name": "eve", "access": "link"}).status_code == 400
    assert 'id="f-email-note"' in admin.text


def test_editing_a_user_roles_teams_and_details(admin: DeskClient) -> None:
    admin.get("/admin/users/ana")
    answer = admin.post(
        "/admin/users/ana",
        {"display_name": "Ana G.", "email": "ana.g@example.com", "roles": ["sales", "support"], "teams": "north"},
    )
    assert answer.status_code == 302
    ana = admin.crm.authz.users.get("ana")
    assert (ana.display_name, ana.email, list(ana.roles), list(ana.teams)) == (
        "Ana G.",
        "ana.g@example.com",
        ["sales", "support"],
        ["north"],
    )
    admin.get("/admin/users/ana")
    assert admin.post("/admin/users/ana", {"display_name": "Ana", "email": "not-an-address"}).status_code == 400
    assert 'id="f-email-note"' in admin.text and 'value="not-an-address"' in admin.text


def test_the_last_admin_keeps_the_admin_role(admin: DeskClient) -> None:
    admin.get("/admin/users/root")
    assert admin.post("/admin/users/root", {"display_name": "Root", "roles": "sales"}).status_code == 400
    assert "last active admin" in admin.text
    assert list(admin.crm.authz.users.get("root").roles) == ["admin"]


def test_disable_enable_and_send_a_reset(admin: DeskClient) -> None:
    ana = DeskClient(admin.crm)
    ana.sign_in("ana", PASSWORD)
    admin.get("/admin/users/ana")
    assert admin.post("/admin/users/ana/disable").status_code == 302
    assert not admin.crm.authz.users.get("ana").active
    assert ana.get("/").status_code == 302  # her session ended
    admin.get("/admin/users/ana")
    assert "disabled" in admin.text
    admin.post("/admin/users/ana/enable")
    assert admin.crm.authz.users.get("ana").active
    admin.get("/admin/users/ana")
    admin.post("/admin/users/ana/reset")
    assert [m.to for m in admin.crm.mail.list("queued")] == [("ana@example.com",)]
    admin.get("/admin/users/root")
    admin.post("/admin/users/root/disable")
    assert "last active admin" in admin.get("/admin/users/root").get_data(as_text=True)


def test_teams_add_members_and_remove(admin: DeskClient) -> None:
    admin.get("/admin/teams")
    assert "The northern sales team" in admin.text
    assert admin.post("/admin/teams", {"name": "south"}).status_code == 302
    admin.get("/admin/teams")
    assert admin.post("/admin/teams", {"name": "South"}).status_code == 400
    assert 'id="f-name-note"' in admin.text
    admin.get("/admin/teams/south")
    assert admin.post("/admin/teams/south", {"members": ["ana", "marta"]}).status_code == 302
    assert list(admin.crm.authz.teams.get("south")["members"]) == ["ana", "marta"]
    admin.get("/admin/teams/south")
    admin.post("/admin/teams/south/remove")
    assert "take them out first" in admin.get("/admin/teams/south").get_data(as_text=True)
    admin.post("/admin/teams/south", {"members": []})
    admin.get("/admin/teams/south")
    assert admin.post("/admin/teams/south/remove").headers["Location"] == "/admin/teams"
    assert [t["name"] for t in admin.crm.authz.teams.list()] == ["north"]


def test_the_permission_matrix(admin: DeskClient) -> None:
    text = admin.get("/admin/roles").get_data(as_text=True)
    for role in ("admin", "manager", "sales", "support", "read-only", "viewer"):
        assert f">{role}</a>" in text
    assert "admin.users" in text and "Kernel" in text
    # admin.users: the admin role has it (all), the manager does not
    row = re.search(r"<th scope=\"row\"[^>]*>admin.users</th>(.*?)</tr>", text, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert "all" in cells[0] and "all" not in cells[1]


def test_custom_roles_are_made_edited_and_removed_built_in_ones_are_read_only(admin: DeskClient) -> None:
    admin.get("/admin/roles/new")
    assert admin.post("/admin/roles/new", {"name": "bad role", "permissions": "admin.audit"}).status_code == 400
    assert 'value="bad role"' in admin.text
    assert admin.post("/admin/roles/new", {"name": "auditor", "permissions": "admin.audit"}).status_code == 302
    assert admin.crm.authz.roles.get("auditor").permissions == ("admin.audit",)
    admin.get("/admin/roles/auditor")
    answer = admin.post(
        "/admin/roles/auditor", {"description": "Reads", "permissions": ["admin.audit", "admin.tokens"]}
    )
    assert answer.status_code == 302
    role = admin.crm.authz.roles.get("auditor")
    assert (role.description, set(role.permissions)) == ("Reads", {"admin.audit", "admin.tokens"})
    admin.get("/admin/roles/auditor")
    admin.post("/admin/roles/auditor/remove")
    assert "auditor" not in {r.name for r in admin.crm.authz.roles.all()}
    page = admin.get("/admin/roles/sales").get_data(as_text=True)
    assert "cannot be changed here" in page and "Make the role" not in page and ">Save<" not in page
    assert admin.post("/admin/roles/sales", {"description": "x"}).status_code == 405


def test_a_token_is_shown_once_listed_and_revoked(admin: DeskClient) -> None:
    admin.get("/admin/tokens")
    assert "No API tokens yet" in admin.text
    admin.get("/admin/tokens/new")
    answer = admin.post("/admin/tokens/new", {"user": "ana", "name": "nightly export", "scopes": "contacts.read"})
    assert answer.status_code == 400 and 'id="f-scopes-note"' in admin.text  # no plugin declares contacts.read here
    answer = admin.post("/admin/tokens/new", {"user": "ana", "name": "nightly export", "days": "30"})
    assert answer.status_code == 200
    text = re.search(r'<code class="token-text">(crm_[^<]+)</code>', admin.text)
    assert text is not None
    prefix = text.group(1).split("_")[1]
    listing = admin.get("/admin/tokens").get_data(as_text=True)
    assert "nightly export" in listing and f"crm_{prefix}_" in listing and text.group(1) not in listing
    with admin.crm.authz.as_token(text.group(1)) as user:
        assert user.name == "ana"
    admin.get(f"/admin/tokens/{prefix}/revoke")
    assert "cannot be undone" in admin.text
    assert admin.post(f"/admin/tokens/{prefix}/revoke").headers["Location"] == "/admin/tokens"
    from crm_core.errors import TokenRevokedError

    with pytest.raises(TokenRevokedError), admin.crm.authz.as_token(text.group(1)):
        pass
    assert "revoked" in admin.get("/admin/tokens").get_data(as_text=True)


def test_a_manager_with_token_rights_cannot_make_a_token_for_an_admin(desk_app: Callable[..., Any]) -> None:
    crm = desk_app()
    crm.authz.roles.add("token-keeper", permissions=["*", "!admin.users", "!admin.roles"], scopes={"*": "all"})
    crm.authz.users.add("keeper", email="keeper@example.com", roles=["token-keeper"], password=PASSWORD)
    web = DeskClient(crm)
    web.sign_in("keeper", PASSWORD)
    web.get("/")
    assert 'href="/admin/"' in web.text
    assert web.get("/admin/users").status_code == 403
    web.get("/admin/tokens/new")
    assert web.post("/admin/tokens/new", {"user": "root", "name": "steal"}).status_code == 400
    assert 'id="f-user-note"' in web.text and "may not manage" in web.text
    assert crm.authz.tokens.list() == []
    assert web.post("/admin/tokens/new", {"user": "ana", "name": "fine"}).status_code == 200


def test_the_administration_speaks_spanish(admin: DeskClient) -> None:
    admin.get("/")
    admin.post("/language", {"language": "es", "next": "/"})
    text = admin.get("/admin/users").get_data(as_text=True)
    assert "Administración" in text and "Añadir un usuario" in text and "Último acceso" in text
    assert "Permisos por rol" in admin.get("/admin/roles").get_data(as_text=True)


def test_a_visitor_is_sent_to_sign_in_and_unknown_names_are_404(admin_app: Any, admin: DeskClient) -> None:
    visitor = DeskClient(admin_app)
    assert visitor.get("/admin/users").headers["Location"].startswith("/signin?next=/admin/users")
    for url in (
        "/admin/users/nobody",
        "/admin/teams/nowhere",
        "/admin/roles/no-such-role",
        "/admin/tokens/zzzz/revoke",
    ):
        assert admin.get(url).status_code == 404, url


def test_the_users_and_teams_pages_run_as_many_statements_for_many_users_as_for_few(admin_app: Any) -> None:
    """No query per row: a user's teams and roles, a team's members, are read for all of them at once."""
    from crm_core.testing import statements

    web = DeskClient(admin_app)
    web.sign_in("root", PASSWORD)

    def counted(url: str) -> int:
        with statements(admin_app) as seen:
            assert web.get(url).status_code == 200
        return len(seen)

    few = {url: counted(url) for url in ("/admin/users", "/admin/teams")}
    for i in range(12):
        admin_app.authz.teams.add(f"team{i}")
        admin_app.authz.users.add(f"seller{i}", roles=["sales"], teams=[f"team{i}", "north"], password=PASSWORD)
    for url, count in few.items():
        assert counted(url) == count, url
    assert "seller11" in web.get("/admin/users").get_data(as_text=True)
    teams_page = web.get("/admin/teams").get_data(as_text=True)
    assert "team11" in teams_page and "seller11" in teams_page
