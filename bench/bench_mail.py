"""Mail: queueing in bulk, and delivering the queue to SMTP and to files.

On a fresh SQLite app (or ``--database URL``), for N survey invitations
(text and HTML bodies, a non-ASCII name and subject, a unique key each):

* ``crm.mail.queue_many`` of N messages (target 2,000 messages/s: a 100,000
  e-mail survey queued in under a minute);
* ``crm.mail.deliver()`` of the N messages to an SMTP server on loopback
  (aiosmtpd, in its own process, accepting and discarding), target 500/s;
  baseline: plain ``smtplib`` sending the same, already built, messages over
  one connection to the same server, i.e. the server's and the protocol's
  ceiling;
* ``crm.mail.deliver()`` of the N messages to the file transport, target
  2,000/s; baseline: writing the same, already built, messages as files the
  same way (temporary name, then rename). Measured with the outbox on the
  temporary folder's disk and, when there is one, on tmpfs (``/dev/shm``):
  on a slow virtual disk creating a file costs about a millisecond, so the
  disk alone caps the rate whatever the code does.

Each figure is the median of ``--repeat`` runs, each on a new database.

    python -m bench.bench_mail [--quick] [--messages N] [--repeat N] [--database URL]
"""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section, timed

HTML = "<html><body><p>Hola {name},</p><p>¿Nos dedica dos minutos? <a href='https://crm.example/s/{i}'>Responder</a></p></body></html>"
TEXT = "Hola {name},\n\n¿Nos dedica dos minutos? Responda aquí: https://crm.example/s/{i}\n\nGracias.\n"


def _messages(n: int) -> list[Any]:
    from crm_core.mail import OutgoingMessage

    return [
        OutgoingMessage(
            f"José Pérez {i} <jose.perez{i}@example.com>",
            "Encuesta de satisfacción: ¿cómo lo hicimos?",
            TEXT.format(name="José", i=i),
            html=HTML.format(name="José", i=i),
            key=f"bench.survey:1:{i}",
            headers={"X-Campaign": "bench"},
        )
        for i in range(n)
    ]


