"""Configuration: TOML loading, validation messages, env: values, redaction (crm_core.config)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import attrs
import pytest

from crm_core import CRM
from crm_core.config import load_config, structure_section
from crm_core.errors import ConfigError, PluginNotInstalledError


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def toml(tmp_path: Path):
    """``toml("...")`` writes crm.toml in a fresh folder and returns its path."""

    def make(text: str, name: str = "crm.toml") -> Path:
        return write(tmp_path / name, text)

    return make


def error_of(path: Path, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=kwargs.pop("environ", {}), **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message  # every message names the file
    return message


@attrs.frozen
class ProbeSettings:
    """A plugin's settings class, with every kind of value."""

    api_key: str
    retries: int = 3
    ratio: float = 0.5
    verbose: bool = False
    tags: list[str] = attrs.Factory(list)
    levels: tuple[int, ...] = ()
    mode: str = attrs.field(default="fast", validator=attrs.validators.in_(["fast", "safe"]))

    @attrs.frozen
    class Limits:
        per_minute: int = 10

    limits: Limits = attrs.Factory(Limits)


def probe_plugin(crm_plugin):
    return crm_plugin("probe", crm_config_section=lambda: ProbeSettings)


# -- the file ---------------------------------------------------------------


def test_defaults_when_the_file_is_empty(toml):
    config = load_config(toml(""), environ={})
    assert config.core.database == "sqlite:///crm.db"
    assert config.core.timezone == "UTC"
    assert config.enabled is None
    assert config.plugin_tables == {}
    assert config.base_dir == config.path.parent


def test_a_full_file_is_read(toml):
    config = load_config(
        toml(
            """
            [crm]
            database = "postgresql://crm@db.example.com/crm"
            timezone = "Europe/Madrid"

            [crm.mail]
            transport = "memory"
            rate_limit = 30

            [plugins]
            enabled = ["contacts", "tasks"]

            [plugins.contacts]
            default_region = "ES"
            """
        ),
        environ={},
    )
    assert config.core.database == "postgresql://crm@db.example.com/crm"
    assert config.core.timezone == "Europe/Madrid"
    assert config.core.mail.transport == "memory"
    assert config.core.mail.rate_limit == 30
    assert config.enabled == ("contacts", "tasks")
    assert config.plugin_tables == {"contacts": {"default_region": "ES"}}


def test_a_missing_file_names_it_and_the_fix(tmp_path):
    message = error_of(tmp_path / "nope.toml")
    assert "no such configuration file" in message and "crm init" in message
    assert load_config(tmp_path / "nope.toml", environ={}, missing_ok=True).path is None


def test_toml_syntax_error(toml):
    message = error_of(toml('[crm]\ndatabase = "sqlite:///x.db\n'))
    assert "TOML syntax error" in message and "line 2" in message and "fix the file" in message


def test_unknown_table(toml):
    message = error_of(toml("[contacts]\ndefault_region = 'ES'\n"))
    assert "unknown table [contacts]" in message and "[plugins.<name>]" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[crm]\ndatabse = 'x.db'\n", "crm.databse"),
        ("[crm.mail]\ntransprt = 'file'\n", "crm.mail.transprt"),
        ("[crm.mail.smtp]\nhots = 'smtp.example.com'\n", "crm.mail.smtp.hots"),
    ],
)
def test_unknown_key_names_its_path_and_the_valid_keys(toml, text, key):
    message = error_of(toml(text))
    assert f"{key}: unknown key" in message
    assert "remove it or fix its spelling" in message
    section = key.rpartition(".")[0]
    assert f"the keys of [{section}] are:" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[crm.mail]\nrate_limit = '5'\n",
            "crm.mail.rate_limit: expected an integer, got the string '5'; write it without quotes: 5",
        ),
        ("[crm.mail]\nrate_limit = true\n", "crm.mail.rate_limit: expected an integer, got the boolean true"),
        ("[crm.mail]\nrate_limit = 2.5\n", "crm.mail.rate_limit: expected an integer, got the number 2.5"),
        ("[crm.mail.smtp]\nport = '587'\n", "crm.mail.smtp.port: expected an integer, got the string '587'"),
        ("[crm]\ndatabase = 5\n", 'crm.database: expected a string, got the integer 5; put it in quotes: "5"'),
        ("[crm]\nmail = 'smtp'\n", "crm.mail: expected a table, got the string 'smtp'"),
        (
            "[crm.mail.smtp]\nsecurity = 'ssl'\n",
            "crm.mail.smtp.security: must be 'none', 'starttls' or 'tls', not 'ssl'",
        ),
    ],
)
def test_wrong_types_name_the_key_what_was_expected_and_the_fix(toml, text, expected):
    assert expected in error_of(toml(text))


