"""``crm --help`` wall time, with every installed plugin enabled.

Runs the installed ``crm`` console script as a subprocess, ``CRM_PLUGINS`` set
to every plugin :func:`crm_core.plugins.discover` finds, in an empty folder
(so no ``crm.toml`` is read), and compares its median wall time with a
minimal click app that imports peewee, pluggy, attrs and cattrs and prints
its help, run in alternation with it. Targets: median at most 150 ms
(issue 2) and at most 1.1x the baseline (issue 19).

It then shows where the time goes (``python -X importtime``): the top-level
imports by cumulative time and the modules with the most self time.

    python -m bench.bench_cli_startup [--quick] [--repeat N]
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench._timing import Figure, median, parse_args, print_table, section

TARGET_MS = 150.0
TARGET_RATIO = 1.1

BASELINE_APP = '''\
import attrs, cattrs, click, peewee, pluggy


@click.group()
@click.option("--config", type=click.Path(dir_okay=False), help="Configuration file.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def cli(config, debug):
    """A minimal click app: the baseline of bench_cli_startup."""


@cli.command()
def hello():
    """Say hello."""


cli(prog_name="baseline")
'''

CRM_HELP = "from crm_core.cli.main import main; main()"


def _crm_command() -> list[str]:
    script = Path(sys.executable).parent / "crm"
    if script.exists():
        return [str(script), "--help"]
    return [sys.executable, "-c", CRM_HELP, "--help"]


def _run(cmd: Sequence[str], env: dict[str, str], cwd: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def _cpu_run(
    cmd: Sequence[str], env: dict[str, str], cwd: str
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall time and CPU time (user + system) of one run of ``cmd``.

    CPU time is the less noisy figure on a busy machine: waiting for a core
    does not count.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, proc = _run(cmd, env, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def _check(name: str, proc: subprocess.CompletedProcess[str]) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{name} exited with {proc.returncode}:\n{proc.stderr.strip()}")


def _listed_commands(help_text: str) -> set[str]:
    """The command names in click's ``Commands:`` section."""
    names = set()
    in_commands = False
    for line in help_text.splitlines():
        if line.strip() == "Commands:":
            in_commands = True
        elif in_commands and line.startswith("  ") and line.strip():
            names.add(line.split()[0])
        elif in_commands and line.strip():
            in_commands = False
    return names


