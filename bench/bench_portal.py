"""The portal under load: the survey page and the update form, served by 4 worker processes on PostgreSQL.

Builds a CRM on a throw-away PostgreSQL database (its tables are dropped
before and after), with ``--contacts`` people, a survey with one question
of each kind, and for every person a personal survey link and a
self-service update link. Starts the portal as the docs run it in
production (``crm portal serve --workers 4``, waitress; ``--server
gunicorn`` runs ``gunicorn -w 4 'crm_portal.wsgi:make_app()'``) on
127.0.0.1, checks that both pages answer 200 with the right content, then
loads each page in turn over loopback, every request with another
person's token:

- with ``wrk`` (Debian's package) when it is installed: ``--connections``
  keep-alive connections for ``--seconds``, a Lua script rotating the
  links; requests per second and the median latency from its latency
  distribution;
- else with a bounded Python client: one thread per connection, at most
  ``--seconds`` and 2,000 requests per second of it, keep-alive.

The pages and a baseline (``/healthz``: the same server and framework, one
``SELECT 1``) are loaded in alternation, ``--repeat`` times, and the
medians are printed. Targets (issue 9): at least 300 requests per second
and a median latency under 20 ms for each page; the update form also at
least 0.15x the requests per second of ``/healthz`` (issue 19). The load generator runs
on the same machine as the server and the database, so it takes part of
the CPU it measures.

    python -m bench.bench_portal [--quick] [--database URL] [--server waitress|gunicorn]
                                 [--workers 4] [--threads 2] [--connections 6] [--seconds 8] [--repeat 3]

The database is ``--database``, else ``$CRM_BENCH_POSTGRES_URL``, else
``$CRM_TEST_POSTGRES_URL``; make a throw-away one with
``.venv/bin/python .ci/databases.py create crm_bench``. Without any, the
benchmark runs on SQLite and says that it is not the set-up of the target.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench._load import free_port, run_load, start_server, stop_server, test_database
from bench._timing import Figure, median, parse_args, print_table, section

SURVEY: dict[str, Any] = {
    "key": "service",
    "title": "How did we do?",
    "introduction": "Two minutes of your time help us serve you better.",
    "questions": [
        {
            "key": "recommend",
            "kind": "nps",
            "text": "How likely are you to recommend us?",
            "required": True,
            "min_label": "Not at all likely",
            "max_label": "Extremely likely",
        },
        {
            "key": "why",
            "kind": "text",
            "text": "What should we do better?",
            "show_if": {"question": "recommend", "op": "<=", "value": 6},
        },
        {"key": "satisfaction", "kind": "csat", "text": "How satisfied are you with our service?", "required": True},
        {"key": "speed", "kind": "rating", "text": "How fast were we?", "min": 1, "max": 7},
        {
            "key": "channel",
            "kind": "single_choice",
            "text": "How do you contact us?",
            "choices": ["Phone", "E-mail", "Shop"],
        },
        {
            "key": "topics",
            "kind": "multiple_choice",
            "text": "What interests you?",
            "choices": ["Products", "Offers", "Events"],
        },
        {"key": "call_back", "kind": "yes_no", "text": "May we call you?"},
    ],
}

CONFIG = """\
[crm]
database = "{database}"
timezone = "Europe/Madrid"
[crm.mail]
transport = "memory"
[plugins]
enabled = ["contacts", "surveys", "portal"]
[plugins.contacts]
default_region = "ES"
[plugins.contacts.self_service]
secret = "bench-contacts-secret-0123456789"
mode = "apply"
[plugins.surveys]
secret = "bench-surveys-secret-0123456789"
[plugins.portal]
secret = "bench-portal-secret-0123456789"
site_name = "Bench"
"""

LUA = """\
local paths = {}
for line in io.lines(os.getenv("PORTAL_BENCH_PATHS")) do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""

TARGET_RPS = 300.0
TARGET_MEDIAN_MS = 20.0
#: the update form's throughput against /healthz's in the same run (issue 19)
TARGET_UPDATE_RATIO = 0.15


def _add_options(parser: Any) -> None:
    parser.add_argument("--database", help="a throw-away PostgreSQL database URL (its tables are dropped)")
    parser.add_argument(
        "--server",
        choices=("waitress", "gunicorn"),
        default="waitress",
        help="the WSGI server (default: waitress, crm portal serve)",
    )
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="threads per waitress worker (default 2)")
    parser.add_argument(
        "--connections", type=int, default=6, help="concurrent keep-alive connections of the load (default 6)"
    )
    parser.add_argument("--seconds", type=float, default=None, help="length of one load run (default 8, --quick 3)")
    parser.add_argument(
        "--repeat", type=int, default=None, help="load runs per page, alternated (default 3, --quick 1)"
    )
    parser.add_argument(
        "--contacts",
        type=int,
        default=None,
        help="people, each with a survey link and an update link (default 500, --quick 100)",
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="the load generator (default: wrk when installed)",
    )


