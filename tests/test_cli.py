"""The crm command: kernel commands, plugin commands, errors (crm_core.cli)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from crm_core.errors import PluginError, StorageError

ALPHA_PLUGIN = """
from pathlib import Path

from crm_hookspecs import hookimpl
from crm_hookspecs.records import CommandSpec, PluginSchema


@hookimpl
def crm_schema():
    return PluginSchema(migrations=Path(__file__).parent / "migrations")


@hookimpl
def crm_cli_commands():
    return [CommandSpec("alpha", "kt_alpha.cli:group", "Alpha's own command.")]


@hookimpl
def crm_demo_data(crm):
    from crm_hookspecs.events import ContactCreated

    with crm.transaction():
        crm.database.execute_sql("INSERT INTO alpha_item (name) VALUES ('demo one')")
        crm.database.execute_sql("INSERT INTO alpha_item (name) VALUES ('demo two')")
        crm.emit(ContactCreated(contact_id=1, data={"name": "Demo"}))
    return ["2 demo items", "1 contact event"]
"""

ALPHA_CLI = """
import click

from crm_core.cli.main import pass_state
from crm_core.errors import ValidationError


@click.group()
def group():
    \"\"\"Alpha's own command.\"\"\"


@group.command()
@click.argument("name")
@pass_state
def add(state, name):
    app = state.crm()
    with app.transaction():
        app.database.execute_sql(f"INSERT INTO alpha_item (name) VALUES ({app.database.param})", (name,))
    click.echo(f"added {name}")


@group.command()
def explode():
    raise RuntimeError("a bug inside")


@group.command()
def refuse():
    raise ValidationError("--name: too short; use 3 letters or more")
"""

ALPHA_MIGRATION = """
import peewee


def up(migrator, db):
    class Item(peewee.Model):
        name = peewee.CharField(max_length=100)

        class Meta:
            database = db
            table_name = "alpha_item"

    db.create_tables([Item])
