"""The contract declares everything plugins use of each other (issue: plugins using undeclared API).

Read from the source, not run: every attribute a plugin reads on another
plugin's API object (``crm.plugin("contacts").search``, or through a name
bound to it) must be a member of a protocol that plugin offers
(``crm_hookspecs.apis.PROTOCOLS``); no plugin imports another plugin's
package, the kernel's private tables (``crm_core.models``) or a private
name of the kernel.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from crm_core.errors import PluginError
from crm_hookspecs.apis import PROTOCOLS, ContactsAPI

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
PACKAGES = {d.name: f"crm_{d.name}" for d in PLUGINS.iterdir() if (d / "pyproject.toml").is_file()}


def _sources(plugin: str) -> list[Path]:
    return sorted((PLUGINS / plugin / PACKAGES[plugin]).rglob("*.py"))


def _plugin_name(call: ast.AST) -> str | None:
    """``"contacts"`` for a call ``<anything>.plugin("contacts", ...)``."""
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "plugin"
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    ):
        return call.args[0].value
    return None


def uses(tree: ast.AST) -> set[tuple[str, str]]:
    """``(plugin, attribute)`` read on API objects, directly or through a local name bound to one."""
    found: set[tuple[str, str]] = set()
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in scopes:
        bound: dict[str, str] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and (target := _plugin_name(node.value)):
                bound.update({t.id: target for t in node.targets if isinstance(t, ast.Name)})
        for node in ast.walk(scope):
            if not isinstance(node, ast.Attribute):
                continue
            if target := _plugin_name(node.value):
                found.add((target, node.attr))
            elif isinstance(node.value, ast.Name) and node.value.id in bound:
                found.add((bound[node.value.id], node.attr))
    return found


def declared(plugin: str) -> set[str]:
    members: set[str] = set()
    for protocol in PROTOCOLS.get(plugin, ()):
        members |= {
            name for cls in protocol.__mro__ if cls is not object for name in vars(cls) if not name.startswith("_")
        }
    return members


@pytest.mark.parametrize("plugin", sorted(PACKAGES))
def test_a_plugin_uses_only_what_the_contract_declares_of_the_others(plugin):
    undeclared = []
    for path in _sources(plugin):
        for target, attribute in uses(ast.parse(path.read_text(encoding="utf-8"))):
            if target != plugin and attribute not in declared(target):
                undeclared.append(f"{path.relative_to(PLUGINS)}: crm.plugin({target!r}).{attribute}")
    assert undeclared == [], "declare these in a protocol of crm_hookspecs.apis (PROTOCOLS), or stop using them"


@pytest.mark.parametrize("plugin", sorted(PACKAGES))
def test_no_plugin_imports_another_plugin_or_the_kernels_private_names(plugin):
    others = {package for name, package in PACKAGES.items() if name != plugin}
    wrong = []
    for path in _sources(plugin):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [(a.name, None) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [(node.module, a.name) for a in node.names]
            else:
                continue
            for module, name in modules:
                top = module.split(".")[0]
                where = f"{path.relative_to(PLUGINS)}:{node.lineno}"
                if top in others:
                    wrong.append(f"{where}: imports {module} (another plugin: use crm.plugin() and the contract)")
                if top == "crm_core" and (
                    module == "crm_core.models" or any(p.startswith("_") for p in module.split("."))
                ):
                    wrong.append(f"{where}: imports {module} (the kernel's private tables or modules)")
                if top == "crm_core" and name and name.startswith("_"):
                    wrong.append(f"{where}: imports {module}.{name} (a private name of the kernel)")
    assert wrong == []


def test_every_shipped_plugin_offers_the_protocols_the_contract_says(crm_factory):
    app = crm_factory(plugins=sorted(PROTOCOLS), migrate=False)
    for name, protocols in PROTOCOLS.items():
        for protocol in protocols:
            assert app.plugin(name, protocol) is app.plugin(name)


def test_a_plugin_object_lacking_a_protocols_method_is_named(crm_factory, crm_plugin):
    class Partial:
        def card(self, contact_id):
            raise NotImplementedError

    app = crm_factory(plugins=[crm_plugin("contacts", crm_plugin_api=lambda crm: Partial())], migrate=False)
    with pytest.raises(
        PluginError,
        match=r"does not offer ContactsAPI: its API object lacks audience, audience_report, cards, email_addresses, reporting_tables, search",
    ):
        app.plugin("contacts", ContactsAPI)


def test_the_usage_reader_sees_direct_and_bound_uses():
    source = """
def f(crm):
    crm.plugin("contacts").card(1)
    lists = crm.plugin("contacts")
    lists.resubscribe(1, "x")
    g.crm.plugin("surveys").form("t")
"""
    assert uses(ast.parse(source)) == {("contacts", "card"), ("contacts", "resubscribe"), ("surveys", "form")}
