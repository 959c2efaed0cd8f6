"""What the command line says about plugins that are misspelt, broken or misconfigured."""

from __future__ import annotations

import json

import pytest

from tests.test_plugins import RAISES_ON_IMPORT

COMMAND_PLUGIN = """
from crm_hookspecs import hookimpl
from crm_hookspecs.records import CommandSpec


@hookimpl
def crm_cli_commands():
    return [CommandSpec("{name}", "kt_{name}.cli:group", "{name}'s command.")]
"""

COMMAND_MODULE = """
import click
from crm_core.cli.main import pass_state


@click.group()
def group():
    pass


@group.command()
@pass_state
def hello(state):
    state.crm()
    click.echo("hello")
"""

SETTINGS_PLUGIN = """
import attrs
from crm_hookspecs import hookimpl


@attrs.frozen
class Settings:
    level: int = 1


@hookimpl
def crm_config_section():
    return Settings
"""


@pytest.fixture
def toml(tmp_path):
    def make(enabled, extra=""):
        path = tmp_path / "crm.toml"
        names = ", ".join(f'"{n}"' for n in enabled)
        path.write_text(
            f'[crm]\ndatabase = "sqlite:///crm.db"\n\n[plugins]\nenabled = [{names}]\n{extra}', encoding="utf-8"
        )
        return path

    return make


def test_a_misspelt_enabled_plugin_stops_commands_but_not_the_listing(fake_site, toml, crm_cli):
    fake_site.add("notes", "")
    path = toml(["notse"])

    result = crm_cli.invoke(["migrate"], config=path)
    assert result.exit_code == 3
    assert "'notse' is enabled in the config file but not installed; did you mean 'notes'?" in result.output

    listing = crm_cli.invoke(["plugins", "--format", "json"], config=path)
    assert listing.exit_code == 0
    rows = {row["name"]: row for row in json.loads(listing.output)}
    assert "did you mean 'notes'" in rows["notse"]["error"]


def test_strict_plugins_exits_with_an_error_when_a_plugin_failed(fake_site, toml, crm_cli):
    fake_site.add("alpha", RAISES_ON_IMPORT)
    path = toml(["alpha"])

    assert crm_cli.invoke(["plugins"], config=path).exit_code == 0
    result = crm_cli.invoke(["--strict", "plugins"], config=path)
    assert result.exit_code == 3
    assert "alpha" in result.output and "failed" in result.output  # the list is shown first
    assert "1 enabled plugin(s) cannot be used (--strict)" in result.output
    assert "kaboom at import" in result.output


def test_a_command_of_a_plugin_that_failed_says_so(fake_site, toml, crm_cli):
    fake_site.add("alpha", RAISES_ON_IMPORT)
    fake_site.add("beta", COMMAND_PLUGIN.format(name="beta"), files={"cli.py": COMMAND_MODULE})
    path = toml(["alpha", "beta"])

    assert crm_cli.invoke(["beta", "hello"], config=path).output.strip().endswith("hello")
    result = crm_cli.invoke(["alpha", "hello"], config=path)
    assert result.exit_code == 3
    assert "needs the plugin enabled" not in result.output
    assert "plugin 'alpha' is enabled but was not loaded" in result.output
    assert "kaboom at import" in result.output and "see 'crm plugins' or 'crm doctor'" in result.output

    other = crm_cli.invoke(["gamma"], config=path)
    assert other.exit_code == 2
    assert "enabled plugins that were not loaded, so their commands are missing: alpha" in other.output


def test_doctor_points_at_a_traceback_only_when_there_is_one(fake_site, toml, crm_cli):
    fake_site.add("alpha", RAISES_ON_IMPORT)
    fake_site.add("beta", "", requires=["crm-alpha"])
    fake_site.add(
        "gamma",
        """
        from crm_hookspecs import hookimpl

        @hookimpl
        def crm_startup(crm, colour):
            pass
        """,
    )
    path = toml(["alpha", "beta", "gamma"])
    result = crm_cli.invoke(["doctor"], config=path)
    blocks = {}
    for line in result.output.splitlines():
        if line.startswith("!!  plugin "):
            current = line.split(":")[0].removeprefix("!!  plugin ")
            blocks[current] = [line]
        elif line.startswith("    fix:") and blocks:
            blocks[current].append(line)
    assert "traceback" in blocks["alpha"][-1]
    assert not any("traceback" in line for line in blocks["beta"] + blocks["gamma"])
    assert "fix the plugin it requires" in blocks["beta"][-1]


def test_doctor_warns_about_a_hook_function_without_the_marker(fake_site, toml, crm_cli):
    fake_site.add(
        "alpha",
        """
        def crm_startup(crm):
            pass
        """,
    )
    path = toml(["alpha"])
    assert crm_cli.invoke(["migrate"], config=path).exit_code == 0
    result = crm_cli.invoke(["doctor"], config=path)
    assert result.exit_code == 0, result.output
    assert (
        "??  plugin alpha: plugin 'alpha': crm_startup is named like a hook but not marked @hookimpl" in result.output
    )


def test_a_config_mistake_in_one_plugins_section_is_named_by_crm_plugins(fake_site, toml, crm_cli):
    fake_site.add("alpha", SETTINGS_PLUGIN)
    fake_site.add("beta", COMMAND_PLUGIN.format(name="beta"), files={"cli.py": COMMAND_MODULE})
    path = toml(["alpha", "beta"], extra="\n[plugins.alpha]\nlevel = 'high'\n")

    # the documented rule: a mistake in the file stops every command, the other plugins' too
    result = crm_cli.invoke(["beta", "hello"], config=path)
    assert result.exit_code == 2
    assert "plugins.alpha.level" in result.output

    listing = crm_cli.invoke(["plugins", "--format", "json"], config=path)
    rows = {row["name"]: row for row in json.loads(listing.output)}
    assert "plugins.alpha.level" in rows["alpha"]["error"]
    assert rows["beta"]["error"] == ""
    assert crm_cli.invoke(["--strict", "plugins"], config=path).exit_code == 3


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_events_failed_full_shows_the_whole_traceback(crm_factory, crm_plugin, crm_cli):
    from crm_hookspecs.events import ContactCreated

    def deep(events):
        raise ValueError("the handler's own message")

    def handler(crm, events):
        deep(events)

    crm = crm_factory([crm_plugin("probe", crm_handle_events=handler)])
    with crm.transaction():
        crm.emit(ContactCreated(contact_id=1, data={"name": "Ann"}))

    short = crm_cli.invoke(["events", "failed"], app=crm)
    assert "ValueError: the handler's own message" in short.output and "in deep" not in short.output

    full = crm_cli.invoke(["events", "failed", "--full"], app=crm)
    assert "Traceback (most recent call last)" in full.output
    assert "in deep" in full.output and "in handler" in full.output

    [row] = json.loads(crm_cli.invoke(["events", "failed", "--full", "--format", "json"], app=crm).output)
    assert "in deep" in row["traceback"]