def _app(tmp: Path, database: str | None, mail: dict[str, Any]) -> Any:
    from crm_core.app import CRM
    from crm_core.config import Config, CoreSettings, structure_section
    from crm_core.testing import drop_all_tables

    url = database or f"sqlite:///{tmp / 'crm.db'}"
    if database:
        drop_all_tables(database)
    core = structure_section({"database": url, "mail": mail}, CoreSettings, "bench", "crm")
    app = CRM(config=Config(core=core, enabled=(), path=tmp / "crm.toml"))
    app.migrate()
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_smtp_server() -> tuple[subprocess.Popen, int]:
    """aiosmtpd's discarding server, in its own process (as a real server would be)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as probe:
                probe.noop()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"aiosmtpd did not start: {proc.stderr.read().decode()}") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("aiosmtpd did not answer within 15 s")


def _built(app: Any, n: int) -> list[tuple[str, list[str], bytes]]:
    """The queued messages as the transports receive them (for the baselines)."""
    from crm_core.mail.delivery import _envelopes
    from crm_core.mail.models import MailMessage

    with app.activate():
        rows = list(MailMessage.select().order_by(MailMessage.id).limit(n))
    envelopes, _ = _envelopes(app, app.mail, rows)
    return [(e.sender, list(e.recipients), e.data) for e in envelopes]


def _smtplib_baseline(port: int, built: list[tuple[str, list[str], bytes]]) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
        conn.ehlo()
        for i in range(0, len(built), 100):  # one connection per 100, as the transport's batches
            for sender, rcpts, data in built[i : i + 100]:
                conn.sendmail(sender, rcpts, data)
    return len(built) / (time.perf_counter() - start)


def _files_baseline(folder: Path, built: list[tuple[str, list[str], bytes]]) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, (_, _, data) in enumerate(built):
        target = folder / f"{i}.eml"
        tmp = folder / f".{i}.eml.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    return len(built) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    def add(parser: Any) -> None:
        parser.add_argument("--messages", type=int, default=None, help="messages per run [10,000; --quick 1,000]")
        parser.add_argument("--repeat", type=int, default=None, help="runs per figure [3; --quick 1]")
        parser.add_argument(
            "--database", default=None, help="a server database URL to use instead of SQLite (its tables are dropped)"
        )

    args = parse_args(argv, __doc__.splitlines()[0], add)
    n = args.messages or (1_000 if args.quick else 10_000)
    repeat = args.repeat or (1 if args.quick else 3)
    section(f"mail: {n:,} messages, {repeat} run(s), {'SQLite' if not args.database else args.database}")
    queue_rates: list[float] = []
    smtp_rates: list[float] = []
    smtp_base: list[float] = []
    # the outbox on the temporary folder's disk, and on tmpfs when there is
    # one: file creation on a slow virtual disk can cost more than the rest
    places = [("disk", None)] + (
        [("tmpfs", "/dev/shm")] if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else []
    )
    file_rates: dict[str, list[float]] = {w: [] for w, _ in places}
    file_base: dict[str, list[float]] = {w: [] for w, _ in places}
    # messages per CPU second of this process: what the code costs, even
    # when other processes share the machine (the wall-clock rates drop then)
    smtp_cpu: list[float] = []
    file_cpu: dict[str, list[float]] = {w: [] for w, _ in places}
    server, port = _start_smtp_server()
    try:
        for r in range(repeat):
            messages = _messages(n)
            with tempfile.TemporaryDirectory() as tmp_name:
                tmp = Path(tmp_name)
                smtp = {"transport": "smtp", "batch_size": 100, "smtp": {"host": "127.0.0.1", "port": port}}
                app = _app(tmp, args.database, smtp)
                try:
                    seconds, count = timed(lambda: app.mail.queue_many(messages))
                    assert count == n, count
                    queue_rates.append(n / seconds)
                    built = _built(app, n)
                    cpu = time.process_time()
                    seconds, report = timed(app.mail.deliver)
                    smtp_cpu.append(n / (time.process_time() - cpu))
                    assert report.sent == n, report
                    smtp_rates.append(n / seconds)
                    smtp_base.append(_smtplib_baseline(port, built))
                finally:
                    app.close()
            for where, folder in places:
                with tempfile.TemporaryDirectory(dir=folder) as tmp_name:
                    tmp = Path(tmp_name)
                    db_dir = Path(tempfile.mkdtemp())  # the database stays on disk
                    app = _app(
                        db_dir, args.database, {"transport": "file", "outbox": str(tmp / "outbox"), "batch_size": 100}
                    )
                    try:
                        app.mail.queue_many(messages)
                        built = _built(app, n)
                        cpu = time.process_time()
                        seconds, report = timed(app.mail.deliver)
                        file_cpu[where].append(n / (time.process_time() - cpu))
                        assert report.sent == n, report
                        assert len(os.listdir(tmp / "outbox")) == n
                        file_rates[where].append(n / seconds)
                        file_base[where].append(_files_baseline(tmp / "baseline", built))
                    finally:
                        app.close()
                        shutil.rmtree(db_dir, ignore_errors=True)
            print(
                f"  run {r + 1}: queue_many {queue_rates[-1]:,.0f}/s, smtp {smtp_rates[-1]:,.0f}/s "
                f"(smtplib {smtp_base[-1]:,.0f}/s), "
                + ", ".join(
                    f"file on {w} {file_rates[w][-1]:,.0f}/s (raw files {file_base[w][-1]:,.0f}/s)" for w, _ in places
                ),
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    print_table(
        "Mail: queueing and delivery",
        [
            Figure(
                "crm.mail.queue_many", median(queue_rates), "msg/s", f"{n:,}", higher_is_better=True, target_value=2000
            ),
            Figure(
                "deliver to SMTP (aiosmtpd, loopback)",
                median(smtp_rates),
                "msg/s",
                f"{n:,}",
                baseline=median(smtp_base),
                baseline_name="smtplib, prebuilt",
                higher_is_better=True,
                target_value=500,
            ),
        ]
        + [
            Figure(
                f"deliver to the file transport ({where})",
                median(file_rates[where]),
                "msg/s",
                f"{n:,}",
                baseline=median(file_base[where]),
                baseline_name="raw file writes, prebuilt",
                higher_is_better=True,
                target_value=2000,
            )
            for where, _ in places
        ]
        + [Figure("deliver to SMTP, per CPU second of the CRM", median(smtp_cpu), "msg/s", f"{n:,}")]
        + [
            Figure(f"deliver to files ({where}), per CPU second", median(file_cpu[where]), "msg/s", f"{n:,}")
            for where, _ in places
        ],
    )


if __name__ == "__main__":
    main()
