"""``crm plugin new NAME``: write a working third-party plugin distribution."""

from __future__ import annotations

import re
from pathlib import Path

from crm_core.errors import ValidationError

__all__ = ["scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

FILES: dict[str, str] = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "crm-{dist}"
version = "0.1.0"
description = "The {name} plugin for the CRM framework."
requires-python = ">=3.11"
dependencies = ["crm-hookspecs>=1.0,<2", "crm-core>=0.1", "peewee>=4.5", "click>=8.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."crm.plugins"]
{name} = "crm_{name}.plugin"

[tool.setuptools.packages.find]
include = ["crm_{name}*"]

[tool.setuptools.package-data]
crm_{name} = ["migrations/*.py"]
""",
    "README.md": """\
# crm-{dist}

A plugin for the CRM framework: keeps notes (`crm {name} add TEXT`, `crm {name} list`).

    pip install -e .
    crm plugins                # lists {name}
    python -m pytest tests
""",
    "crm_{name}/__init__.py": '''\
"""The {name} plugin."""
''',
    "crm_{name}/plugin.py": '''\
"""Entry module: hook implementations only, cheap to import (crm --help loads it)."""

from pathlib import Path

from crm_hookspecs import hookimpl
from crm_hookspecs.records import CommandSpec, PluginSchema


@hookimpl
def crm_schema():
    from crm_{name}.models import Note

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=(Note,))


@hookimpl
def crm_cli_commands():
    return [CommandSpec("{name}", "crm_{name}.cli:group", "Keep {name} notes.")]
''',
    "crm_{name}/models.py": """\
import peewee

from crm_core.storage import Model, UTCDateTimeField


class Note(Model):
    text = peewee.TextField()
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "{name}_note"
""",
    "crm_{name}/cli.py": '''\
import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render


@click.group()
def group():
    """Keep {name} notes."""


@group.command()
@click.argument("text")
@pass_state
def add(state: CLIState, text: str) -> None:
    """Add a note."""
    from crm_{name}.models import Note

    app = state.crm()
    with app.transaction():
        note = Note.create(text=text, created_at=app.clock.now())
    click.echo(f"note {{note.id}} added")


@group.command("list")
@format_option()
@pass_state
def list_notes(state: CLIState, fmt: str) -> None:
    """List the notes."""
    from crm_{name}.models import Note

    with state.crm().activate():
        rows = [{{"id": n.id, "text": n.text}} for n in Note.select().order_by(Note.id)]
    click.echo(render(rows, ["id", "text"], fmt))
''',
    "crm_{name}/migrations/0001_initial.py": '''\
"""Create {name}_note."""

import peewee


def up(migrator, db):
    class Note(peewee.Model):
        text = peewee.TextField()
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "{name}_note"

    db.create_tables([Note])


def down(migrator, db):
    db.execute_sql("DROP TABLE {name}_note")
''',
    "tests/test_{name}.py": '''\
"""Uses the fixtures of crm_core.testing (installed with crm-core)."""


def test_note_is_stored(crm_factory):
    crm = crm_factory(plugins=["{name}"])
    from crm_{name}.models import Note

    with crm.transaction():
        Note.create(text="hello", created_at=crm.clock.now())
    with crm.activate():
        assert [n.text for n in Note.select()] == ["hello"]


def test_commands(crm_factory, crm_cli):
    crm = crm_factory(plugins=["{name}"])
    added = crm_cli.invoke(["{name}", "add", "call back"], app=crm)
    assert added.exit_code == 0, added.output
    listed = crm_cli.invoke(["{name}", "list", "--format", "csv"], app=crm)
    assert listed.output.splitlines() == ["id,text", "1,call back"]
''',
}


def scaffold(name: str, directory: Path) -> Path:
    """Write ``crm-<name>/`` under ``directory``; return its path."""
    from crm_core.cli.main import KERNEL_COMMANDS

    if not _NAME.match(name):
        raise ValidationError(
            f"plugin name {name!r} is not valid: use 2 to 40 lower-case letters, digits and _, starting with a letter"
        )
    if name in KERNEL_COMMANDS or name == "crm":
        raise ValidationError(f"plugin name {name!r} is taken by a kernel command; choose another")
    from crm_core.plugins import discover

    installed = discover().get(name)
    if installed is not None:
        raise ValidationError(
            f"a plugin called {name!r} is already installed ({installed.dist_name or installed.target}); "
            "choose another name"
        )
    dist = name.replace("_", "-")
    root = directory / f"crm-{dist}"
    if root.exists():
        raise ValidationError(f"{root} already exists; choose another name or --dir")
    for rel, template in FILES.items():
        path = root / rel.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name, dist=dist), encoding="utf-8")
    return root