def test_a_float_setting_accepts_an_integer(toml):
    config = load_config(toml("[crm.mail.smtp]\ntimeout = 10\n"), environ={})
    assert config.core.mail.smtp.timeout == 10.0 and isinstance(config.core.mail.smtp.timeout, float)


def test_a_bad_time_zone(toml):
    message = error_of(toml("[crm]\ntimezone = 'Europe/Atlantis'\n"))
    assert "crm.timezone: unknown time zone 'Europe/Atlantis'" in message and "Europe/Madrid" in message


def test_a_database_url_with_an_unknown_scheme(toml):
    message = error_of(toml("[crm]\ndatabase = 'oracle://scott@db/crm'\n"))
    assert "crm.database: unknown database scheme 'oracle'" in message
    assert "postgresql://" in message and "sqlite:///" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[plugins]\nenabled = 'contacts'\n", "plugins.enabled must be a list of plugin names"),
        ("[plugins]\nenabled = [1]\n", "plugins.enabled must be a list of plugin names"),
        ("plugins = 3\n", "'plugins' must be a table"),
        ("[plugins]\ncontacts = 3\n", "plugins.contacts must be a table ([plugins.contacts])"),
    ],
)
def test_bad_plugins_table(toml, text, expected):
    assert expected in error_of(toml(text))


# -- environment ------------------------------------------------------------


def test_env_values_are_read_from_the_environment(toml):
    path = toml(
        """
        [crm]
        database = "env:CRM_DB_URL"

        [crm.mail.smtp]
        password = "env:SMTP_PASSWORD"

        [plugins.probe]
        api_key = "env:PROBE_KEY"
        """
    )
    config = load_config(
        path, environ={"CRM_DB_URL": "sqlite:///from-env.db", "SMTP_PASSWORD": "hunter2", "PROBE_KEY": "k-123"}
    )
    assert config.core.database == "sqlite:///from-env.db"
    assert config.core.mail.smtp.password == "hunter2"
    assert config.plugin_tables["probe"]["api_key"] == "k-123"
    assert config.secrets == {"crm.database", "crm.mail.smtp.password", "plugins.probe.api_key"}


def test_a_missing_environment_variable(toml):
    message = error_of(toml('[crm.mail.smtp]\npassword = "env:SMTP_PASSWORD"\n'))
    assert "crm.mail.smtp.password" in message and "SMTP_PASSWORD is not set" in message
    assert "set it or put the value in the file" in message


def test_crm_plugins_overrides_the_enabled_list(toml):
    path = toml("[plugins]\nenabled = ['contacts', 'tasks']\n")
    assert load_config(path, environ={}).enabled == ("contacts", "tasks")
    config = load_config(path, environ={"CRM_PLUGINS": " surveys , tasks,"})
    assert config.enabled == ("surveys", "tasks")
    assert config.enabled_source == "CRM_PLUGINS"
    assert load_config(path, environ={"CRM_PLUGINS": ""}).enabled == ()


def test_crm_plugins_empty_means_no_plugin_at_all(toml, fake_site, monkeypatch):
    fake_site.add("alpha", "")
    path = toml("[crm]\ndatabase = 'sqlite:///crm.db'\n[plugins]\nenabled = ['alpha']\n")
    monkeypatch.setenv("CRM_PLUGINS", "")
    with CRM.from_config(path) as crm:
        assert crm.enabled_plugins == [] and crm.plugins == {}
    monkeypatch.delenv("CRM_PLUGINS")
    with CRM.from_config(path) as crm:
        assert crm.enabled_plugins == ["alpha"]


def test_crm_plugins_naming_an_uninstalled_plugin_says_where_it_came_from(toml, fake_site):
    path = toml("")
    with pytest.raises(PluginNotInstalledError, match="'ghost' is enabled in CRM_PLUGINS but not installed"):
        CRM.from_config(path, environ={"CRM_PLUGINS": "ghost"}, connect=False)


# -- plugin sections --------------------------------------------------------


