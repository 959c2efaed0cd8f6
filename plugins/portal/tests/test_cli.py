"""``crm portal …``: serve (in-process and as real worker processes), unsubscribe links, consents."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


@pytest.mark.sqlite_only
def test_serve_runs_waitress_on_localhost_8000_by_default(app, crm_cli, monkeypatch):
    import waitress

    served = {}

    class Server:
        def __init__(self, application, sockets, threads, url_prefix, ident):
            served.update(app=application, address=sockets[0].getsockname(), threads=threads, url_prefix=url_prefix)

        def run(self):
            served["ran"] = True

    monkeypatch.setattr(waitress, "create_server", Server)
    result = crm_cli.invoke(["portal", "serve", "--port", "0"], app=app)
    assert result.exit_code == 0, result.output
    assert (
        served["ran"] and served["address"][0] == "127.0.0.1" and served["threads"] == 8 and served["url_prefix"] == ""
    )
    assert served["app"].extensions["crm"] is app
    assert re.search(r"Serving the portal on http://127\.0\.0\.1:\d+/ \(1 worker\(s\) x 8 thread\(s\)\)", result.output)
    from crm_portal.cli import serve

    defaults = {param.name: param.default for param in serve.params}
    assert (defaults["host"], defaults["port"], defaults["workers"]) == ("127.0.0.1", 8000, 1)


@pytest.mark.sqlite_only
def test_serve_refuses_a_port_in_use(app, crm_cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = crm_cli.invoke(["portal", "serve", "--port", str(port)], app=app)
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.sqlite_only
@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork (Unix)")
def test_serve_with_worker_processes_answers_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "crm.toml"
    config.write_text(
        '[crm]\ndatabase = "sqlite:///crm.db"\n[crm.mail]\ntransport = "memory"\n'
        '[plugins]\nenabled = ["contacts", "surveys", "portal"]\n[plugins.portal]\nsite_name = "Served"\n'
    )
    crm_bin = str(Path(sys.executable).parent / "crm")
    subprocess.run([crm_bin, "--config", str(config), "migrate"], check=True, capture_output=True, timeout=60)
    port = _free_port()
    server = subprocess.Popen(
        [
            crm_bin,
            "--config",
            str(config),
            "portal",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--threads",
            "2",
            "--url-prefix",
            "/portal",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/portal/", timeout=2) as response:
                    body = response.read().decode()
            except OSError:
                time.sleep(0.1)
        assert body is not None, server.stderr.read() if server.poll() is not None else "the server did not answer"
        assert "Served" in body and 'href="/portal/static/portal.css"' in body
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 2
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0
    assert "2 worker(s) x 2 thread(s)" in server.stderr.read()


@pytest.mark.sqlite_only
def test_unsubscribe_link_and_consents(kit, app, web, crm_cli):
    ana = kit.add_contact(app)
    app.plugin("contacts").add_to_list("newsletter", [ana.id])
    result = crm_cli.invoke(["portal", "unsubscribe-link", str(ana.id), "--list", "newsletter"], app=app)
    assert result.exit_code == 0 and result.output.startswith("http://localhost:8000/unsubscribe/")
    assert web.get(result.output.strip().replace("http://localhost:8000", "")).status_code == 200
    missing = crm_cli.invoke(["portal", "unsubscribe-link", str(ana.id), "--list", "nope"], app=app)
    assert missing.exit_code == 5 and "no mailing list named 'nope'" in missing.output
    assert crm_cli.invoke(["portal", "consents"], app=app).output.strip() == "(none)"
    huge = crm_cli.invoke(["portal", "consents", str(10**23)], app=app)
    assert (
        huge.exit_code == 2
        and "Invalid value for '[CONTACT_ID]': 100000000000000000000000 is not in the range" in huge.output
    )
    web.get("/signup/newsletter")
    web.post("/signup/newsletter", {"email": "ana@example.com", "consent": "yes"})
    app.mail.deliver()
    link = re.search(r"http://localhost:8000(/signup/confirm/\S+)", app.mail.sent[0].text).group(1)
    web.get(link)
    web.post(link, {})
    listed = crm_cli.invoke(["portal", "consents", str(ana.id), "--format", "json"], app=app)
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["contact_id"] == ana.id and row["form"] == "newsletter" and row["lists"] == ["newsletter"]
    assert row["text"] == kit.NEWSLETTER["consent"]["en"] and row["ip"] == "127.0.0.1"
    table = crm_cli.invoke(["portal", "consents", "--form", "newsletter"], app=app).output
    assert "newsletter" in table.splitlines()[2]
