"""The HTTP API under load, and webhook delivery (issue 16).

Builds a CRM with the contacts and api plugins on a throw-away PostgreSQL
database (its tables are dropped before and after) with ``--contacts``
people and a manager's API token, starts the API as the docs run it in
production (``crm api serve --workers 4``, waitress) on 127.0.0.1, checks
that each request answers as it should, then loads in alternation, with
the shared bounded keep-alive client (``bench._load``):

- ``/healthz`` (one ``SELECT 1``: the baseline),
- reading one contact (``GET /api/v1/contacts/{id}``, another id each time),
- listing a page of 50 (``GET /api/v1/contacts?limit=50``),
- creating a contact (``POST /api/v1/contacts``, a new person each time).

Targets: a read at least 0.5x, a page of 50 at least 0.25x and a creation
at least 0.2x the requests/s of ``/healthz``; a read's median latency under
20 ms. Then webhook delivery: ``--events`` events queued for one
subscription whose receiver is a local HTTP server, sent by the worker's
job until all are delivered; target at least 500 events/s, against plain
``http.client`` posts of the same bodies to the same receiver.

    python -m bench.bench_api [--quick] [--database URL] [--workers 4] [--threads 2]
                              [--connections 6] [--seconds 8] [--repeat 3] [--contacts 2000] [--events 5000]

The database is ``--database``, else ``$CRM_BENCH_POSTGRES_URL``, else
``$CRM_TEST_POSTGRES_URL``; without any, the benchmark runs on SQLite and
says that it is not the set-up of the target.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._load import free_port, run_load, start_server, stop_server, test_database
from bench._timing import Figure, median, parse_args, print_table, section

CONFIG = """\
[crm]
database = "{database}"
[crm.mail]
transport = "memory"
[plugins]
enabled = ["contacts", "api"]
[plugins.api]
rate_limit = "100000000/minute"
webhook_private_targets = ["127.0.0.1/32"]
"""

TARGETS = {"read": 0.5, "list": 0.25, "create": 0.2}
TARGET_READ_MS = 20.0
TARGET_EVENTS = 500.0


def _add_options(parser: Any) -> None:
    parser.add_argument("--database", help="a throw-away PostgreSQL database URL (its tables are dropped)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (default 2)")
    parser.add_argument("--connections", type=int, default=6, help="concurrent keep-alive connections (default 6)")
    parser.add_argument("--seconds", type=float, default=None, help="length of one load run (default 8, --quick 3)")
    parser.add_argument(
        "--repeat", type=int, default=None, help="load runs per request, alternated (default 3, --quick 1)"
    )
    parser.add_argument("--contacts", type=int, default=None, help="people in the book (default 2000, --quick 200)")
    parser.add_argument("--events", type=int, default=None, help="webhook events (default 5000, --quick 1000)")


def _prepare(folder: Path, database: str, people: int) -> tuple[Path, list[int], str]:
    """A migrated CRM with ``people`` contacts; their ids and a manager's token."""
    from crm_core.app import CRM
    from crm_core.testing import drop_all_tables

    if not database.startswith("sqlite"):
        drop_all_tables(database)
    config = folder / "crm.toml"
    config.write_text(CONFIG.format(database=database), encoding="utf-8")
    with CRM.from_config(config) as crm:
        crm.migrate()
        crm.deliver_events = "worker"  # nothing handles them during the set-up
        crm.authz.users.add("bench", roles=["manager"])
        token = crm.authz.tokens.create("bench", "bench").text
        contacts = crm.plugin("contacts")
        ids = []
        with crm.transaction():
            for n in range(people):
                ids.append(
                    contacts.create(
                        first_name=f"Ana{n}", last_name="García", email=f"ana{n}@example.com", owner="bench"
                    ).id
                )
    return config, ids, token


def _start(args: Any, config: Path, port: int) -> subprocess.Popen[bytes]:
    crm = str(Path(sys.executable).parent / "crm")
    command = [
        crm,
        "--config",
        str(config),
        "api",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
    ]
    return start_server(command, config, port)


