"""The pure resolution step, the registration checks and how an app reports plugins it did not load."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from crm_core import CRM
from crm_core.errors import CRMError, PluginDependencyError, PluginImportError, PluginNotInstalledError
from crm_core.plugins import PluginInfo, load_plugins, object_plugin, requirements, resolve
from crm_hookspecs import hookimpl

REPO = Path(__file__).resolve().parent.parent


def info(name: str, requires: dict[str, str] | None = None, **kwargs) -> PluginInfo:
    return PluginInfo(name=name, target=f"kt_{name}.plugin", requires=tuple(sorted((requires or {}).items())), **kwargs)


# -- resolution: metadata in, order and failures out ----------------------------


def test_resolution_orders_by_requirement_then_name_and_imports_nothing():
    # no entry point and no object: resolving must not try to load anything
    installed = {
        "zeta": info("zeta"),
        "alpha": info("alpha", {"zeta": ">=1"}, version="1.0"),
        "mid": info("mid"),
        "beta": info("beta", {"alpha": "", "mid": ""}),
    }
    resolution = resolve(["beta", "alpha", "zeta", "mid"], installed, contract_version="1.0.0")
    assert [i.name for i in resolution.order] == ["mid", "zeta", "alpha", "beta"]
    assert resolution.failures == ()


def test_every_cycle_is_named_and_its_users_skipped():
    installed = {
        "a": info("a", {"b": ""}),
        "b": info("b", {"a": ""}),
        "c": info("c", {"d": ""}),
        "d": info("d", {"e": ""}),
        "e": info("e", {"c": ""}),
        "user": info("user", {"e": ""}),
        "free": info("free"),
    }
    resolution = resolve(sorted(installed), installed, contract_version="1.0.0")
    assert [i.name for i in resolution.order] == ["free"]
    errors = {f.info.name: (f.state, str(f.error)) for f in resolution.failures}
    assert "a -> b -> a" in errors["a"][1] and "a -> b -> a" in errors["b"][1]
    # the second cycle is reported as a cycle too, from its smallest name, along the requirements
    for name in "cde":
        assert errors[name][0] == "failed" and "c -> d -> e -> c" in errors[name][1]
    assert errors["user"][0] == "skipped" and "'e'" in errors["user"][1]


def test_every_missing_requirement_is_named_at_once():
    installed = {
        "alpha": info(
            "alpha",
            {"beta": "", "gamma": "", "off": "", "old": ">=2"},
            dist_requires=(("kt-absent-lib", ">=1"), ("kt-other-absent", "")),
        ),
        "off": info("off"),
        "old": info("old", version="1.0"),
    }
    resolution = resolve(["alpha", "old"], installed, contract_version="1.0.0", dist_version=lambda dist: None)
    [failure] = resolution.failures
    assert isinstance(failure.error, PluginDependencyError)
    message = str(failure.error)
    for part in (
        "'beta'",
        "'gamma'",
        "'off'",
        "add 'off' to [plugins] enabled",
        "'old' >=2",
        "'old' 1.0",
        "kt-absent-lib>=1",
        "kt-other-absent",
    ):
        assert part in message, part


def test_all_failed_plugins_a_plugin_requires_are_named():
    class Broken:
        @hookimpl
        def crm_startup(self, crm, colour):
            pass

    loaded = load_plugins(
        [
            object_plugin("one", Broken()),
            object_plugin("two", Broken()),
            object_plugin("user", object(), {"one": "", "two": ""}),
        ]
    )
    error = str(loaded.records["user"].error)
    assert loaded.records["user"].state == "skipped"
    assert "plugins 'one', 'two'" in error


def test_requirement_lines_are_read_by_packaging():
    lines = [
        "crm-hookspecs (>=1.0,<2)",
        'pytest>=8; extra == "test"',  # optional: left out
        'a>=1; python_version < "3"',  # not for this Python: left out
        "foo[bar]>=1",
        "x @ https://example.com/x.whl",
        "a>=1.0 garbage",  # invalid: left out, pip would not have installed it
    ]
    assert requirements(lines) == [("crm-hookspecs", "<2,>=1.0"), ("foo", ">=1"), ("x", "")]


# -- registration ---------------------------------------------------------------


def test_a_wrong_argument_is_one_line_naming_the_hooks_arguments():
    class Colourful:
        @hookimpl
        def crm_startup(self, crm, colour):
            pass

    error = load_plugins([object_plugin("colourful", Colourful())]).records["colourful"].error
    assert isinstance(error, PluginImportError)
    message = str(error)
    assert "\n" not in message
    assert "crm_startup(crm, colour) takes 'colour'" in message
    assert "its arguments are (crm)" in message


def test_a_hookimpl_that_is_no_hook_is_refused_even_without_the_prefix():
    class Helper:
        @hookimpl
        def make_report(self, crm):
            pass

        @hookimpl(optionalhook=True)
        def crm_from_a_later_contract(self, crm):  # allowed: optional by declaration
            pass

    record = load_plugins([object_plugin("helper", Helper())]).records["helper"]
    assert record.state == "failed"
    assert "it implements make_report, which is not a hook of the contract" in str(record.error)
    assert "crm_from_a_later_contract" not in str(record.error)

    class Optional:
        @hookimpl(optionalhook=True)
        def crm_from_a_later_contract(self, crm):
            pass

    record = load_plugins([object_plugin("optional", Optional())]).records["optional"]
    assert record.state == "enabled" and record.hooks == ()


def test_a_function_named_like_a_hook_without_the_marker_is_a_warning():
    class Forgetful:
        def crm_startup(self, crm):  # no @hookimpl: pluggy ignores it
            pass

        @hookimpl
        def crm_shutdown(self, crm):
            pass

    record = load_plugins([object_plugin("forgetful", Forgetful())]).records["forgetful"]
    assert record.state == "enabled" and record.hooks == ("crm_shutdown",)
    assert len(record.warnings) == 1
    assert "crm_startup is named like a hook but not marked @hookimpl" in record.warnings[0]


# -- the app: names that are not installed, and its log -------------------------


def test_a_misspelt_plugin_is_an_error_with_a_did_you_mean(fake_site, tmp_path):
    fake_site.add("notes", "")
    with pytest.raises(PluginNotInstalledError) as caught:
        CRM(database=f"sqlite:///{tmp_path / 'x.db'}", plugins=["notes", "nots"])
    assert isinstance(caught.value, CRMError)
    message = str(caught.value)
    assert "'nots'" in message and "did you mean 'notes'?" in message
    assert "CRM(plugins=[...])" in message


def test_a_misspelt_plugin_in_the_config_file_is_the_same_error(fake_site, tmp_path):
    fake_site.add("notes", "")
    path = tmp_path / "crm.toml"
    path.write_text('[crm]\ndatabase = "sqlite:///x.db"\n[plugins]\nenabled = ["notes", "notse"]\n', encoding="utf-8")
    with pytest.raises(PluginNotInstalledError, match="'notse' is enabled in the config file .*did you mean 'notes'"):
        CRM.from_config(path, strict=False)


def test_each_app_logs_the_plugins_it_skips_under_its_own_name(fake_site, tmp_path, caplog):
    fake_site.add("broken", "raise RuntimeError('kaboom')")
    caplog.set_level(logging.INFO, logger="crm")
    with (
        CRM(database=f"sqlite:///{tmp_path / 'a.db'}", plugins=["broken"], name="a"),
        CRM(database=f"sqlite:///{tmp_path / 'b.db'}", plugins=["broken"], name="b"),
    ):
        pass
    skipped = [(r.name, r.getMessage()) for r in caplog.records if "kaboom" in r.getMessage()]
    assert [name for name, _ in skipped] == ["crm.app.a", "crm.app.b"]
    assert "plugin 'broken'" in skipped[0][1]

    with CRM(database=f"sqlite:///{tmp_path / 'c.db'}") as one, CRM(database=f"sqlite:///{tmp_path / 'd.db'}") as two:
        assert one.log.name != two.log.name and one.log.name.startswith("crm.app.")


# -- the kernel files keep their functions short ---------------------------------

KERNEL_FILES = [
    *sorted((REPO / "crm_core" / "plugins").glob("*.py")),
    *(
        REPO / "crm_core" / name
        for name in ("app.py", "doctor.py", "hooks.py", "testing.py", "cli/kernel.py", "cli/main.py")
    ),
]


@pytest.mark.parametrize("path", KERNEL_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_function_of_the_plugin_loading_kernel_is_over_80_lines(path):
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_packaging_is_a_declared_dependency_of_the_kernel():
    import importlib.metadata

    names = [req.split(";")[0] for req in importlib.metadata.requires("crm-core") or ()]
    assert any(name.startswith("packaging") for name in names)