def test_a_plugin_section_is_validated_by_the_plugins_class(toml, crm_plugin, tmp_path):
    path = toml(
        """
        [crm]
        database = "sqlite:///crm.db"

        [plugins.probe]
        api_key = "k"
        retries = 5
        tags = ["vip", "press"]
        levels = [1, 2]

        [plugins.probe.limits]
        per_minute = 60
        """
    )
    with CRM.from_config(path, environ={}, plugins=[probe_plugin(crm_plugin)]) as crm:
        settings = crm.settings("probe")
    assert settings == ProbeSettings(
        api_key="k", retries=5, tags=["vip", "press"], levels=(1, 2), limits=ProbeSettings.Limits(60)
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("retries = 1", "plugins.probe.api_key: required key is missing; add it to [plugins.probe]"),
        ("api_key = 'k'\nretries = '5'", "plugins.probe.retries: expected an integer, got the string '5'"),
        ("api_key = 'k'\nverbose = 'yes'", "plugins.probe.verbose: expected true or false, got the string 'yes'"),
        ("api_key = 'k'\ntags = 'vip'", "plugins.probe.tags: expected a list"),
        ("api_key = 'k'\ntags = ['vip', 3]", "plugins.probe.tags[1]: expected a string, got the integer 3"),
        ("api_key = 'k'\nmode = 'reckless'", "plugins.probe.mode: 'mode' must be in ['fast', 'safe'] (got 'reckless')"),
        (
            "api_key = 'k'\ncolour = 'red'",
            "plugins.probe.colour: unknown key; the keys of [plugins.probe] are: api_key, retries",
        ),
        ("api_key = 'k'\nlimits = {per_minute = 'lots'}", "plugins.probe.limits.per_minute: expected an integer"),
        ("api_key = 'k'\nlimits = {per_hour = 1}", "plugins.probe.limits.per_hour: unknown key"),
    ],
)
def test_a_bad_plugin_section_names_the_file_the_key_and_the_fix(toml, crm_plugin, table, expected):
    path = toml(f"[crm]\ndatabase = 'sqlite:///crm.db'\n\n[plugins.probe]\n{table}\n")
    with pytest.raises(ConfigError) as info:
        CRM.from_config(path, environ={}, plugins=[probe_plugin(crm_plugin)])
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_a_missing_plugin_section_with_a_required_key(toml, crm_plugin):
    path = toml("[crm]\ndatabase = 'sqlite:///crm.db'\n")
    with pytest.raises(ConfigError, match=r"plugins\.probe\.api_key: required key is missing"):
        CRM.from_config(path, environ={}, plugins=[probe_plugin(crm_plugin)])


def test_a_section_for_a_plugin_that_declares_none(toml, crm_plugin):
    path = toml("[crm]\ndatabase = 'sqlite:///crm.db'\n\n[plugins.quiet]\nlevel = 1\n")
    quiet = crm_plugin("quiet", crm_startup=lambda crm: None)
    with pytest.raises(ConfigError) as info:
        CRM.from_config(path, environ={}, plugins=[quiet])
    message = str(info.value)
    assert str(path) in message and "[plugins.quiet]" in message and "declares none" in message
    assert "remove the table" in message


@pytest.mark.sqlite_only  # checks validation, not storage
def test_settings_of_a_plugin_given_as_arguments(crm_factory, crm_plugin):
    crm = crm_factory([probe_plugin(crm_plugin)], settings={"probe": {"api_key": "k"}}, migrate=False)
    assert crm.settings("probe").api_key == "k"
    with pytest.raises(ConfigError, match="plugins.probe.retries: expected an integer"):
        crm_factory([probe_plugin(crm_plugin)], settings={"probe": {"api_key": "k", "retries": "2"}})


def test_app_arguments_are_validated_like_the_file(tmp_path):
    with pytest.raises(ConfigError, match="crm.timezone: unknown time zone 'Nowhere/Land'"):
        CRM(database=f"sqlite:///{tmp_path / 'x.db'}", timezone="Nowhere/Land")
    with pytest.raises(ConfigError, match="crm.database: unknown database scheme 'mssql'"):
        CRM(database="mssql://sa@db/crm")


def test_structure_section_reports_how_many_problems(tmp_path):
    @attrs.frozen
    class Two:
        a: int
        b: int

    with pytest.raises(ConfigError, match=r"f\.toml: x\.a: .* \(and 1 more problem\(s\)\)"):
        structure_section({"a": "1", "b": "2"}, Two, "f.toml", "x")


# -- paths and redaction ----------------------------------------------------