"""

BROKEN = """
raise ImportError("cannot import name 'gone' from 'somewhere'")
"""


@pytest.fixture
def alpha(fake_site):
    fake_site.add(
        "alpha",
        ALPHA_PLUGIN,
        version="1.4.0",
        files={"cli.py": ALPHA_CLI, "migrations/0001_item.py": ALPHA_MIGRATION},
    )
    return fake_site


@pytest.fixture
def config(tmp_path):
    """``config(enabled=[...], database=...)`` writes a crm.toml; returns its path."""

    def make(enabled=(), database="sqlite:///crm.db", extra=""):
        path = tmp_path / "crm.toml"
        path.write_text(
            f'[crm]\ndatabase = "{database}"\n\n[plugins]\nenabled = {json.dumps(list(enabled))}\n{textwrap.dedent(extra)}'
        )
        return path

    return make


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def crm_subprocess(args, env, cwd=None, timeout=60):
    """Run the installed ``crm`` script (next to this Python) in a real process."""
    crm = f"{sys.prefix}/bin/crm"
    return subprocess.run([crm, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


# -- init -------------------------------------------------------------------------


def test_init_writes_a_commented_config_and_creates_the_database(alpha, crm_cli, tmp_path):
    path = tmp_path / "site" / "crm.toml"
    result = crm_cli.invoke(
        ["init", "--plugins", "alpha", "--timezone", "Europe/Madrid", "--database", "sqlite:///data/crm.db"],
        config=path,
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"wrote {path}"
    assert "plugins: alpha" in result.output
    text = path.read_text()
    assert '# Any string value "env:NAME"' in text
    assert 'timezone = "Europe/Madrid"' in text and 'enabled = ["alpha"]' in text
    assert (tmp_path / "site" / "data" / "crm.db").exists()  # the folder was created

    from crm_core import CRM

    with CRM.from_config(path, environ={}) as crm:
        assert crm.pending_migrations() == []
        assert "alpha_item" in crm.database.get_tables()


def test_init_refuses_to_overwrite_unless_forced(crm_cli, tmp_path, fake_site):
    path = tmp_path / "crm.toml"
    assert crm_cli.invoke(["init", "--plugins", ""], config=path).exit_code == 0
    path.write_text(path.read_text() + "# mine\n")
    line = one_line_error(crm_cli.invoke(["init", "--plugins", ""], config=path), 2)
    assert "already exists; use --force" in line
    assert path.read_text().endswith("# mine\n")
    assert crm_cli.invoke(["init", "--plugins", "", "--force"], config=path).exit_code == 0
    assert not path.read_text().endswith("# mine\n")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--timezone", "Mars/Olympus"], "crm init --timezone: unknown time zone 'Mars/Olympus'"),
        (["--database", "oracle://x/y"], "crm init --database: unknown database scheme 'oracle'"),
        (["--plugins", "ghost"], "--plugins names 'ghost', which is not installed"),
    ],
)
def test_init_with_bad_options_writes_nothing(crm_cli, tmp_path, fake_site, args, expected):
    path = tmp_path / "crm.toml"
    line = one_line_error(crm_cli.invoke(["init", *args], config=path), 2)
    assert expected in line
    assert list(tmp_path.iterdir()) == [tmp_path / "site"]  # no crm.toml, no .tmp, no database


# -- plugins ----------------------------------------------------------------------


def test_plugins_lists_installed_plugins_with_their_state(alpha, crm_cli, config):
    alpha.add("broken", BROKEN, version="0.9")
    alpha.add("idle", "", version="2.0")
    path = config(enabled=["alpha", "broken"])

    table = crm_cli.invoke(["plugins"], config=path)
    assert table.exit_code == 0, table.output
    header, rule, *rows = table.output.splitlines()
    assert header.split() == ["name", "version", "state", "contract", "requires", "hooks", "error"]
    by_name = {row.split()[0]: row for row in rows}
    assert by_name["alpha"].split()[1:3] == ["1.4.0", "enabled"]
    assert "crm_cli_commands, crm_demo_data, crm_schema" in by_name["alpha"]
    assert by_name["broken"].split()[1:3] == ["0.9", "failed"]
    assert by_name["idle"].split()[1:3] == ["2.0", "disabled"]

    data = {row["name"]: row for row in json.loads(crm_cli.invoke(["plugins", "--format", "json"], config=path).output)}
    assert data["alpha"]["state"] == "enabled" and data["alpha"]["error"] == ""
    assert data["alpha"]["hooks"] == ["crm_cli_commands", "crm_demo_data", "crm_schema"]
    assert ">=1.0" in data["alpha"]["contract"]
    broken = data["broken"]
    assert broken["state"] == "failed"
    assert "failed to import: ImportError: cannot import name 'gone'" in broken["error"]
    assert "Traceback (most recent call last)" in broken["traceback"]
    assert data["idle"]["state"] == "disabled"

    csv = crm_cli.invoke(["plugins", "--format", "csv"], config=path).output.splitlines()
    assert csv[0] == "name,version,state,contract,requires,hooks,error"


def test_a_broken_plugin_is_a_warning_and_the_rest_works(alpha, crm_cli, config):
    alpha.add("broken", BROKEN)
    path = config(enabled=["alpha", "broken"])
    result = crm_cli.invoke(["migrate"], config=path)
    assert result.exit_code == 0, result.output
    assert "applied alpha/0001_item" in result.stdout
    assert result.stderr.startswith("Warning: plugin 'broken' (kt_broken.plugin) failed to import: ImportError")
    assert len(result.stderr.strip().splitlines()) == 1

    added = crm_cli.invoke(["alpha", "add", "still works"], config=path)
    assert added.exit_code == 0 and "added still works" in added.stdout

    line = one_line_error(crm_cli.invoke(["--strict", "migrate"], config=path), PluginError.exit_code)
    assert "plugin 'broken'" in line


# -- plugin commands and errors ------------------------------------------------------


def test_a_plugins_command_runs(alpha, crm_cli, config):
    path = config(enabled=["alpha"])
    assert crm_cli.invoke(["migrate"], config=path).exit_code == 0
    result = crm_cli.invoke(["alpha", "add", "first"], config=path)
    assert result.exit_code == 0, result.output
    assert result.output == "added first\n"
    helped = crm_cli.invoke(["--help"], config=path)
    assert "alpha    Alpha's own command." in helped.output or "alpha  Alpha's own command." in helped.output


def test_a_crm_error_is_one_line_with_its_exit_code(alpha, crm_cli, config):
    path = config(enabled=["alpha"])
    line = one_line_error(crm_cli.invoke(["alpha", "refuse"], config=path), 2)
    assert line == "Error: --name: too short; use 3 letters or more"


def test_an_unexpected_exception_is_one_line_asking_for_debug(alpha, crm_cli, config):
    path = config(enabled=["alpha"])
    line = one_line_error(crm_cli.invoke(["alpha", "explode"], config=path), 1)
    assert (
        line
        == "Error: unexpected RuntimeError: a bug inside (run again with --debug for the traceback, and please report it)"
    )


def test_debug_lets_the_exception_through(alpha, crm_cli, config):
    path = config(enabled=["alpha"])
    with pytest.raises(RuntimeError, match="a bug inside"):
        crm_cli.invoke(["--debug", "alpha", "explode"], config=path)


def test_an_unknown_command(crm_cli, config, fake_site):
    result = crm_cli.invoke(["contactz"], config=config())
    assert result.exit_code == 2
    assert "no such command 'contactz'; the commands are: backup, config, demo, doctor" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_command_when_the_config_is_broken_says_why(crm_cli, tmp_path, fake_site):
    path = tmp_path / "crm.toml"
    path.write_text("[crm\n")
    line = one_line_error(crm_cli.invoke(["alpha", "add", "x"], config=path), 2)
    assert "no such command 'alpha'; plugin commands could not be loaded:" in line and "TOML syntax error" in line


def test_a_command_module_that_does_not_import(fake_site, crm_cli, config):
    fake_site.add(
        "alpha",
        ALPHA_PLUGIN,
        files={
            "cli.py": "raise ImportError('no module named click_extra')\n",
            "migrations/0001_item.py": ALPHA_MIGRATION,
        },
    )
    line = one_line_error(crm_cli.invoke(["alpha", "add", "x"], config=config(enabled=["alpha"])), 1)
    assert line.startswith("Error: command 'alpha' of 'alpha' cannot be loaded from kt_alpha.cli:group: ImportError")


def test_a_missing_config_file(crm_cli, tmp_path):
    line = one_line_error(crm_cli.invoke(["migrate"], config=tmp_path / "none.toml"), 2)
    assert "none.toml: no such configuration file; create one with 'crm init'" in line


# -- doctor -------------------------------------------------------------------------


def test_doctor_on_a_healthy_crm(alpha, crm_cli, config):
    path = config(enabled=["alpha"])
    crm_cli.invoke(["migrate"], config=path)
    result = crm_cli.invoke(["doctor"], config=path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "everything looks fine"
    assert "ok  plugin alpha: 1.4.0 loaded" in result.output


def test_doctor_lists_each_problem_with_its_fix(alpha, crm_cli, config):
    alpha.add("broken", BROKEN)
    path = config(enabled=["alpha", "broken"], extra="\n[plugins.nosuch]\nlevel = 1\n")
    result = crm_cli.invoke(["doctor"], config=path)
    assert result.exit_code == 1
    out = result.output
    assert "!!  plugin settings [plugins.nosuch]: no installed plugin is called 'nosuch'" in out
    assert "fix: install the plugin or remove [plugins.nosuch]" in out
    assert "!!  plugin broken: plugin 'broken' (kt_broken.plugin) failed to import" in out
    assert "fix: the error is in the plugin's code: see its traceback with 'crm plugins --format json'" in out
    assert "!!  migrations:" in out and "pending" in out and "fix: run 'crm migrate'" in out
    assert out.splitlines()[-1] == "3 problem(s) found"
    assert result.stderr == ""  # listed once, not also warned about


def test_doctor_with_a_broken_config(crm_cli, tmp_path):
    path = tmp_path / "crm.toml"
    path.write_text("[crm]\ntimezone = 'Mars/Olympus'\n")
    result = crm_cli.invoke(["doctor"], config=path)
    assert result.exit_code == 1
    assert "!!  configuration:" in result.output and "crm.timezone: unknown time zone" in result.output
    assert "fix: fix the file, or create one with 'crm init'" in result.output


@pytest.mark.sqlite_only  # checks the doctor's report, not storage
@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_doctor_reports_failed_events(crm_factory, crm_plugin, crm_cli):
    from crm_hookspecs.events import ContactCreated

    def fail(crm, events):
        raise RuntimeError("handler down")

    crm = crm_factory([crm_plugin("flaky", crm_handle_events=fail)])
    crm.emit(ContactCreated(contact_id=1))
    result = crm_cli.invoke(["doctor"], app=crm)
    assert result.exit_code == 1
    assert "!!  events: 1 failed deliveries" in result.output
    assert "fix: see 'crm events failed', fix the handler, then 'crm events retry --all'" in result.output


# -- demo -------------------------------------------------------------------------


def test_demo_loads_every_plugins_demo_data_and_can_be_reset(alpha, crm_cli, config):
    path = config(enabled=["alpha"], database="sqlite:///demo/crm.db")
    result = crm_cli.invoke(["demo"], config=path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("database: sqlite:///demo/crm.db (")
    assert "plugins: alpha" in lines
    assert "[alpha] 2 demo items" in lines and "[alpha] 1 contact event" in lines
    assert lines[-2].startswith("events: 1 recorded")
    assert lines[-1].endswith(f"export CRM_CONFIG={path.resolve()}")

    again = crm_cli.invoke(["demo"], config=path)
    assert "already has data; run 'crm demo --reset'" in one_line_error(again, 2)

    reset = crm_cli.invoke(["demo", "--reset"], config=path)
    assert reset.exit_code == 0, reset.output
    from crm_core import CRM

    with CRM.from_config(path, environ={}) as crm:
        names = [r[0] for r in crm.database.execute_sql("SELECT name FROM alpha_item ORDER BY id").fetchall()]
    assert names == ["demo one", "demo two"]  # reset, not doubled


def test_demo_without_demo_data(crm_cli, config, fake_site):
    result = crm_cli.invoke(["demo"], config=config())
    assert result.exit_code == 0
    assert "no enabled plugin has demo data" in result.output


def test_demo_reset_only_deletes_sqlite_files(crm_cli, config, fake_site):
    path = config(database="postgresql://postgres@127.0.0.1:1/crm")
    line = one_line_error(crm_cli.invoke(["demo", "--reset"], config=path), 2)
    assert "--reset only deletes SQLite files" in line


# -- real processes -----------------------------------------------------------------


def test_the_real_crm_prints_one_line_errors_and_a_traceback_with_debug(alpha, config, tmp_path):
    path = config(enabled=["alpha"])
    env = alpha.env()
    result = crm_subprocess(["--config", str(path), "alpha", "refuse"], env)
    assert result.returncode == 2
    assert result.stderr == "Error: --name: too short; use 3 letters or more\n"

    result = crm_subprocess(["--config", str(path), "--debug", "alpha", "explode"], env)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: a bug inside" in result.stderr

    result = crm_subprocess(["--config", str(tmp_path / "nope.toml"), "--debug", "migrate"], env)
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "Error: " in result.stderr and "no such configuration file" in result.stderr


def test_help_lists_plugin_commands_without_importing_their_modules(alpha, config):
    path = config(enabled=["alpha"])
    code = textwrap.dedent(
        f"""
        import sys
        from crm_core.cli.main import main
        try:
            main(["--config", {str(path)!r}, "--help"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        print("imported:", "kt_alpha.plugin" in sys.modules, "kt_alpha.cli" in sys.modules, "crm_core.cli.kernel" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=alpha.env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "alpha" in result.stdout and "Alpha's own command." in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "imported: True False False"


def test_the_real_crm_on_an_unreachable_database(config, fake_site):
    path = config(database="postgresql://postgres@127.0.0.1:1/crm")
    result = crm_subprocess(["--config", str(path), "events", "status"], fake_site.env())
    assert result.returncode == StorageError.exit_code
    assert result.stderr.startswith("Error: cannot open the database postgresql://postgres@127.0.0.1:1/crm:")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.sqlite_only  # checks the doctor's report, not storage
def test_doctor_reports_command_clashes_and_badly_named_tables(crm_factory, crm_plugin, crm_cli, tmp_path):
    import peewee

    from crm_core.storage import Model
    from crm_hookspecs.records import CommandSpec, PluginSchema

    class Stray(Model):
        class Meta:
            table_name = "stray_things"

    (tmp_path / "empty").mkdir()
    crm = crm_factory(
        [
            crm_plugin("one", crm_cli_commands=lambda: [CommandSpec("report", "m:a"), CommandSpec("migrate", "m:b")]),
            crm_plugin("two", crm_cli_commands=lambda: [CommandSpec("report", "m:c")]),
            crm_plugin("three", crm_schema=lambda: PluginSchema(migrations=tmp_path / "empty", models=(Stray,))),
        ]
    )
    result = crm_cli.invoke(["doctor"], app=crm)
    assert result.exit_code == 1
    out = result.output
    assert "!!  command migrate: plugin 'one' and the kernel both define it; the kernel's wins" in out
    assert "fix: rename the command in one" in out
    assert "!!  command report: plugin 'two' and 'one' both define it; 'one''s wins" in out
    assert "!!  plugin three tables: tables not named three_*: stray_things" in out
    assert isinstance(Stray.id, peewee.AutoField)


# -- output ---------------------------------------------------------------------------


def test_render_formats():
    import datetime as dt
    import decimal

    from crm_core.output import csv_safe, render

    rows = [
        {"id": 1, "name": "Ana", "when": dt.date(2026, 1, 2), "amount": decimal.Decimal("1.50"), "tags": ["a", "b"]},
        {"id": 22, "name": '=HYPERLINK("x")', "when": None, "amount": None, "tags": []},
    ]
    table = render(rows, ["id", "name", "when"])
    assert table.splitlines() == [
        "id  name             when",
        "--  ---------------  ----------",
        "1   Ana              2026-01-02",
        '22  =HYPERLINK("x")',
    ]
    assert render([], ["id"]) == "(none)"
    csv_lines = render(rows, ["id", "name", "amount", "tags"], "csv").splitlines()
    assert csv_lines[0] == "id,name,amount,tags"
    assert csv_lines[1] == '1,Ana,1.50,"a, b"'
    assert csv_lines[2].startswith("22,\"'=HYPERLINK")  # a spreadsheet shows it, does not run it
    data = json.loads(render(rows, None, "json"))
    assert data[0] == {"id": 1, "name": "Ana", "when": "2026-01-02", "amount": "1.50", "tags": ["a", "b"]}
    assert [csv_safe(v) for v in ("+1", "-x", "@a", "\tb", "plain", 5)] == ["'+1", "'-x", "'@a", "'\tb", "plain", 5]
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(rows, None, "xml")


@pytest.mark.sqlite_only  # checks the doctor's report, not storage
def test_the_doctor_runs_without_the_command_line(crm_factory, crm_plugin):
    """run_checks takes a configuration, an app factory and the reserved command names: no CLI state."""
    from crm_core.doctor import run_checks
    from crm_core.errors import ConfigError
    from crm_hookspecs.records import CommandSpec

    crm = crm_factory([crm_plugin("one", crm_cli_commands=lambda: [CommandSpec("audit", "m:a")])])
    checks = {c.name: c for c in run_checks(crm.config, lambda: crm, kernel_commands={"audit"})}
    assert checks["configuration"].ok and checks["migrations"].ok and checks["schema"].ok
    assert not checks["command audit"].ok
    assert checks["command audit"].detail == "plugin 'one' and the kernel both define it; the kernel's wins"
    assert "command audit" not in {c.name for c in run_checks(crm.config, lambda: crm)}

    def unreadable():
        raise ConfigError("crm.toml: [crm] database: expected a string")

    built = []
    [only] = run_checks(unreadable, lambda: built.append(1) or crm)
    assert (only.name, only.ok, only.detail) == ("configuration", False, "crm.toml: [crm] database: expected a string")
    assert built == []  # no app is built from a configuration that cannot be read
