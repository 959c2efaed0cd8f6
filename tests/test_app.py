"""The app object (crm_core.app.CRM): building, plugins, settings, time, closing."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

import pytest

from crm_core import CRM
from crm_core.clock import FakeClock, SystemClock
from crm_core.errors import ConfigError, NotFoundError


def test_built_from_arguments(tmp_path, crm_plugin):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with CRM(
        database=url, plugins=[crm_plugin("probe", crm_startup=lambda crm: None)], timezone="Europe/Madrid"
    ) as crm:
        assert crm.config.core.database == url
        assert crm.config.core.timezone == "Europe/Madrid"
        assert crm.enabled_plugins == ["probe"]
        assert crm.has_plugin("probe") and not crm.has_plugin("contacts")
        assert isinstance(crm.clock, SystemClock)
        assert not crm.database.is_closed()
        crm.migrate()
    assert crm.database.is_closed()


def test_built_from_a_config_file_with_overrides(tmp_path, fake_site):
    fake_site.add("alpha", "")
    path = tmp_path / "crm.toml"
    path.write_text("[crm]\ndatabase = 'sqlite:///from-file.db'\n\n[plugins]\nenabled = ['alpha']\n")
    with CRM.from_config(path, environ={}) as crm:
        assert crm.database.database == str(tmp_path / "from-file.db")
        assert crm.enabled_plugins == ["alpha"]
        assert crm.config.path == path.resolve()
    other = f"sqlite:///{tmp_path / 'override.db'}"
    with CRM.from_config(path, environ={"CRM_PLUGINS": ""}, database=other, timezone="Asia/Tokyo") as crm:
        assert crm.database.database == str(tmp_path / "override.db")
        assert crm.config.core.timezone == "Asia/Tokyo"
        assert crm.enabled_plugins == []


def test_plugins_from_config_and_arguments_are_merged_once(tmp_path, fake_site):
    fake_site.add("alpha", "")
    fake_site.add("beta", "")
    path = tmp_path / "crm.toml"
    path.write_text("[plugins]\nenabled = ['alpha']\n")
    with CRM.from_config(path, environ={}, plugins=["alpha", "beta"], connect=False) as crm:
        assert crm.enabled_plugins == ["alpha", "beta"]


def test_a_bad_plugins_argument(tmp_path):
    with pytest.raises(ConfigError, match=r"plugins=\[\.\.\.\] takes plugin names or \(name, object\) pairs, not 42"):
        CRM(database=f"sqlite:///{tmp_path / 'x.db'}", plugins=[42])


def test_settings_arguments_are_merged_with_the_file(tmp_path, crm_plugin):
    import attrs

    @attrs.frozen
    class Settings:
        colour: str = "red"
        size: int = 1

    path = tmp_path / "crm.toml"
    path.write_text("[crm]\ndatabase = 'sqlite:///crm.db'\n\n[plugins.probe]\ncolour = 'blue'\n")
    probe = crm_plugin("probe", crm_config_section=lambda: Settings)
    with CRM.from_config(path, environ={}, plugins=[probe], settings={"other": {}}) as crm:
        assert crm.settings("probe") == Settings(colour="blue")
    with CRM.from_config(path, environ={}, plugins=[probe], settings={"probe": {"size": 3}}) as crm:
        assert crm.settings("probe") == Settings(size=3)  # an argument replaces the file's table


def test_connect_false_opens_no_database(tmp_path):
    with CRM(database=f"sqlite:///{tmp_path / 'lazy.db'}", connect=False) as crm:
        assert crm.database.is_closed()
    assert not (tmp_path / "lazy.db").exists()


@pytest.mark.sqlite_only  # no storage involved
def test_the_clock_and_the_time_zone(crm_factory, crm_clock):
    crm = crm_factory(timezone="America/New_York", migrate=False)
    assert crm.clock is crm_clock
    crm_clock.set(dt.datetime(2026, 3, 1, 3, 30, tzinfo=dt.UTC))
    assert crm.now() == crm_clock.now()
    assert crm.now().utcoffset() == dt.timedelta(hours=-5)
    assert crm.today() == dt.date(2026, 2, 28)  # still the evening before in New York
    crm_clock.advance(days=1, hours=1)
    assert crm.today() == dt.date(2026, 3, 1)


def test_fake_clock_rules():
    clock = FakeClock(dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert clock.now() == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert clock.now().tzinfo == dt.UTC
    assert clock.advance(minutes=90) == dt.datetime(2026, 1, 1, 11, 30, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(dt.timedelta(seconds=-1))
    with pytest.raises(ValueError, match="needs an aware datetime"):
        clock.set(dt.datetime(2026, 1, 1))
    clock.set(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))  # set() may go back
    assert clock.now().year == 2025
    assert SystemClock().now().tzinfo == dt.UTC


@pytest.mark.sqlite_only  # no storage involved
def test_plugin_lookup_explains_why_a_plugin_is_missing(crm_factory, fake_site):
    fake_site.add("broken", "raise ValueError('bad')\n")
    crm = crm_factory(["broken"], strict=False, migrate=False)
    with pytest.raises(
        NotFoundError, match=r"plugin 'broken' is not enabled in this app: plugin 'broken' .* failed to import"
    ):
        crm.plugin("broken")
    with pytest.raises(NotFoundError, match="plugin 'contactz' is not enabled in this app$"):
        crm.plugin("contactz")


def test_nested_transactions_are_savepoints(crm_factory):
    crm = crm_factory()
    db = crm.database
    db.execute_sql("CREATE TABLE kt_t (v INTEGER)")
    with crm.transaction():
        db.execute_sql("INSERT INTO kt_t (v) VALUES (1)")
        with pytest.raises(RuntimeError):
            with crm.transaction():
                db.execute_sql("INSERT INTO kt_t (v) VALUES (2)")
                raise RuntimeError("inner only")
        db.execute_sql("INSERT INTO kt_t (v) VALUES (3)")
    assert [r[0] for r in db.execute_sql("SELECT v FROM kt_t ORDER BY v").fetchall()] == [1, 3]


def test_repr_hides_the_password():
    crm = CRM(database="postgresql://crm:s3cret@127.0.0.1:1/crm", connect=False)
    try:
        assert repr(crm) == "<CRM postgresql://crm:***@127.0.0.1:1/crm plugins=[]>"
    finally:
        crm.close()


def test_importing_creates_nothing(tmp_path):
    code = textwrap.dedent(
        """
        import os, sys
        import crm_core, crm_core.app, crm_core.storage, crm_core.events, crm_core.cli.main
        from crm_core import storage
        assert list(storage._open_apps) == [], "an app exists at import time"
        assert storage._active.get() is None
        assert os.listdir(".") == [], os.listdir(".")
        import pluggy
        assert not [o for o in __import__("gc").get_objects() if isinstance(o, pluggy.PluginManager)], "a plugin manager exists"
        print("clean")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