def test_a_relative_sqlite_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    path = write(folder / "crm.toml", "[crm]\ndatabase = 'sqlite:///data/crm.db'\n")
    (folder / "data").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with CRM.from_config(path, environ={}) as crm:
        crm.migrate()
    assert (folder / "data" / "crm.db").exists()
    assert not (elsewhere / "data").exists()


def test_redacted_hides_secrets(toml):
    path = toml(
        """
        [crm]
        database = "postgresql://crm:s3cret@db.example.com/crm"

        [crm.mail.smtp]
        username = "crm"
        password = "plain-in-file"

        [plugins.probe]
        api_key = "env:PROBE_KEY"
        region = "env:PROBE_REGION"
        """
    )
    data = load_config(path, environ={"PROBE_KEY": "k-123", "PROBE_REGION": "ES"}).redacted()
    text = json.dumps(data)
    assert "s3cret" not in text and "plain-in-file" not in text and "k-123" not in text
    assert data["crm"]["database"] == "postgresql://crm:***@db.example.com/crm"
    assert data["crm"]["mail"]["smtp"]["password"] == "***"
    assert data["crm"]["mail"]["smtp"]["username"] == "crm"
    assert data["plugins"]["probe"] == {"api_key": "***", "region": "***"}


def test_crm_config_show_prints_the_effective_config_redacted(toml, crm_cli, monkeypatch):
    path = toml(
        """
        [crm]
        timezone = "Europe/Madrid"

        [crm.mail.smtp]
        password = "env:SMTP_PASSWORD"

        [plugins]
        enabled = []
        """
    )
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    result = crm_cli.invoke(["config", "show"], config=path)
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert 'password = "***"' in result.output
    assert 'timezone = "Europe/Madrid"' in result.output
    assert "[crm.mail.smtp]" in result.output

    result = crm_cli.invoke(["config", "show", "--format", "json"], config=path)
    data = json.loads(result.output)
    assert data["crm"]["mail"]["smtp"]["password"] == "***"
    assert data["plugins"]["enabled"] == []


def test_crm_config_show_with_a_broken_file_is_one_line(toml, crm_cli):
    path = toml("[crm\n")
    result = crm_cli.invoke(["config", "show"], config=path)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"Error: {path}: TOML syntax error")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_the_shipped_sample_config_is_valid(kit):
    config = load_config(kit.REPO / "sample_config" / "crm.toml", environ={})
    assert config.core.database.startswith("sqlite:///")


def test_env_values_inside_lists_are_redacted(toml):
    path = toml('[plugins.probe]\ntokens = ["env:TOKEN_A", "plain"]\n')
    data = load_config(path, environ={"TOKEN_A": "t-secret"}).redacted()
    assert data["plugins"]["probe"]["tokens"] == ["***", "plain"]


def test_dump_toml_reads_back_to_the_same_data():
    import datetime as dt
    import tomllib

    from crm_core.config import dump_toml

    data = {
        "crm": {
            "database": "sqlite:///crm.db",
            "mail": {"smtp": {"port": 25, "verify": True}, "transport_options": {}},
        },
        "plugins": {
            "enabled": ["tasks"],
            "tasks": {
                "rules": [
                    {"name": "call back", "when": {"field": "stage", "op": "="}},
                    {"name": "second", "level": 2.5},
                ],
                "key with spaces": 'ñandú "quoted"',
                "dotted.key": 1,
                "start": dt.date(2026, 1, 2),
            },
        },
    }
    assert tomllib.loads(dump_toml(data)) == data
    assert tomllib.loads(dump_toml({"crm": {"gone": None, "kept": 1}})) == {"crm": {"kept": 1}}


def test_redaction_hides_secret_names_but_not_every_key_ending_in_key():
    from crm_core.config import _redact

    shown = _redact(
        {"plugins": {"p": {"sort_key": "name", "primary_key": "id", "signing_key": "s3", "key": "k", "api_key": "a"}}},
        "",
        frozenset(),
    )
    assert shown["plugins"]["p"] == {
        "sort_key": "name",
        "primary_key": "id",
        "signing_key": "***",
        "key": "***",
        "api_key": "***",
    }


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "crm.toml"
    path.write_bytes(b'[crm]\ntimezone = "Europe/M\xe1drid"\n')  # Latin-1
    message = error_of(path)
    assert "not UTF-8 text (byte 26); save the file as UTF-8" in message
