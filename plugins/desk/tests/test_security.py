"""The desk's defences, each tried by a request: CSRF, headers, cookies, error pages, static files."""

from __future__ import annotations

from crm_desk.testing import DeskClient

PASSWORD = "Correct-horse-42!"


def test_a_post_without_the_csrf_token_is_refused(web: DeskClient) -> None:
    web.get("/signin")
    response = web.post("/signin", {"name": "ana", "password": PASSWORD}, csrf=False)
    assert response.status_code == 403
    assert "This form has expired" in web.text
    response = web.post("/signin", {"name": "ana", "password": PASSWORD, "csrf_token": "forged"}, csrf=False)
    assert response.status_code == 403


def test_htmx_may_carry_the_token_in_a_header(web: DeskClient) -> None:
    web.sign_in("ana", PASSWORD)
    web.get("/")
    token = web.csrf()
    assert f'"X-CSRF-Token": "{token}"' in web.text
    response = web.client.post("/signout", headers={"X-CSRF-Token": token})
    assert response.status_code == 302


def test_headers_forbid_inline_code_and_framing(web: DeskClient) -> None:
    response = web.get("/signin")
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in web.text and " style=" not in web.text  # nothing inline for the policy to refuse


def test_the_session_cookie_is_httponly_samesite_and_secure_over_https(web: DeskClient) -> None:
    response = web.client.get("/signin", base_url="https://crm.example.com")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("crm_desk=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_unexpected_error_shows_a_page_without_a_traceback(desk_app, crm_plugin) -> None:  # type: ignore[no-untyped-def]
    from crm_hookspecs.records import DeskPages, DeskWidget

    def broken_blueprint():  # type: ignore[no-untyped-def]
        import flask

        blueprint = flask.Blueprint("broken", __name__)

        @blueprint.route("/")
        def boom():  # type: ignore[no-untyped-def]
            raise RuntimeError("secret internals")

        return blueprint

    plugin = crm_plugin(
        "broken", crm_desk_pages=lambda crm: DeskPages(blueprint=broken_blueprint, widgets=[DeskWidget("w", "W", str)])
    )
    web = DeskClient(desk_app(plugin))
    web.sign_in("ana", PASSWORD)
    response = web.get("/broken/")
    assert response.status_code == 500
    assert "secret internals" not in web.text and "Traceback" not in web.text
    assert "Something went wrong" in web.text
    assert web.get("/no-such-page").status_code == 404


def test_static_files_have_hashed_names_and_long_cache_lives(web: DeskClient) -> None:
    import re

    page = web.get("/signin").get_data(as_text=True)
    css = re.search(r'href="(/static/desk\.[0-9a-f]{12}\.css)"', page)
    htmx = re.search(r'src="(/static/vendor/htmx/htmx\.min\.[0-9a-f]{12}\.js)"', page)
    assert css and htmx
    response = web.get(css.group(1))
    assert response.status_code == 200 and "--accent" in response.get_data(as_text=True)
    assert "max-age=31536000" in response.headers["Cache-Control"] and "immutable" in response.headers["Cache-Control"]
    assert web.get("/static/desk.css").status_code == 404  # only the hashed name is served


def test_the_desk_can_live_under_a_prefix(desk_app) -> None:  # type: ignore[no-untyped-def]
    web = DeskClient(desk_app(), prefix="/desk")
    assert web.get("/other").status_code == 404
    response = web.get("/desk/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/desk/signin")
    web.get("/desk/signin")
    response = web.post("/desk/signin", {"name": "ana", "password": PASSWORD})
    assert response.headers["Location"] == "/desk/"
    assert 'href="/desk/static/desk.' in web.get("/desk/").get_data(as_text=True)
