"""Plugin discovery, resolution and loading (crm_core.plugins)."""

from __future__ import annotations

import sys

import pytest

from crm_core import CRM
from crm_core.errors import (
    NotFoundError,
    PluginContractError,
    PluginCycleError,
    PluginDependencyError,
    PluginError,
    PluginImportError,
)
from crm_core.plugins import discover, load_plugins, object_plugin
from crm_hookspecs import CONTRACT_VERSION, hookimpl

RAISES_ON_IMPORT = """
raise RuntimeError("kaboom at import")
"""

STARTUP_LOG = """
from crm_hookspecs import hookimpl

LOG = []


@hookimpl
def crm_startup(crm):
    LOG.append("{name}")
"""


def test_discovery_reads_metadata_and_imports_nothing(fake_site):
    package = fake_site.add("alpha", RAISES_ON_IMPORT, version="1.2.3", requires=["crm-beta>=1.0"])
    fake_site.add("beta", "", version="2.0")

    found = discover()

    alpha = found["alpha"]
    assert alpha.version == "1.2.3"
    assert alpha.dist_name == "crm-alpha"
    assert alpha.target == f"{package}.plugin"
    assert alpha.requires == (("beta", ">=1.0"),)
    assert alpha.contract is not None
    assert CONTRACT_VERSION in __import__("packaging.specifiers").specifiers.SpecifierSet(alpha.contract)
    assert found["beta"].requires == ()
    assert package not in sys.modules and f"{package}.plugin" not in sys.modules


def test_a_plugin_whose_import_raises_fails_only_when_enabled(fake_site):
    fake_site.add("alpha", RAISES_ON_IMPORT)
    fake_site.add("beta", "")

    loaded = load_plugins(["beta"])
    assert loaded.order == ["beta"]
    assert "alpha" not in loaded.records

    loaded = load_plugins(["alpha", "beta"])
    assert loaded.order == ["beta"]
    record = loaded.records["alpha"]
    assert record.state == "failed"
    assert isinstance(record.error, PluginImportError)
    assert record.error.plugin == "alpha"
    message = str(record.error)
    assert "'alpha'" in message and "RuntimeError: kaboom at import" in message
    assert "remove it from [plugins] enabled" in message
    assert "kaboom at import" in record.traceback and "Traceback" in record.traceback


def test_strict_mode_raises_the_first_failure(fake_site):
    fake_site.add("alpha", RAISES_ON_IMPORT)
    with pytest.raises(PluginImportError, match="alpha"):
        load_plugins(["alpha"], strict=True)


def test_incompatible_contract_is_refused_without_importing(fake_site):
    package = fake_site.add("alpha", RAISES_ON_IMPORT, version="3.0.0", contract=">=2.0,<3")

    loaded = load_plugins(["alpha"])

    error = loaded.records["alpha"].error
    assert isinstance(error, PluginContractError)
    message = str(error)
    assert "'alpha'" in message and "3.0.0" in message and CONTRACT_VERSION in message
    assert "crm-hookspecs" in message and ">=2.0" in message
    assert f"{package}.plugin" not in sys.modules


def test_a_plugin_without_a_contract_range_is_loaded(fake_site):
    fake_site.add("alpha", "", contract=None)
    assert load_plugins(["alpha"]).order == ["alpha"]


def test_required_plugin_installed_but_not_enabled(fake_site):
    fake_site.add("alpha", "", requires=["crm-beta>=1.0"])
    fake_site.add("beta", "")

    loaded = load_plugins(["alpha"])

    assert loaded.order == []
    error = loaded.records["alpha"].error
    assert isinstance(error, PluginDependencyError)
    assert "'alpha'" in str(error) and "'beta'" in str(error) and "not enabled" in str(error)
    assert "add 'beta' to [plugins] enabled" in str(error)


def test_required_plugin_of_the_wrong_version(fake_site):
    fake_site.add("alpha", "", requires=["crm-beta>=2.0"])
    fake_site.add("beta", "", version="1.5")

    loaded = load_plugins(["alpha", "beta"])

    assert loaded.order == ["beta"]
    error = loaded.records["alpha"].error
    assert isinstance(error, PluginDependencyError)
    assert "'beta' >=2.0" in str(error) and "1.5" in str(error)


