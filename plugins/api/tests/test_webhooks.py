"""Webhooks against a local receiver that answers 500, times out, redirects, or is down for days of clock time."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time

import pytest

from crm_core.errors import PermissionDenied, ValidationError
from crm_hookspecs.events import ContactChanged, ContactCreated


class Receiver:
    """A local HTTP server that records each POST and answers as told (``mode``)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.mode = "ok"
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.received.append({"headers": dict(self.headers), "body": body})
                if receiver.mode == "slow":
                    time.sleep(1.5)
                if receiver.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://example.com/")
                    self.end_headers()
                    return
                self.send_response(500 if receiver.mode == "error" else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks?source=crm"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def app(crm_factory, crm_user):
    crm = crm_factory(plugins=["api"], settings={"api": {"webhook_private_targets": ["127.0.0.1/32"]}})
    crm_user(crm, name="boss", roles=["admin"], email="boss@example.com")
    return crm


def _expected_signature(secret: str, headers: dict, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_a_subscription_receives_signed_events(app, receiver):
    hooks = app.plugin("api").webhooks
    made = hooks.subscribe(receiver.url, ["contact.created"], description="the shop")
    assert made.secret.startswith("whsec_") and made.subscription.event_types == ["contact.created"]
    app.emit(ContactCreated(contact_id=7))
    app.emit(ContactChanged(contact_id=7))  # not subscribed
    assert hooks.send_due() == {"delivered": 1, "retrying": 0, "failed": 0}
    [got] = receiver.received
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["webhook-signature"] == _expected_signature(made.secret, headers, got["body"])
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    body = json.loads(got["body"])
    assert body["type"] == "contact.created" and body["data"]["contact_id"] == 7
    assert body["timestamp"].endswith("Z")
    [delivery] = hooks.deliveries()
    assert delivery.status == "delivered" and delivery.event_id == headers["webhook-id"]
    assert hooks.send_due() == {"delivered": 0, "retrying": 0, "failed": 0}  # nothing twice


def test_a_failing_receiver_is_retried_with_back_off_and_keeps_the_id(app, receiver, crm_clock):
    hooks = app.plugin("api").webhooks
    hooks.subscribe(receiver.url)
    app.emit(ContactCreated(contact_id=1))
    receiver.mode = "error"
    assert hooks.send_due()["retrying"] == 1
    [delivery] = hooks.deliveries()
    assert delivery.last_status == 500 and delivery.next_attempt_at == crm_clock.now() + dt.timedelta(seconds=5)
    assert hooks.send_due()["retrying"] == 0  # not due yet
    crm_clock.advance(seconds=5)
    assert hooks.send_due()["retrying"] == 1
    assert hooks.deliveries()[0].next_attempt_at == crm_clock.now() + dt.timedelta(minutes=5)
    receiver.mode = "ok"
    crm_clock.advance(minutes=5)
    assert hooks.send_due()["delivered"] == 1
    ids = {r["headers"]["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1
    attempts = hooks.attempts(hooks.deliveries()[0].id)
    assert [a["status"] for a in attempts] == [500, 500, 204]


def test_a_receiver_down_for_days_ends_failed_disabled_and_notified(app, receiver, crm_clock):
    hooks = app.plugin("api").webhooks
    with app.as_user("boss"):
        made = hooks.subscribe(receiver.url)
    receiver.stop()  # the receiver is down
    for i in range(3):
        app.emit(ContactCreated(contact_id=i + 1))
    outcomes = []
    for _ in range(300):  # every 30 minutes of clock time, for up to a week
        outcomes.append(hooks.send_due())
        crm_clock.advance(minutes=30)
        if not hooks.subscription(made.subscription.id).active:
            break
    deliveries = hooks.deliveries()
    assert all(d.status == "failed" and d.attempts == 8 for d in deliveries)
    assert "ConnectionRefusedError" in deliveries[0].last_error
    subscription = hooks.subscription(made.subscription.id)
    assert not subscription.active and "no delivery succeeded since" in subscription.disabled_reason
    with app.activate():
        from crm_core.mail.models import MailMessage

        mails = [m for m in MailMessage.select() if "Webhook" in m.subject]
    assert mails and "crm webhooks enable" in mails[0].text_body
    # new events still queue while it is disabled, and go out once enabled and replayed
    server = Receiver()
    try:
        hooks.change(made.subscription.id, url=server.url, active=True)
        app.emit(ContactCreated(contact_id=99))
        assert hooks.replay(subscription_id=made.subscription.id) == 4
        assert hooks.send_due()["delivered"] == 4
        assert len(server.received) == 4
    finally:
        server.stop()


def test_timeouts_and_redirects_are_failures(app, receiver, monkeypatch):
    from crm_api import webhooks

    hooks = app.plugin("api").webhooks
    hooks.subscribe(receiver.url)
    monkeypatch.setattr(webhooks, "TIMEOUT", 0.3)
    receiver.mode = "slow"
    app.emit(ContactCreated(contact_id=1))
    assert hooks.send_due()["retrying"] == 1
    assert "timed out" in hooks.deliveries()[0].last_error
    receiver.mode = "redirect"
    assert hooks.replay(subscription_id=hooks.subscriptions()[0].id) == 1
    assert hooks.send_due()["retrying"] == 1
    assert "redirect" in hooks.deliveries()[0].last_error and len(receiver.received) == 2


def test_redelivered_events_queue_once(app, receiver):
    hooks = app.plugin("api").webhooks
    hooks.subscribe(receiver.url)
    event = ContactCreated(contact_id=5)
    app.emit(event)
    assert hooks.queue([event]) == 1  # the handler ran again for the same event: the row is not doubled
    assert len(hooks.deliveries()) == 1


def test_private_targets_and_bad_types_are_refused(crm_factory, crm_user):
    crm = crm_factory(plugins=["api"])
    hooks = crm.plugin("api").webhooks
    with pytest.raises(ValidationError, match="127.0.0.1, a private or local address"):
        hooks.subscribe("http://127.0.0.1:9/hook")
    with pytest.raises(ValidationError, match="http:// or https://"):
        hooks.subscribe("ftp://example.com/")
    with pytest.raises(ValidationError, match="user name or password"):
        hooks.subscribe("https://user:pw@example.com/")
    with pytest.raises(ValidationError, match="unknown event type 'contact.made'"):
        hooks.subscribe("https://example.com/", ["contact.made"])
    crm_user(crm, name="seller", roles=["sales"])
    with crm.as_user("seller"), pytest.raises(PermissionDenied, match="api.webhooks.manage"):
        hooks.subscriptions()


def test_the_check_is_repeated_before_each_send(app, receiver, monkeypatch):
    hooks = app.plugin("api").webhooks
    hooks.subscribe(receiver.url)
    app.emit(ContactCreated(contact_id=1))
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a: real("127.0.0.1", port, *a) if host == "x" else real(host, port, *a),
    )
    monkeypatch.setattr(app.settings("api"), "webhook_private_targets", [])
    assert hooks.send_due()["retrying"] == 1
    assert "private or local address" in hooks.deliveries()[0].last_error and not receiver.received


def test_webhooks_over_the_api(app, receiver):
    from crm_api import create_app

    token = app.authz.tokens.create("boss", "ops").text
    client = create_app(app).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["contact.created"]}, headers=auth)
    assert made.status_code == 201, made.json
    assert made.json["secret"].startswith("whsec_")
    sub_id = made.json["subscription"]["id"]
    listed = client.get("/api/v1/webhooks", headers=auth).json["data"]
    assert [s["id"] for s in listed] == [sub_id] and "secret" not in listed[0]
    current = client.get(f"/api/v1/webhooks/{sub_id}", headers=auth)
    changed = client.patch(
        f"/api/v1/webhooks/{sub_id}",
        json={"description": "shop"},
        headers={**auth, "If-Match": current.headers["ETag"]},
    )
    assert changed.status_code == 200 and changed.json["description"] == "shop"
    bad = client.post("/api/v1/webhooks", json={"url": receiver.url, "colour": "red"}, headers=auth)
    assert bad.status_code == 422 and "colour" in bad.json["detail"]
    app.emit(ContactCreated(contact_id=3))
    deliveries = client.get(f"/api/v1/webhooks/{sub_id}/deliveries?status=pending", headers=auth).json["data"]
    assert len(deliveries) == 1 and deliveries[0]["type"] == "contact.created"
    replay = client.post(f"/api/v1/webhooks/{sub_id}/deliveries/{deliveries[0]['id']}/replay", headers=auth)
    assert replay.status_code == 200 and replay.json == {"queued": 1}
    assert client.post(f"/api/v1/webhooks/{sub_id}/deliveries/999/replay", headers=auth).status_code == 404


def test_crm_webhooks_commands(app, receiver, crm_cli):
    added = crm_cli.invoke(["webhooks", "add", receiver.url, "--event", "contact.created"], app=app)
    assert added.exit_code == 0, added.output
    assert added.output.startswith("whsec_") and "printed once" in added.output
    listed = crm_cli.invoke(["webhooks", "list", "--format", "json"], app=app)
    [row] = json.loads(listed.output)
    assert row["events"] == "contact.created" and row["state"] == "active"
    app.emit(ContactCreated(contact_id=4))
    sent = crm_cli.invoke(["webhooks", "send"], app=app)
    assert "Delivered 1" in sent.output
    shown = json.loads(crm_cli.invoke(["webhooks", "deliveries", "--format", "json"], app=app).output)
    assert shown[0]["status"] == "delivered"
    attempts = crm_cli.invoke(["webhooks", "deliveries", "--attempts", str(shown[0]["id"])], app=app)
    assert "204" in attempts.output
    assert "1 delivery(ies)" in crm_cli.invoke(["webhooks", "replay", str(shown[0]["id"])], app=app).output
    assert crm_cli.invoke(["webhooks", "disable", str(row["id"])], app=app).exit_code == 0
    assert "disabled" in crm_cli.invoke(["webhooks", "list"], app=app).output
    assert crm_cli.invoke(["webhooks", "enable", str(row["id"])], app=app).exit_code == 0
    assert crm_cli.invoke(["webhooks", "remove", str(row["id"])], app=app).exit_code == 0
    missing = crm_cli.invoke(["webhooks", "remove", str(row["id"])], app=app)
    assert missing.exit_code == 5 and "no webhook subscription" in missing.output
    bad = crm_cli.invoke(["webhooks", "add", "http://10.1.2.3/x"], app=app)
    assert bad.exit_code == 2 and "private or local address" in bad.output and "Traceback" not in bad.output


def test_the_worker_job_sends(app, receiver):
    [job] = [spec for plugin, spec in app.hooks.worker_jobs(app) if spec.name == "api.webhooks"]
    app.plugin("api").webhooks.subscribe(receiver.url)
    app.emit(ContactCreated(contact_id=1))
    assert job.run(app, None)["delivered"] == 1


def test_a_served_api_leaves_event_delivery_to_the_worker(crm_factory, crm_user, receiver):
    """A request that creates a contact commits once and answers; the event waits in the outbox for the worker,
    whose webhook job hands it to the webhooks first (then the kernel's job to the other handlers)."""
    from crm_api.wsgi import served_app

    crm = crm_factory(plugins=["contacts", "api"], settings={"api": {"webhook_private_targets": ["127.0.0.1/32"]}})
    crm_user(crm, name="boss", roles=["admin"])
    token = crm.authz.tokens.create("boss", "test").text
    crm.plugin("api").webhooks.subscribe(receiver.url, ["contact.created"])
    client = served_app(crm).test_client()
    made = client.post(
        "/api/v1/contacts",
        json={"first_name": "Ana", "last_name": "Ruiz"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    hooks = crm.plugin("api").webhooks
    assert hooks.deliveries() == []
    [created] = [e for e in crm.events.read(types=["ContactCreated"]) if e.event.contact_id == made.json["id"]]
    assert {s["handler"]: s["position"] for s in crm.events.status()}["api"] < created.position  # not delivered
    [job] = [spec for plugin, spec in crm.hooks.worker_jobs(crm) if spec.name == "api.webhooks"]
    assert job.run(crm, None)["delivered"] == 1
    [delivery] = hooks.deliveries()
    assert delivery.type == "contact.created" and delivery.status == "delivered"
    assert json.loads(receiver.received[0]["body"])["data"]["contact_id"] == made.json["id"]


def test_a_served_api_can_deliver_events_in_the_request(crm_factory, crm_user):
    from crm_api.wsgi import served_app

    crm = crm_factory(plugins=["contacts", "api"], settings={"api": {"deliver_events": "after-commit"}})
    assert served_app(crm).extensions["crm"].deliver_events == "after-commit"
    with pytest.raises(Exception, match="deliver_events.*'worker' or 'after-commit', not 'later'"):
        crm_factory(plugins=["api"], settings={"api": {"deliver_events": "later"}})


class KeepAliveReceiver:
    """An HTTP/1.1 receiver that counts the connections it accepts; ``drop`` closes each after one answer, unannounced."""

    def __init__(self, drop: bool = False) -> None:
        self.connections = 0
        self.ids: list[str] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                receiver.connections += 1

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.ids.append(self.headers["webhook-id"])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.close_connection = drop  # without 'Connection: close': the sender finds out on its next request

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # a real server's backlog, not the stdlib's 5 that resets a burst of connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("drop", [False, True], ids=["keep-alive", "closed-while-idle"])
def test_a_batch_reuses_connections_and_survives_a_receiver_closing_them(app, drop):
    receiver = KeepAliveReceiver(drop=drop)
    try:
        hooks = app.plugin("api").webhooks
        hooks.subscribe(receiver.url)
        app.events.emit_many(ContactChanged(contact_id=n + 1) for n in range(60))
        counts = hooks.send_due()
        errors = [d.last_error for d in hooks.deliveries(limit=100) if d.last_error]
        assert counts == {"delivered": 60, "retrying": 0, "failed": 0}, errors
        assert len(set(receiver.ids)) == 60
        if not drop:
            assert receiver.connections <= 16  # one per sending thread, not one per event
        assert {d.status for d in hooks.deliveries(limit=100)} == {"delivered"}
        assert all(len(hooks.attempts(d.id)) == 1 for d in hooks.deliveries(limit=100))
    finally:
        receiver.stop()