def _requests(ids: list[int], token: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    created = iter(range(10**9))

    def create(i: int) -> tuple[str, str, bytes, dict[str, str]]:
        n = next(created)
        body = json.dumps(
            {
                "first_name": f"New{n}",
                "last_name": "Client",
                "emails": [{"address": f"new{n}-{os.getpid()}@example.com"}],
            }
        )
        return "POST", "/api/v1/contacts", body.encode(), {**auth, "Content-Type": "application/json"}

    return {
        "healthz": (lambda i: ("GET", "/healthz", None, {}), (200,)),
        "read": (lambda i: ("GET", f"/api/v1/contacts/{ids[(i * 97) % len(ids)]}", None, auth), (200,)),
        "list": (lambda i: ("GET", "/api/v1/contacts?limit=50", None, auth), (200,)),
        "create": (create, (201,)),
    }


def _check(port: int, requests: dict[str, Any]) -> None:
    for make, ok in requests.values():
        method, path, body, headers = make(0)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        connection.close()
        if response.status not in ok:
            raise RuntimeError(f"{method} {path} answered {response.status}: {text[:300]}")


class _Receiver:
    def __init__(self) -> None:
        self.count = 0
        lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    receiver.count += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # a real server's backlog (the stdlib's 5 resets a burst of connections)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _webhooks(config: Path, events: int) -> tuple[float, float]:
    """Events/s delivered by the webhook job, and of plain sequential http.client posts of the same bodies."""
    from crm_core.app import CRM
    from crm_hookspecs.events import ContactChanged

    receiver = _Receiver()
    try:
        with CRM.from_config(config) as crm:
            hooks = crm.plugin("api").webhooks
            hooks.subscribe(f"http://127.0.0.1:{receiver.port}/hook", ["contact.changed"])
            crm.deliver_events = "worker"
            crm.events.emit_many(ContactChanged(contact_id=(n % 1000) + 1) for n in range(events))
            crm.events.deliver()  # the handler queues one delivery per event
            start = time.perf_counter()
            delivered, retried = 0, 0
            while delivered < events:
                counts = hooks.send_due()
                delivered += counts["delivered"]
                retried += counts["retrying"]
                if counts["failed"] or (not counts["delivered"] and not hooks.deliveries(status="pending", limit=1)):
                    raise RuntimeError(f"webhooks stopped delivering at {delivered} of {events}: {counts}")
                if not counts["delivered"]:
                    time.sleep(0.5)  # a retry waits for its time (5 s after a first failure)
            webhook_rate = events / (time.perf_counter() - start)
            if retried:
                print(f"{retried} delivery(ies) needed a retry (see 'crm webhooks deliveries --attempts ID')")
            bodies = [d.event_id for d in hooks.deliveries(limit=min(events, 2000))]
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
        body = json.dumps({"type": "contact.changed", "data": {"contact_id": 1}}).encode()
        for event_id in bodies:
            connection.request(
                "POST", "/hook", body=body, headers={"webhook-id": event_id, "Content-Type": "application/json"}
            )
            connection.getresponse().read()
        connection.close()
        plain_rate = len(bodies) / (time.perf_counter() - start)
    finally:
        receiver.stop()
    return webhook_rate, plain_rate


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "The HTTP API under load and webhook delivery (issue 16).", _add_options)
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    repeat = args.repeat or (1 if args.quick else 3)
    people = args.contacts or (200 if args.quick else 2000)
    events = args.events or (1000 if args.quick else 5000)
    database, is_postgres = test_database(args.database)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in ("healthz", "read", "list", "create")}
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        if not database:
            database = f"sqlite:///{tmp / 'crm.db'}"
        section("API: set-up")
        from crm_core.storage import describe_url

        print(
            f"database: {describe_url(database)}"
            + ("" if is_postgres else "  (NOT PostgreSQL: the target is for PostgreSQL; pass --database)")
        )
        print(
            f"server: waitress, {args.workers} worker process(es) x {args.threads} thread(s); load: python client, "
            f"{args.connections} connection(s), {seconds:g} s per run, {repeat} run(s); {os.cpu_count()} CPU(s)"
        )
        start = time.perf_counter()
        config, ids, token = _prepare(tmp, database, people)
        print(f"{people} contacts and a manager's token made in {time.perf_counter() - start:.1f} s")
        requests = _requests(ids, token)
        port = free_port()
        server = _start(args, config, port)
        try:
            _check(port, requests)
            run_load(port, requests["read"][0], args.connections, 1.5)  # warm-up: every worker opens its connections
            section("API: load runs")
            for run in range(repeat):
                for name in ("healthz", "read", "list", "create"):
                    make, ok = requests[name]
                    result = run_load(port, make, args.connections, seconds, ok)
                    results[name].append(result)
                    print(
                        f"run {run + 1} {name:8s} {result['rps']:8.1f} req/s  median {result['median_ms']:6.2f} ms  "
                        f"failures {int(result['failures'])}",
                        flush=True,
                    )
        finally:
            stop_server(server)
        section("Webhooks")
        webhook_rate, plain_rate = _webhooks(config, events)
        print(f"{events} events delivered at {webhook_rate:.0f}/s; plain http.client posts {plain_rate:.0f}/s")
        if not database.startswith("sqlite"):
            from crm_core.testing import drop_all_tables

            drop_all_tables(database)

    failures = sum(int(r["failures"]) for runs in results.values() for r in runs)
    base_rps = median([r["rps"] for r in results["healthz"]])
    figures = []
    for name, label in (("read", "read one contact"), ("list", "list 50 contacts"), ("create", "create a contact")):
        figures.append(
            Figure(
                f"{label}: throughput",
                median([r["rps"] for r in results[name]]),
                "req/s",
                n=f"{repeat}x{seconds:g}s",
                baseline=base_rps,
                baseline_name="/healthz",
                higher_is_better=True,
                target_ratio=TARGETS[name],
            )
        )
    figures.append(
        Figure(
            "read one contact: median latency",
            median([r["median_ms"] for r in results["read"]]),
            "ms",
            n=f"c={args.connections}",
            baseline=median([r["median_ms"] for r in results["healthz"]]),
            baseline_name="/healthz",
            target_value=TARGET_READ_MS,
        )
    )
    figures.append(
        Figure(
            "webhook delivery",
            webhook_rate,
            "events/s",
            n=str(events),
            baseline=plain_rate,
            baseline_name="plain posts",
            higher_is_better=True,
            target_value=TARGET_EVENTS,
        )
    )
    print_table(
        f"API on {'PostgreSQL' if is_postgres else 'SQLite'}, {args.workers} waitress workers, loopback", figures
    )
    if failures:
        print(f"\n{failures} request(s) failed: the figures above do not count", flush=True)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