def test_required_distribution_not_installed(fake_site):
    # pip uninstall crm-beta leaves alpha's Requires-Dist behind
    fake_site.add("beta", "")
    fake_site.add("alpha", "", requires=["crm-beta>=1.0"])
    fake_site.remove("beta")

    loaded = load_plugins(["alpha"])

    error = loaded.records["alpha"].error
    assert isinstance(error, PluginDependencyError)
    assert "'alpha'" in str(error) and "crm-beta" in str(error) and "not installed" in str(error)
    assert "pip install" in str(error)


def test_required_plugin_missing_for_an_object_plugin():
    loaded = load_plugins([object_plugin("alpha", object(), {"ghost": ">=1"})])
    error = loaded.records["alpha"].error
    assert isinstance(error, PluginDependencyError)
    assert "'ghost'" in str(error) and "not installed" in str(error)


def test_a_cycle_names_the_plugins_and_skips_their_users(fake_site):
    fake_site.add("alpha", "", requires=["crm-beta"])
    fake_site.add("beta", "", requires=["crm-alpha"])
    fake_site.add("gamma", "", requires=["crm-alpha"])
    fake_site.add("delta", "")

    loaded = load_plugins(["alpha", "beta", "gamma", "delta"])

    assert loaded.order == ["delta"]
    for name in ("alpha", "beta"):
        error = loaded.records[name].error
        assert isinstance(error, PluginCycleError)
        assert "alpha -> beta -> alpha" in str(error)
    assert loaded.records["gamma"].state == "skipped"
    assert "cycle" in str(loaded.records["gamma"].error)
    with pytest.raises(PluginCycleError, match="alpha -> beta -> alpha"):
        load_plugins(["alpha", "beta"], strict=True)


@pytest.mark.sqlite_only  # loading, not storage
def test_plugins_requiring_a_failed_plugin_are_skipped_and_the_rest_works(fake_site, crm_factory):
    fake_site.add("alpha", RAISES_ON_IMPORT)
    fake_site.add("beta", STARTUP_LOG.format(name="beta"), requires=["crm-alpha"])
    fake_site.add("gamma", STARTUP_LOG.format(name="gamma"), requires=["crm-beta"])
    delta = fake_site.add("delta", STARTUP_LOG.format(name="delta"))

    crm = crm_factory(["alpha", "beta", "gamma", "delta"], strict=False)

    assert crm.enabled_plugins == ["delta"]
    states = {name: record.state for name, record in crm.plugins.items()}
    assert states == {"delta": "enabled", "alpha": "failed", "beta": "skipped", "gamma": "skipped"}
    assert "'alpha'" in str(crm.plugins["beta"].error)
    assert "'beta'" in str(crm.plugins["gamma"].error)
    assert sys.modules[f"{delta}.plugin"].LOG == ["delta"]
    with pytest.raises(NotFoundError, match="'beta' is not enabled.*could not be loaded"):
        crm.plugin("beta")


def test_a_hookimpl_with_a_wrong_argument_fails_registration(fake_site):
    fake_site.add(
        "alpha",
        """
        from crm_hookspecs import hookimpl

        @hookimpl
        def crm_startup(crm, colour):
            pass
        """,
    )
    fake_site.add("beta", "")

    loaded = load_plugins(["alpha", "beta"])

    assert loaded.order == ["beta"]
    error = loaded.records["alpha"].error
    assert isinstance(error, PluginImportError)
    assert "could not be registered" in str(error) and "colour" in str(error)
    assert "crm_startup" in str(error)
    assert "alpha" not in [name for name, _ in loaded.pm.list_name_plugin()]


def test_an_unknown_hook_name_fails_registration():
    class Typo:
        @hookimpl
        def crm_statup(self, crm):
            pass

    loaded = load_plugins([object_plugin("typo", Typo())])

    error = loaded.records["typo"].error
    assert isinstance(error, PluginImportError)
    assert "crm_statup" in str(error) and "crm_startup" in str(error)
    assert loaded.pm.get_plugin("typo") is None


