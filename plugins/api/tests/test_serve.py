"""``crm api serve``: the shared kernel server (``crm_core.serving``) runs the API, in worker processes too."""

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
def test_serve_runs_waitress_on_localhost_8100_by_default(crm_factory, crm_cli, monkeypatch):
    import waitress

    served = {}

    class Server:
        def __init__(self, application, sockets, threads, url_prefix, ident):
            served.update(app=application, address=sockets[0].getsockname(), threads=threads, ident=ident)

        def run(self):
            served["ran"] = True

    monkeypatch.setattr(waitress, "create_server", Server)
    crm = crm_factory(plugins=["api"])
    result = crm_cli.invoke(["api", "serve", "--port", "0"], app=crm)
    assert result.exit_code == 0, result.output
    assert served["ran"] and served["address"][0] == "127.0.0.1" and served["ident"] == "crm-api"
    assert served["app"].extensions["crm"] is crm
    assert re.search(
        r"Serving the API on http://127\.0\.0\.1:\d+/api/v1/docs \(1 worker\(s\) x 8 thread\(s\)\)", result.output
    )
    from crm_api.cli import serve

    defaults = {param.name: param.default for param in serve.params}
    assert (defaults["host"], defaults["port"], defaults["workers"]) == ("127.0.0.1", 8100, 1)


@pytest.mark.sqlite_only
def test_serve_refuses_a_port_in_use(crm_factory, crm_cli):
    crm = crm_factory(plugins=["api"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = crm_cli.invoke(["api", "serve", "--port", str(port)], app=crm)
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.sqlite_only
@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork (Unix)")
def test_serve_with_worker_processes_answers_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "crm.toml"
    config.write_text('[crm]\ndatabase = "sqlite:///crm.db"\n[plugins]\nenabled = ["api"]\n')
    crm_bin = str(Path(sys.executable).parent / "crm")
    assert subprocess.run([crm_bin, "--config", str(config), "migrate"], capture_output=True).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [crm_bin, "--config", str(config), "api", "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        document = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and document is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2) as response:
                    document = json.loads(response.read())
            except OSError:
                time.sleep(0.1)
        assert document is not None, server.stderr.read() if server.poll() is not None else "the server did not answer"
        assert document["openapi"] == "3.1.0" and "/events" in document["paths"]
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
def test_the_wsgi_entry_point_builds_the_crm_from_the_configuration(tmp_path, monkeypatch):
    """gunicorn 'crm_api.wsgi:make_app()': each worker process builds its own CRM from $CRM_CONFIG."""
    from crm_api.wsgi import make_app
    from crm_core.app import CRM

    config = tmp_path / "crm.toml"
    config.write_text('[crm]\ndatabase = "sqlite:///crm.db"\n\n[plugins]\nenabled = ["contacts", "api"]\n')
    with CRM.from_config(config) as crm:
        crm.migrate()
    monkeypatch.setenv("CRM_CONFIG", str(config))
    app = make_app()
    client = app.test_client()
    answer = client.get("/healthz")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert client.get("/api/v1/contacts").status_code == 401  # a token is needed, as from crm api serve
    assert app.extensions["crm"].deliver_events == "worker"  # its requests leave the handlers to crm worker
