"""docs/contract.md is rendered from the contract's code and kept current; the plugin guide's first steps work."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _renderer():
    spec = importlib.util.spec_from_file_location("contract_docs", REPO / ".ci" / "contract_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_contract_page_is_rendered_from_the_code_and_current():
    expected = _renderer().render()
    actual = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/contract.md is stale: run .venv/bin/python .ci/contract_docs.py"


def test_the_contract_page_names_every_record_and_protocol_method():
    from crm_hookspecs import apis, records

    page = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    for module in (apis, records):
        for name in module.__all__:
            assert f"### `{name}`" in page, name
    for method in ("card", "cards", "audience", "timeline", "contact_as_of", "submit", "unsubscribe_url"):
        assert f"#### `{method}(" in page, method
    assert "contract.md" in (REPO / "mkdocs.yml").read_text(encoding="utf-8")


def _five_minute_guide() -> str:
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    return text.split("## A plugin in five minutes", 1)[1].split("\n## ", 1)[0]


def test_the_five_minute_guide_runs_no_migrate_after_init():
    # `crm init` enables every installed plugin and applies their migrations:
    # a `crm migrate` after it in the same steps has nothing to do
    guide = _five_minute_guide()
    assert "crm init" in guide, "the guide should say how a new project gets the plugin (crm init)"
    for block in re.findall(r"```sh\n(.*?)```", guide, re.S):
        commands = [line.split("#")[0].strip() for line in block.splitlines()]
        if "crm init" in commands:
            assert "crm migrate" not in commands[commands.index("crm init") :], block