def test_two_distributions_claiming_one_name_is_an_error(fake_site):
    fake_site.add("alpha", "", dist="crm-alpha")
    fake_site.add("alpha", "", dist="acme-alpha", package="kt_acme_alpha")

    loaded = load_plugins(["alpha"])

    error = loaded.records["alpha"].error
    assert isinstance(error, PluginError)
    assert "acme-alpha" in str(error) and "crm-alpha" in str(error) and "uninstall" in str(error)


def test_not_installed_and_bad_names_are_recorded(fake_site):
    loaded = load_plugins(["ghost", "Bad-Name"], enabled_source="CRM_PLUGINS")
    assert "not installed" in str(loaded.records["ghost"].error)
    assert "CRM_PLUGINS" in str(loaded.records["ghost"].error)
    assert "not a plugin name" in str(loaded.records["Bad-Name"].error)


def test_registration_order_is_topological_with_ties_by_name():
    def plugin(name: str, requires: dict[str, str] | None = None):
        return object_plugin(name, type(name, (), {})(), requires)

    loaded = load_plugins(
        [
            plugin("zeta"),
            plugin("alpha", {"zeta": ""}),
            plugin("mid"),
            plugin("beta", {"alpha": "", "mid": ""}),
            plugin("aardvark"),
        ]
    )
    assert loaded.order == ["aardvark", "mid", "zeta", "alpha", "beta"]
    assert list(loaded.records) == loaded.order


@pytest.mark.sqlite_only  # loading, not storage
def test_hook_calls_follow_the_order_and_shutdown_is_reversed(crm_factory, crm_plugin):
    calls: list[str] = []

    def probe(name: str):
        return crm_plugin(
            name,
            crm_startup=lambda crm: calls.append(f"start {name}"),
            crm_shutdown=lambda crm: calls.append(f"stop {name}"),
        )

    zeta = probe("zeta")
    alpha = (*probe("alpha"), {"zeta": ""})
    crm = crm_factory([probe("mid"), alpha, zeta], migrate=False)
    crm.close()

    assert calls == ["start mid", "start zeta", "start alpha", "stop alpha", "stop zeta", "stop mid"]


def test_crm_plugin_table_records_state_and_version(fake_site, crm_factory, crm_db_url):
    from crm_core.models import PluginState

    fake_site.add("alpha", "", version="1.0.0")
    fake_site.add("broken", RAISES_ON_IMPORT, version="0.3")

    crm = crm_factory(["alpha", "broken"], strict=False)
    with crm.activate():
        rows = {r.name: (r.state, r.version, r.error) for r in PluginState.select()}
    assert rows["alpha"] == ("enabled", "1.0.0", None)
    assert rows["broken"][:2] == ("failed", "0.3")
    assert "kaboom" in rows["broken"][2]
    crm.close()

    # upgrade alpha, fix nothing, and disable broken
    fake_site.add("alpha", "", version="1.1.0")
    crm = crm_factory(["alpha"], migrate=False)
    with crm.activate():
        rows = {r.name: (r.state, r.version) for r in PluginState.select()}
    assert rows == {"alpha": ("enabled", "1.1.0"), "broken": ("disabled", "0.3")}


def test_object_plugins_are_not_recorded_in_the_table(crm_factory, crm_plugin):
    from crm_core.models import PluginState

    crm = crm_factory([crm_plugin("probe", crm_startup=lambda crm: None)])
    with crm.activate():
        assert PluginState.select().count() == 0
    assert crm.plugins["probe"].state == "enabled"
    assert crm.plugins["probe"].hooks == ("crm_startup",)


def test_an_app_built_non_strict_keeps_working_with_a_broken_plugin(fake_site, tmp_path):
    fake_site.add("alpha", RAISES_ON_IMPORT)
    with CRM(database=f"sqlite:///{tmp_path / 'x.db'}", plugins=["alpha"]) as crm:
        crm.migrate()
        assert crm.enabled_plugins == []
        assert crm.plugins["alpha"].state == "failed"
    with pytest.raises(PluginImportError):
        CRM(database=f"sqlite:///{tmp_path / 'y.db'}", plugins=["alpha"], strict=True)


def test_the_kernels_name_is_reserved(fake_site):
    fake_site.add("crm", "")
    loaded = load_plugins(["crm", object_plugin("crm", object())])
    assert loaded.order == []
    assert "'crm' is the kernel's own name" in str(loaded.records["crm"].error)
