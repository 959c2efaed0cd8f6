"""crm_portal_pages: plugins add pages to the portal, behind its protections, or are refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.errors import PluginError
from crm_hookspecs.records import PortalPage

TEMPLATES = Path(__file__).parent / "loyalty_templates"


def loyalty_pages(claimed: list[str]):
    def points(name):
        import flask

        return flask.render_template("loyalty/points.html", name=name)

    def claim():
        import flask

        claimed.append(flask.request.form.get("what", ""))
        return "claimed"

    def broken():
        raise RuntimeError("secret internals /etc/passwd")

    def crm_portal_pages(crm):
        return [
            PortalPage("points", "/loyalty/<name>", points, templates=TEMPLATES),
            PortalPage("about", "/loyalty", lambda: "Collect points with every purchase.", title="Loyalty points"),
            PortalPage("claim", "/loyalty-claim", claim, methods=("POST",)),
            PortalPage("broken", "/loyalty-broken", broken),
        ]

    return crm_portal_pages


@pytest.fixture
def loyal(portal_app, crm_plugin):
    claimed: list[str] = []
    crm = portal_app("apply", crm_plugin("loyalty", crm_portal_pages=loyalty_pages(claimed)))
    return crm, claimed


@pytest.mark.sqlite_only
def test_a_plugin_page_has_the_portals_look_language_and_defences(kit, loyal):
    crm, claimed = loyal
    web = kit.Web(crm)
    page = web.get("/loyalty/Ana%20%3Cb%3E", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert "Points of Ana &lt;b&gt;" in web.text and '<p class="lang">es</p>' in web.text
    assert 'class="site-header"' in web.text and page.headers["X-Frame-Options"] == "DENY"
    home = web.get("/")
    assert home.status_code == 200 and '<a href="/loyalty">Loyalty points</a>' in web.text
    # a POST without the portal's CSRF token never reaches the view
    assert web.client.post("/loyalty-claim", data={"what": "100"}).status_code == 403
    web.get("/loyalty/Ana")
    assert web.post("/loyalty-claim", {"what": "100"}).status_code == 200
    assert claimed == ["100"]
    # an exception in the view: the portal's error page, no traceback, no internals
    broken = web.get("/loyalty-broken")
    assert broken.status_code == 500
    assert "Something went wrong" in web.text and "Traceback" not in web.text and "/etc/passwd" not in web.text


@pytest.mark.sqlite_only
def test_posts_to_plugin_pages_are_rate_limited(kit, portal_app, crm_plugin):
    crm = portal_app("apply", crm_plugin("loyalty", crm_portal_pages=loyalty_pages([])), limits={"pages": "2/hour"})
    web = kit.Web(crm)
    web.get("/loyalty/Ana")
    assert [web.post("/loyalty-claim", {"what": "1"}).status_code for _ in range(3)] == [200, 200, 429]
    assert web.page.headers["Retry-After"].isdigit()


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "pages, message",
    [
        (lambda crm: [PortalPage("mine", "/signup/<name>", lambda name: "")], "another page already has"),
        (lambda crm: [PortalPage("mine", "/surveys/<code>", lambda code: "")], "another page already has"),
        (
            lambda crm: [PortalPage("a", "/x", lambda: ""), PortalPage("a", "/y", lambda: "")],
            "two portal pages are named 'a'",
        ),
        (lambda crm: "/x", "must return a list of PortalPage objects"),
        (lambda crm: [{"rule": "/x"}], "must return a list of PortalPage objects"),
        (lambda crm: 1 / 0, "crm_portal_pages raised ZeroDivisionError"),
        (lambda crm: [PortalPage("t", "/t", lambda: "", templates="/nowhere/at/all")], "does not exist"),
        (
            lambda crm: [PortalPage("t", "/t/<token>", lambda token: "", title="Mine")],
            "has variables; leave its title empty",
        ),
    ],
)
def test_a_bad_page_stops_the_portal_with_the_plugins_name(kit, portal_app, crm_plugin, pages, message):
    crm = portal_app("apply", crm_plugin("loyalty", crm_portal_pages=pages))
    with pytest.raises(PluginError, match=message) as info:
        kit.Web(crm)
    assert info.value.plugin == "loyalty" and "'loyalty'" in str(info.value)


def test_portal_page_records_check_their_fields():
    with pytest.raises(ValueError, match="must start with '/'"):
        PortalPage("x", "x", lambda: "")
    with pytest.raises(ValueError, match="lower-case letters"):
        PortalPage("Bad Name", "/x", lambda: "")
    with pytest.raises(ValueError, match="methods must name"):
        PortalPage("x", "/x", lambda: "", methods=("get",))
    page = PortalPage("x", "/x", lambda: "", methods=["GET", "POST"], templates="t")
    assert page.methods == ("GET", "POST") and page.templates == Path("t")


@pytest.mark.sqlite_only
def test_hooks_facade_returns_pages_in_load_order(portal_app, crm_plugin):
    first = PortalPage("one", "/one", lambda: "1")
    crm = portal_app(
        "apply",
        crm_plugin("loyalty", crm_portal_pages=lambda crm: [first]),
        crm_plugin("zeta", crm_portal_pages=lambda: None),
    )
    assert crm.hooks.portal_pages(crm) == [("loyalty", first)]
