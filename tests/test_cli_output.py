"""The real ``crm`` with its output in a real pipe: a reader that leaves early, stderr lines beside the data.

``crm … | head -1`` ends quietly (no "unexpected BrokenPipeError … please
report it", no traceback at exit), and the lines said to the person on
stderr (progress, notes, a plugin's own ``click.echo(err=True)``) never land
inside a row of the data when both streams go to one place.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

PLUGIN = """
from crm_hookspecs import hookimpl
from crm_hookspecs.records import CommandSpec


@hookimpl
def crm_cli_commands():
    return [CommandSpec("gamma", "kt_gamma.cli:group", "Gamma's listings.")]
"""

CLI = """
import sys

import click

from crm_core.output import note, progress, render, write_csv


@click.group()
def group():
    \"\"\"Gamma's listings.\"\"\"


@group.command()
@click.argument("n", type=int)
def table(n):
    rows = [{"id": i, "name": f"item {i}"} for i in range(n)]
    click.echo(render(rows, ["id", "name"]))
    note(f"({n} rows)")


@group.command()
@click.argument("n", type=int)
def export(n):
    # rows go to stdout in pieces (block-buffered in a pipe), the person's lines to stderr
    with progress(n, "exporting") as advance:
        def rows():
            for i in range(n):
                if i and i % 1000 == 0:
                    advance(i)
                    note(f"{i} rows so far")
                    click.echo(f"a plugin's own line after {i}", err=True)
                yield {"id": i, "name": f"item {i}"}

        write_csv(sys.stdout, rows(), ["id", "name"])
    note(f"{n} rows exported")
"""


@pytest.fixture
def gamma(fake_site, tmp_path):
    fake_site.add("gamma", PLUGIN, files={"cli.py": CLI})
    path = tmp_path / "crm.toml"
    path.write_text(
        f'[crm]\ndatabase = "sqlite:///{tmp_path}/crm.db"\n\n[plugins]\nenabled = {json.dumps(["gamma"])}\n'
    )
    env = fake_site.env()
    env.pop("PYTHONUNBUFFERED", None)  # as a user runs it: stdout block-buffered in a pipe
    return [f"{sys.prefix}/bin/crm", "--config", str(path)], env


@pytest.mark.sqlite_only
@pytest.mark.parametrize("command", [["table", "200000"], ["export", "200000"]])
def test_a_reader_that_stops_early_ends_the_command_quietly(gamma, command):
    crm, env = gamma
    process = subprocess.Popen([*crm, "gamma", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = process.stdout.readline()
    process.stdout.close()  # as head -1 does
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1  # Python's own exit code on EPIPE
    assert first.decode().split() in (["id", "name"], ["id,name"])
    # progress and notes written before the reader left are fine; nothing about the pipe
    assert "BrokenPipe" not in stderr and "unexpected" not in stderr and "Traceback" not in stderr
    assert "Exception ignored" not in stderr


@pytest.mark.sqlite_only
def test_head_in_a_shell_pipeline(gamma):
    crm, env = gamma
    line = " ".join(crm) + " gamma table 200000"
    result = subprocess.run(
        ["bash", "-c", f"{line} 2>err.txt | head -1; cat err.txt"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=crm[2].rsplit("/", 1)[0],
    )
    assert result.stdout.splitlines()[0].split() == ["id", "name"]
    assert result.stdout.splitlines()[1:] == [] and result.stderr == ""


@pytest.mark.sqlite_only
def test_stderr_lines_never_land_inside_the_data(gamma):
    crm, env = gamma
    result = subprocess.run(
        [*crm, "gamma", "export", "20000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60
    )
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    is_row = re.compile(r"^\d+,item \d+$").match
    rows = [line for line in lines if is_row(line)]
    said = [line for line in lines if not is_row(line) and line != "id,name"]
    # every data row is whole and in order, every line said is whole
    assert rows == [f"{i},item {i}" for i in range(20000)]
    assert said[0] == "exporting" and said[-1] == "20000 rows exported"
    assert said[1:-1] == [
        text for i in range(1000, 20000, 1000) for text in (f"{i} rows so far", f"a plugin's own line after {i}")
    ]
    # and each stderr line comes after the rows written before it
    assert lines.index("1000 rows so far") > lines.index("999,item 999")
