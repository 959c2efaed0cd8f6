"""The worker at rest: CPU used by an idle ``crm worker``.

Starts ``crm worker`` as a child process on a fresh SQLite CRM (the kernel's
jobs only: mail every 10 s, events every minute, an hourly clean-up; nothing
to send), lets it settle, then reads the child's CPU time (user + system,
from ``/proc/<pid>/stat``, falling back to ``resource.getrusage`` of the
children after it exits) over ``--seconds`` of wall time. Start-up (imports,
migrations) is left out of the window. Target: under 1% of one core.

For reference the same is measured with ``mail_interval = 1`` (a busy
setting: a delivery every second), to show what the schedule itself costs.

    python -m bench.bench_worker_idle [--quick] [--seconds S] [--repeat N]
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section

CONFIG = """\
[crm]
database = "sqlite:///crm.db"
[crm.mail]
transport = "file"
[crm.worker]
mail_interval = {mail_interval}
[plugins]
enabled = []
"""


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process, or None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _measure(seconds: float, settle: float, mail_interval: float) -> float:
    """Percent of one core used by an idle worker over ``seconds``."""
    crm = str(Path(sys.executable).with_name("crm"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "crm.toml"
        config.write_text(CONFIG.format(mail_interval=mail_interval), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in ("CRM_PLUGINS", "CRM_CONFIG")}
        subprocess.run([crm, "--config", str(config), "migrate"], env=env, check=True, capture_output=True, timeout=120)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(
            [crm, "--config", str(config), "worker", "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            time.sleep(settle)  # imports, the first run of every job
            if proc.poll() is not None:
                raise RuntimeError(f"the worker stopped: {proc.stderr.read().decode()}")
            start_cpu, start = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(seconds)
            end_cpu, elapsed = _cpu_seconds(proc.pid), time.monotonic() - start
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if start_cpu is None or end_cpu is None:  # no /proc: the whole life, start-up included
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return 100 * used / (elapsed + settle)
        return 100 * (end_cpu - start_cpu) / elapsed


def main(argv: list[str] | None = None) -> None:
    def add(parser: Any) -> None:
        parser.add_argument("--seconds", type=float, default=None, help="measuring window [10; --quick 3]")
        parser.add_argument("--repeat", type=int, default=None, help="windows per figure [3; --quick 1]")

    args = parse_args(argv, __doc__.splitlines()[0], add)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    repeat = args.repeat or (1 if args.quick else 3)
    settle = 2.0 if args.quick else 3.0
    section(f"idle worker: {repeat} window(s) of {seconds:g} s after {settle:g} s of start-up")
    idle, busy = [], []
    for r in range(repeat):
        idle.append(_measure(seconds, settle, mail_interval=10))
        busy.append(_measure(seconds, settle, mail_interval=1))
        print(f"  run {r + 1}: idle {idle[-1]:.3f}% of a core, mail every second {busy[-1]:.3f}%", flush=True)
    print_table(
        "Worker: CPU of an idle worker (percent of one core)",
        [
            Figure(
                "idle worker (default schedule)",
                median(idle),
                "%",
                f"{seconds:g} s",
                baseline=1.0,
                baseline_name="target: 1% of a core",
                target_value=1.0,
            ),
            Figure("idle worker, mail_interval = 1 s", median(busy), "%", f"{seconds:g} s"),
        ],
    )


if __name__ == "__main__":
    main()