def _import_profile(
    cmd: Sequence[str], env: dict[str, str], cwd: str, runs: int = 5
) -> list[tuple[float, float, int, str]]:
    """``(self ms, cumulative ms, depth, module)`` under ``-X importtime``, medians of ``runs`` runs."""
    samples: dict[str, list[tuple[int, int, int]]] = {}
    order: list[str] = []
    # a run first, untimed: `python -c` has a sys.path of its own, so its first run fills the plugin
    # discovery cache (a module imported in one run only would be listed with that run's time)
    subprocess.run([sys.executable, *cmd], env=env, cwd=cwd, capture_output=True, text=True)
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", *cmd], env=env, cwd=cwd, capture_output=True, text=True
        )
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if m:
                if m[4] not in samples:
                    order.append(m[4])
                samples.setdefault(m[4], []).append((int(m[1]), int(m[2]), len(m[3]) // 2))
    return [
        (
            median([x[0] for x in samples[name]]) / 1000,
            median([x[1] for x in samples[name]]) / 1000,
            samples[name][0][2],
            name,
        )
        for name in order
    ]


def _importtime(env: dict[str, str], cwd: str, top: int, plugins: Sequence[str], baseline_app: str) -> None:
    """Print the heaviest imports of ``crm --help``, those the baseline app does not have, and each plugin's entry module."""
    entries = _import_profile(["-c", f"import sys; sys.argv = ['crm', '--help']; {CRM_HELP}"], env, cwd)
    if not entries:
        print("  (no -X importtime output)")
        return
    base = {name: self_ms for self_ms, _, _, name in _import_profile([baseline_app, "--help"], env, cwd)}
    total = sum(c for _, c, level, _ in entries if level == 0)
    print(f"  all imports: {total:.1f} ms (medians of 5 runs under -X importtime, which adds its own overhead)")
    print("  top-level imports by cumulative time:")
    for _self_ms, cum_ms, _level, name in sorted((e for e in entries if e[2] == 0), key=lambda e: -e[1])[:top]:
        print(f"    {cum_ms:7.1f} ms  {name}")
    print("  modules by self time (class creation, module code):")
    for self_ms, _cum_ms, _level, name in sorted(entries, key=lambda e: -e[0])[:top]:
        print(f"    {self_ms:7.1f} ms  {name}")
    names = {name for _, _, _, name in entries}
    only_crm = [e for e in entries if e[3] not in base]
    only_base = sum(ms for name, ms in base.items() if name not in names)
    print(
        f"  imported by crm --help but not by the baseline app: {len(only_crm)} modules, "
        f"{sum(e[0] for e in only_crm):.1f} ms self time (the baseline's own, peewee and its drivers "
        f"mostly: {only_base:.1f} ms); the heaviest:"
    )
    for self_ms, _cum_ms, _level, name in sorted(only_crm, key=lambda e: -e[0])[:top]:
        print(f"    {self_ms:7.1f} ms  {name}")
    if plugins:
        # entry points are imported with importlib.import_module, which
        # -X importtime does not see: time each load in a fresh process,
        # after what the CLI imports anyway (CommandSpec's module, not the
        # contract's other records: an entry module that imports those pays them)
        code = (
            "import json, sys, time\n"
            "import crm_core.cli.main, crm_core.config, crm_core.hooks, crm_hookspecs.commands, crm_hookspecs.specs\n"
            "from crm_core.plugins import discover\n"
            "infos = discover()\n"
            "out = []\n"
            "for name in sys.argv[1:]:\n"
            "    before = set(sys.modules)\n"
            "    start = time.perf_counter()\n"
            "    infos[name].entry_point.load()\n"
            "    own = infos[name].entry_point.module.split('.')[0]\n"
            "    new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] != own)\n"
            "    out.append((name, time.perf_counter() - start, new))\n"
            "print(json.dumps(out))\n"
        )
        runs = []
        for _ in range(5):
            proc = subprocess.run(
                [sys.executable, "-c", code, *plugins], env=env, cwd=cwd, capture_output=True, text=True
            )
            if proc.returncode != 0:
                print(f"  (could not time the plugin entry modules: {proc.stderr.strip().splitlines()[-1:]})")
                return
            runs.append(json.loads(proc.stdout))
        print(
            "  plugin entry modules, in load order (median of 5 fresh processes; modules they pull in that the CLI does not):"
        )
        for i, (name, _, new) in enumerate(runs[0]):
            ms = median([run[i][1] for run in runs]) * 1000
            extra = [m for m in new if not m.startswith("crm_")]
            own = [m for m in new if m.startswith("crm_")]
            print(f"    {ms:7.1f} ms  {name}" + (f"  + {', '.join(own + extra)}" if new else ""))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(
        argv,
        "crm --help wall time with every installed plugin enabled, against a minimal click app",
        add=lambda p: (
            p.add_argument("--repeat", type=int, default=None, help="runs of each command (default 21, quick 7)"),
            p.add_argument("--top", type=int, default=12, help="rows in the import-time lists"),
        ),
    )
    repeat = args.repeat or (7 if args.quick else 21)

    from crm_core.hooks import Hooks
    from crm_core.plugins import discover, load_plugins

    installed = discover()
    names = sorted(installed)
    section("crm --help startup")
    print(f"installed plugins ({len(names)}): {', '.join(names) or 'none'}")
    loaded = load_plugins(names, installed=installed)
    for name, record in loaded.records.items():
        info = record.info
        line = f"  {name} {info.version or ''} ({info.target}): {record.state}"
        if record.error is not None:
            line += f" - {record.error}"
        print(line)
    commands = [f"{spec.name} ({owner})" for owner, spec in Hooks(loaded.pm, loaded.order).cli_commands()]
    print(f"plugin commands listed by --help: {', '.join(commands) or 'none'}")

    env = dict(os.environ)
    env.pop("CRM_CONFIG", None)
    env["CRM_PLUGINS"] = ",".join(names)
    crm_cmd = _crm_command()
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        # Time what an installed CRM does: modules load from bytecode caches.
        # With PYTHONDONTWRITEBYTECODE (set on some machines) every run would
        # compile the kernel and the plugins from source, so the runs use a
        # private cache folder instead, filled by the warm-up run.
        if env.pop("PYTHONDONTWRITEBYTECODE", None):
            print("(PYTHONDONTWRITEBYTECODE is set here: the runs use a private bytecode cache instead)")
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp, "pycache"))
        # the plugin discovery cache (crm_core.plugins.cache) in a folder of
        # its own, filled by the warm-up run; one scenario runs without it
        env["CRM_CACHE_DIR"] = str(Path(tmp, "cache"))
        env.pop("CRM_PLUGIN_CACHE", None)
        uncached_env = {**env, "CRM_PLUGIN_CACHE": "off"}
        # two folders: a project made by `crm init` (its crm.toml is read and
        # validated, as in daily use), and an empty one (no crm.toml)
        project = Path(tmp, "project")
        empty = Path(tmp, "empty")
        project.mkdir()
        empty.mkdir()
        init = subprocess.run(
            [*crm_cmd[:-1], "init", "--timezone", "Europe/Madrid", "--plugins", ",".join(names)],
            env=env,
            cwd=project,
            capture_output=True,
            text=True,
        )
        scenarios = [("empty folder, no crm.toml", str(empty), env)]
        if Path(project, "crm.toml").exists():
            scenarios.insert(0, ("project folder, crm.toml from crm init", str(project), env))
        else:
            print(f"WARNING: `crm init` wrote no crm.toml ({init.stderr.strip()}); timing without one only")
        # for reference (no target): the first run after an installation reads the metadata anew
        scenarios.append(("empty folder, discovery cache off", str(empty), uncached_env))
        app = Path(tmp, "baseline_app.py")
        app.write_text(BASELINE_APP)
        base_cmd = [sys.executable, str(app), "--help"]
        bare_cmd = [sys.executable, "-c", "pass"]
        # warm-up: byte-compile caches, page cache
        for cmd, label in ((crm_cmd, "crm --help"), (base_cmd, "baseline app"), (bare_cmd, "python")):
            _check(label, _run(cmd, env, tmp)[1])
        for label, cwd, run_env in scenarios:
            listed = _listed_commands(_run(crm_cmd, run_env, cwd)[1].stdout)
            missing = [c.split(" ")[0] for c in commands if c.split(" ")[0] not in listed]
            if missing:
                print(
                    f"WARNING ({label}): crm --help does not list {', '.join(missing)}: the CLI could not load "
                    f"the plugins (run `crm nosuchcommand` there to see why); its time is without them"
                )
        times: dict[str, list[float]] = {label: [] for label, _, _ in scenarios}
        cpu: dict[str, list[float]] = {label: [] for label, _, _ in scenarios}
        base_t: list[float] = []
        bare_t: list[float] = []
        base_cpu: list[float] = []
        bare_cpu: list[float] = []
        for _ in range(repeat):  # alternate, so that all see the same noise
            for label, cwd, run_env in scenarios:
                t, c, proc = _cpu_run(crm_cmd, run_env, cwd)
                _check("crm --help", proc)
                times[label].append(t)
                cpu[label].append(c)
            t, c, _ = _cpu_run(base_cmd, env, tmp)
            base_t.append(t)
            base_cpu.append(c)
            t, c, _ = _cpu_run(bare_cmd, env, tmp)
            bare_t.append(t)
            bare_cpu.append(c)
        base_ms, bare_ms = median(base_t) * 1000, median(bare_t) * 1000
        print(f"command: CRM_PLUGINS={env['CRM_PLUGINS']!r} {' '.join(crm_cmd)}")
        print(
            f"runs: {repeat} of each command, alternated; baseline min/max {min(base_t) * 1000:.1f}/{max(base_t) * 1000:.1f} ms"
        )
        figures = []
        for label, _, run_env in scenarios:
            ts = times[label]
            print(f"  crm --help, {label}: min/max {min(ts) * 1000:.1f}/{max(ts) * 1000:.1f} ms")
            figures.append(
                Figure(
                    f"crm --help, {len(loaded.order)} plugins, {label}",
                    median(ts) * 1000,
                    "ms",
                    n=str(repeat),
                    baseline=base_ms,
                    baseline_name="click+peewee+pluggy+attrs+cattrs app",
                    # the cache off is for reference: the first run after an installation
                    target_value=TARGET_MS if run_env is env else None,
                    target_ratio=TARGET_RATIO if run_env is env else None,
                )
            )
        figures += [
            Figure(
                "baseline app --help", base_ms, "ms", n=str(repeat), baseline=bare_ms, baseline_name="python -c pass"
            ),
            Figure("python -c pass (interpreter start)", bare_ms, "ms", n=str(repeat)),
        ]
        print_table("crm --help, median wall time of a subprocess", figures)
        base_cpu_ms = median(base_cpu) * 1000
        print_table(
            "the same runs, median CPU time (user + system) of the subprocess: less sensitive to a busy machine",
            [
                Figure(
                    f"crm --help, {label}",
                    median(cpu[label]) * 1000,
                    "ms",
                    n=str(repeat),
                    baseline=base_cpu_ms,
                    baseline_name="baseline app",
                )
                for label, _, _ in scenarios
            ]
            + [
                Figure("baseline app --help", base_cpu_ms, "ms", n=str(repeat)),
                Figure("python -c pass", median(bare_cpu) * 1000, "ms", n=str(repeat)),
            ],
        )
        section(f"where crm --help spends its import time ({scenarios[0][0]})")
        _importtime(env, scenarios[0][1], args.top, list(loaded.order), str(app))


if __name__ == "__main__":
    main()