def _prepare(folder: Path, database: str, people: int) -> tuple[Path, list[str], list[str]]:
    """A migrated CRM with ``people`` contacts; their survey and update paths."""
    from crm_core.app import CRM
    from crm_core.testing import drop_all_tables

    if not database.startswith("sqlite"):
        drop_all_tables(database)
    config = folder / "crm.toml"
    config.write_text(CONFIG.format(database=database), encoding="utf-8")
    with CRM.from_config(config) as crm:
        crm.migrate()
        crm.deliver_events = "worker"  # nothing handles them here
        contacts, surveys = crm.plugin("contacts"), crm.plugin("surveys")
        ids = []
        with crm.transaction():
            for n in range(people):
                ids.append(
                    contacts.create(
                        first_name=f"Ana{n}",
                        last_name="García",
                        email=f"ana{n}@example.com",
                        phone=f"+3461{n:07d}",
                        language=("es", "en")[n % 2],
                        addresses=[
                            {"street": f"Calle Mayor {n}", "postal_code": "28013", "city": "Madrid", "country": "ES"}
                        ],
                    ).id
                )
        surveys.save(copy.deepcopy(SURVEY))
        survey_paths = [f"/surveys/{surveys.token('service', i)}" for i in ids]
        update_paths = [f"/contacts/update?token={contacts.issue_update_link(i).token}" for i in ids]
    return config, survey_paths, update_paths


def _start(args: Any, config: Path, port: int) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).parent
    if args.server == "gunicorn":
        command = [
            str(binary / "gunicorn"),
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "crm_portal.wsgi:make_app()",
        ]
    else:
        command = [
            str(binary / "crm"),
            "--config",
            str(config),
            "portal",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
        ]
    return start_server(command, config, port)


def _check(port: int, survey: str, update: str) -> None:
    """Both pages answer 200 with what they should show, before anything is timed."""
    for path, expected in ((survey, 'name="recommend"'), (update, 'name="first_name"')):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            body = response.read().decode()
            if response.status != 200 or expected not in body:
                raise RuntimeError(f"GET {path[:40]}… answered {response.status} without {expected!r}")


# -- load generators ------------------------------------------------------------------------------------


