"""Headers, cookies, error pages and rate limits: each tried against requests that try to break them."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_portal import ratelimit

pytestmark = pytest.mark.sqlite_only  # what is checked here does not depend on the database

PAGES = ["/", "/signup/newsletter", "/nowhere", "/contacts/update?token=bad", "/surveys/bad", "/unsubscribe/bad"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_has_the_security_headers(web, url):
    response = web.get(url)
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS would be ignored, and wrong
    assert (
        "<style" not in web.text and " style=" not in web.text and "<script>" not in web.text
    )  # nothing the CSP would block


def test_hsts_over_https_directly_or_behind_a_trusted_proxy(kit, app, portal_app):
    web = kit.Web(app)
    response = web.client.get("/", base_url="https://crm.example.com")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # a client cannot claim HTTPS with a header when no proxy is trusted
    assert "Strict-Transport-Security" not in web.client.get("/", headers={"X-Forwarded-Proto": "https"}).headers
    proxied = kit.Web(portal_app(trusted_proxies=1, hsts_max_age=600))
    response = proxied.client.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"})
    assert response.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
    assert "Secure" in response.headers.get("Set-Cookie", "Secure")


def test_the_session_cookie_is_locked_down(web):
    web.get("/signup/newsletter")
    cookie = web.page.headers["Set-Cookie"]
    assert cookie.startswith("crm_portal=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    secure = web.client.get("/signup/newsletter", base_url="https://crm.example.com")
    assert "Secure" in secure.headers["Set-Cookie"]


def test_static_files_are_cached_and_the_theme_comes_from_the_settings(kit, portal_app):
    web = kit.Web(
        portal_app(primary_color="#8a1538", background_color="#fff", text_color="#222222", site_name="ACME & Co")
    )
    css = web.get("/theme.css")
    assert css.mimetype == "text/css" and "--primary: #8a1538;" in web.text and "--background: #fff;" in web.text
    assert "max-age" in css.headers["Cache-Control"]
    assert web.get("/static/portal.css").status_code == 200 and "max-age" in web.page.headers["Cache-Control"]
    web.get("/")
    assert "ACME &amp; Co" in web.text


def test_errors_are_plain_pages_with_the_right_status(web):
    assert web.get("/nowhere").status_code == 404 and "Page not found" in web.text
    assert web.client.delete("/").status_code in (403, 405)
    response = web.client.put("/signup/newsletter")
    assert response.status_code in (403, 405)
    web.get("/signup/newsletter")
    huge = web.post("/signup/newsletter", {"email": "a@example.com", "first_name": "x" * 70_000, "consent": "yes"})
    assert huge.status_code == 413 and "Too much was sent" in web.text
    for text in (web.text,):
        assert "Traceback" not in text and 'File "' not in text


def test_an_unexpected_error_shows_no_traceback(kit, app, monkeypatch, caplog):
    web = kit.Web(app)

    def explode(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(type(app.plugin("contacts")), "inspect_update_token", explode)
    response = web.get("/contacts/update?token=whatever")
    assert response.status_code == 500
    assert "Something went wrong" in web.text and "hunter2" not in web.text and "Traceback" not in web.text
    assert "hunter2" in caplog.text  # it is in the log, for the operator


def test_a_csrf_token_is_per_session(kit, app):
    first, second = kit.Web(app), kit.Web(app)
    first.get("/signup/newsletter")
    second.get("/signup/newsletter")
    assert first.csrf() != second.csrf()
    response = first.client.post(
        "/signup/newsletter", data={"email": "a@example.com", "consent": "yes", "csrf_token": second.csrf()}
    )
    assert response.status_code == 403


def test_links_in_mail_never_follow_the_host_header(kit, app):
    web = kit.Web(app)
    web.get("/signup/newsletter", headers={"Host": "evil.example"})
    token = web.csrf()
    web.client.post(
        "/signup/newsletter",
        data={"email": "ana@example.com", "consent": "yes", "csrf_token": token},
        headers={"Host": "evil.example"},
    )
    app.mail.deliver()
    (mail,) = app.mail.sent
    assert "evil.example" not in mail.text and "http://localhost:8000/signup/confirm/" in mail.text


def test_client_keys_group_ipv6_networks():
    assert ratelimit.client_key("192.0.2.7") == "192.0.2.7"
    assert (
        ratelimit.client_key("2001:db8:1:2:3:4:5:6")
        == ratelimit.client_key("2001:db8:1:2:ffff::1")
        == "2001:db8:1:2::/64"
    )
    assert ratelimit.client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert ratelimit.client_key(None) == ratelimit.client_key("not an address") == "unknown"
    assert ratelimit.email_key(" Ana@Example.com ") == ratelimit.email_key("ana@example.com")
    assert "@" not in ratelimit.email_key("ana@example.com")


def test_the_rate_window_slides(app, crm_clock):
    crm_clock.set(dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC))
    decisions = [ratelimit.hit(app, "t:ip:x", "4/hour") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, True, False]
    assert decisions[-1].retry_after == 3600  # the current hour alone is over: its end
    crm_clock.advance(minutes=60)  # a new window, but the last one still weighs fully at its start
    assert not ratelimit.hit(app, "t:ip:x", "4/hour").allowed
    crm_clock.advance(minutes=45)  # a quarter of the last window still counts: 5/4 + 1 of this one
    assert ratelimit.hit(app, "t:ip:x", "4/hour").allowed
    assert ratelimit.hit(app, "t:ip:y", "4/hour").allowed  # other keys are not affected
    crm_clock.advance(days=3)
    assert ratelimit.clean(app) >= 2


@pytest.mark.parametrize(
    "text, expected",
    [("5/hour", (5, 3600)), ("3/day", (3, 86400)), ("30/10min", (30, 600)), ("2 / 30s", (2, 30)), ("1/2h", (1, 7200))],
)
def test_rates_are_read(text, expected):
    from crm_portal.settings import parse_limit

    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", ["5", "five/hour", "5/fortnight", "0/hour", "5/0min", ""])
def test_bad_rates_are_refused(text):
    from crm_portal.settings import parse_limit

    with pytest.raises(ValueError, match="rate|at least 1"):
        parse_limit(text)


def test_every_form_refuses_a_post_without_its_csrf_token(kit, app):
    contacts = app.plugin("contacts")
    ana = kit.add_contact(app)
    contacts.add_to_list("newsletter", [ana.id])
    web = kit.Web(app)
    update = "/contacts/update?token=" + contacts.issue_update_link(ana.id).token
    survey = "/surveys/" + kit.survey_token(app, ana.id)
    unsubscribe = app.plugin("portal").unsubscribe_url(ana.id, "newsletter").replace("http://localhost:8000", "")
    web.get("/signup/newsletter")  # a session exists: only the token is missing
    posts = [
        (update, {"first_name": "Mallory", "action": "preview"}),
        (survey, {"recommend": "0", "shown": "recommend"}),
        ("/signup/newsletter", {"email": "mallory@example.com", "consent": "yes"}),
        (unsubscribe, {"action": "all"}),
        ("/signup/confirm/whatever", {}),
    ]
    for url, data in posts:
        response = web.client.post(url, data=data)
        assert response.status_code == 403 and "This form has expired" in response.get_data(as_text=True), url
        assert web.client.post(url, data={**data, "csrf_token": "guessed"}).status_code == 403, url
    assert contacts.get(ana.id).first_name == "Ana" and contacts.get(ana.id).do_not_contact is False
    assert app.plugin("surveys").form(survey.rsplit("/", 1)[1]).answers == {}
    app.mail.deliver()
    assert app.mail.sent == []


def test_a_lost_database_connection_is_503_and_the_next_request_reconnects(kit, app, monkeypatch):
    import peewee

    web = kit.Web(app)
    real = type(app.plugin("contacts")).inspect_update_token
    calls = []

    def lost(self, token):
        calls.append(token)
        if len(calls) == 1:
            raise peewee.OperationalError("server closed the connection unexpectedly")
        return real(self, token)

    monkeypatch.setattr(type(app.plugin("contacts")), "inspect_update_token", lost)
    ana = kit.add_contact(app)
    token = app.plugin("contacts").issue_update_link(ana.id).token
    first = web.get("/contacts/update?token=" + token)
    assert first.status_code == 503 and "Not available right now" in web.text and "server closed" not in web.text
    assert web.get("/contacts/update?token=" + token).status_code == 200


def test_a_vanished_survey_or_an_old_link_without_its_key_is_a_clear_page(kit, app, crm_factory, monkeypatch):
    from crm_core.errors import NotFoundError

    ana = kit.add_contact(app)
    token = kit.survey_token(app, ana.id)

    def vanished(self, token, survey_id=None):
        raise NotFoundError("no survey 1")

    monkeypatch.setattr(type(app.plugin("surveys")), "form", vanished)
    web = kit.Web(app)
    assert web.get("/surveys/" + token).status_code == 404 and "This survey can no longer be answered" in web.text
    # an update link of the old shape, on a CRM that never had the old secret: refused as forged, in words
    settings = kit.settings()
    settings["contacts"]["self_service"]["secret"] = ""
    unsigned = kit.Web(
        crm_factory(
            plugins=["contacts", "surveys", "portal"],
            settings=settings,
            database=f"sqlite:///{app.config.base_dir}/other.db",
        )
    )
    page = unsigned.get(
        "/contacts/update?token=1-t8jfo0-73-0123456789abcdef01234567.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )
    assert page.status_code == 403 and "This link is not valid" in unsigned.text


def test_a_form_body_that_is_not_utf8_is_a_400_that_says_so(kit, app):
    web = kit.Web(app)
    web.get("/signup/newsletter")
    token = web.csrf()
    bodies = [
        f"csrf_token={token}&email=jos\xe9@example.com&consent=yes".encode("latin-1"),  # a raw Latin-1 byte
        f"csrf_token={token}&email=ana@example.com&first_name=Jos%E9&consent=yes".encode(),  # a Latin-1 browser's escape
        b"\xff\xfe=&csrf_token=" + token.encode(),
    ]
    for body in bodies:
        response = web.client.post("/signup/newsletter", data=body, content_type="application/x-www-form-urlencoded")
        text = response.get_data(as_text=True)
        assert response.status_code == 400, body
        assert (
            "The form could not be read" in text and "is not UTF-8 text" in text and "This form has expired" not in text
        )
    # a multipart field whose bytes are not UTF-8 is refused too, not read with replacement characters
    boundary = "b0undary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\nana@example.com\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="first_name"\r\n\r\n'
        ).encode()
        + b"Jos\xe9\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    response = web.client.post(
        "/signup/newsletter", data=multipart, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400 and "The form could not be read" in response.get_data(as_text=True)
    # in Spanish for a Spanish reader, and nothing was kept
    response = web.client.post(
        "/signup/newsletter",
        data=bodies[0],
        content_type="application/x-www-form-urlencoded",
        headers={"Accept-Language": "es"},
    )
    assert response.status_code == 400 and "No se ha podido leer el formulario" in response.get_data(as_text=True)
    app.mail.deliver()
    assert app.mail.sent == [] and app.plugin("contacts").search(email="ana@example.com").total == 0
    # the same form in UTF-8 goes through
    ok = web.client.post(
        "/signup/newsletter",
        data={"csrf_token": token, "email": "jose@example.com", "first_name": "José", "consent": "yes"},
    )
    assert ok.status_code == 303