def _wrk(port: int, paths_file: Path, lua: Path, connections: int, seconds: float) -> dict[str, float]:
    threads = max(1, min(2, connections))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(lua),
        f"http://127.0.0.1:{port}/",
    ]
    out = subprocess.run(
        command,
        env={**os.environ, "PORTAL_BENCH_PATHS": str(paths_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None or float(found.group(1)) == 0:
        raise RuntimeError(f"wrk measured nothing:\n{out}")
    rps = float(found.group(1))
    value, unit = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
    median_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures = int(bad.group(1)) if bad else 0
    failures += sum(int(n) for n in errors.groups()) if errors else 0
    done = re.search(r"(\d+) requests in", out)
    requests = float(done.group(1)) if done else rps * seconds
    return {"rps": rps, "median_ms": median_ms, "failures": failures, "requests": requests}


def _cpu_seconds(pids: set[int]) -> float:
    """User + system CPU seconds that the processes ``pids`` have used so far (Linux ``/proc``; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone, or no /proc
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _server_pids(root: int, database: str) -> set[int]:
    """The server's processes (``root`` and its descendants) and the database's backends serving it (PostgreSQL)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    pids = {root}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in pids} - pids
        pids |= found
        grew = bool(found)
    if database.startswith("postgres"):
        import psycopg2

        connection = psycopg2.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                pids |= {pid for (pid,) in cursor.fetchall()}
        finally:
            connection.close()
    return pids


def _python_client(port: int, paths: list[str], connections: int, seconds: float) -> dict[str, float]:
    """The shared bounded keep-alive client (``bench._load``), each request another person's link."""
    result = run_load(port, lambda i: ("GET", paths[(i * 97) % len(paths)], None, {}), connections, seconds)
    return {**result, "requests": result["rps"] * seconds}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "The portal's survey page and update form under load (issue 9).", _add_options)
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    repeat = args.repeat or (1 if args.quick else 3)
    people = args.contacts or (100 if args.quick else 500)
    database, is_postgres = test_database(args.database)
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk), use --client python")
    if args.server == "gunicorn" and not (Path(sys.executable).parent / "gunicorn").exists():
        raise SystemExit("gunicorn is not installed: pip install gunicorn (it is in the portal's test extra)")

    with tempfile.TemporaryDirectory(prefix="bench-portal-") as tmp_name:
        tmp = Path(tmp_name)
        if not database:
            database = f"sqlite:///{tmp / 'crm.db'}"
        section("Portal: set-up")
        from crm_core.storage import describe_url

        print(
            f"database: {describe_url(database)}"
            + ("" if is_postgres else "  (NOT PostgreSQL: the target is for PostgreSQL; pass --database)")
        )
        print(
            f"server: {args.server}, {args.workers} worker process(es)"
            + (f" x {args.threads} thread(s)" if args.server == "waitress" else "")
            + f"; load: {client}, {args.connections} connection(s), {seconds:g} s per run, {repeat} run(s) per page; {os.cpu_count()} CPU(s)"
        )
        start = time.perf_counter()
        config, survey_paths, update_paths = _prepare(tmp, database, people)
        print(
            f"{people} contacts, a survey of {len(SURVEY['questions'])} questions and {2 * people} links made in {time.perf_counter() - start:.1f} s"
        )
        files = {}
        for name, paths in (("survey", survey_paths), ("update", update_paths), ("healthz", ["/healthz"])):
            files[name] = tmp / f"{name}.txt"
            files[name].write_text("\n".join(paths) + "\n", encoding="utf-8")
        lua = tmp / "rotate.lua"
        lua.write_text(LUA, encoding="utf-8")
        port = free_port()
        server = _start(args, config, port)
        try:
            _check(port, survey_paths[0], update_paths[0])
            # a short warm-up: every worker imports its templates and opens its connections
            _python_client(port, survey_paths + update_paths, args.connections, 1.5)
            results: dict[str, list[dict[str, float]]] = {"survey": [], "update": [], "healthz": []}
            # the CPU that the server's processes and their database backends spend per request: what
            # bounds the throughput when the machine is busy with other work, where requests/s swing
            watched = _server_pids(server.pid, database)
            section("Portal: load runs")
            for run in range(repeat):
                for name in ("survey", "update", "healthz"):
                    paths = {"survey": survey_paths, "update": update_paths, "healthz": ["/healthz"]}[name]
                    before = _cpu_seconds(watched)
                    if client == "wrk":
                        result = _wrk(port, files[name], lua, args.connections, seconds)
                    else:
                        result = _python_client(port, paths, args.connections, seconds)
                    result["cpu_ms"] = (_cpu_seconds(watched) - before) * 1000 / max(result["requests"], 1)
                    results[name].append(result)
                    print(
                        f"run {run + 1} {name:8s} {result['rps']:8.1f} req/s  median {result['median_ms']:6.2f} ms  "
                        f"CPU {result['cpu_ms']:5.2f} ms/request  failures {int(result['failures'])}",
                        flush=True,
                    )
        finally:
            stop_server(server)
            if not database.startswith("sqlite"):
                from crm_core.testing import drop_all_tables

                drop_all_tables(database)

    failures = sum(int(r["failures"]) for runs in results.values() for r in runs)
    base_rps = median([r["rps"] for r in results["healthz"]])
    base_ms = median([r["median_ms"] for r in results["healthz"]])
    figures = []
    for name, label in (("survey", "survey page"), ("update", "update form")):
        figures.append(
            Figure(
                f"{label}: throughput",
                median([r["rps"] for r in results[name]]),
                "req/s",
                n=f"{repeat}x{seconds:g}s",
                baseline=base_rps,
                baseline_name="/healthz",
                higher_is_better=True,
                target_value=TARGET_RPS,
                target_ratio=TARGET_UPDATE_RATIO if name == "update" else None,
            )
        )
        figures.append(
            Figure(
                f"{label}: median latency",
                median([r["median_ms"] for r in results[name]]),
                "ms",
                n=f"c={args.connections}",
                baseline=base_ms,
                baseline_name="/healthz",
                target_value=TARGET_MEDIAN_MS,
            )
        )
    print_table(
        f"Portal on {'PostgreSQL' if is_postgres else database.split(':', 1)[0]}, {args.workers} {args.server} workers, {client} on loopback",
        figures,
    )
    base_cpu = median([r["cpu_ms"] for r in results["healthz"]])
    print_table(
        "CPU per request of the server's processes and their PostgreSQL backends (the load generator not counted): "
        "/healthz's CPU over a page's is the share of /healthz's rate the page reaches when the CPU is the limit, "
        "and it moves little with other work on the machine",
        [
            Figure(
                f"{label}: CPU per request",
                median([r["cpu_ms"] for r in results[name]]),
                "ms CPU",
                n=f"{repeat}x{seconds:g}s",
                baseline=base_cpu,
                baseline_name="/healthz",
            )
            for name, label in (("survey", "survey page"), ("update", "update form"))
        ]
        + [
            Figure(
                "update form: rate bound by the CPU, against /healthz's",
                base_cpu / max(median([r["cpu_ms"] for r in results["update"]]), 1e-9),
                "x",
                higher_is_better=True,
                target_value=TARGET_UPDATE_RATIO,
            )
        ],
    )
    if failures:
        print(f"\n{failures} request(s) failed or answered other than 200: the figures above do not count", flush=True)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
