"""crm plugin new: a plugin distribution that installs with pip and works (crm_core.scaffold)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_core.errors import ValidationError
from crm_core.scaffold import scaffold
from crm_core.testing import configured_backends

#: the files `crm plugin new loyalty` writes: the one plugin layout of docs/plugins.md
LAYOUT = {
    "pyproject.toml",
    "README.md",
    "crm_loyalty/__init__.py",
    "crm_loyalty/plugin.py",
    "crm_loyalty/api.py",
    "crm_loyalty/notebook.py",
    "crm_loyalty/permissions.py",
    "crm_loyalty/personal.py",
    "crm_loyalty/models.py",
    "crm_loyalty/cli/__init__.py",
    "crm_loyalty/cli/notes.py",
    "crm_loyalty/migrations/0001_initial.py",
    "crm_loyalty/desk/__init__.py",
    "crm_loyalty/desk/views.py",
    "crm_loyalty/desk/templates/notes.html",
    "tests/conftest.py",
    "tests/test_loyalty.py",
    "tests/test_permissions.py",
    "tests/test_desk.py",
}
#: the tests the new plugin comes with, per backend (parametrized ones counted once per case)
GENERATED_TESTS = 6 + (1 + 5 + 2 + 3) + 3
#: of which the desk pages' tests (tests/test_desk.py), skipped without crm-desk
DESK_TESTS = 3


def run(args, env, cwd, timeout=120):
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.mark.slow
def test_a_new_plugin_installs_lists_migrates_runs_and_tests(crm_cli, tmp_path, fake_site):
    made = crm_cli.invoke(["plugin", "new", "loyalty", "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    root = tmp_path / "crm-loyalty"
    assert made.output.splitlines() == [f"created {root}", f"next: pip install -e {root} && crm plugins"]
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == LAYOUT

    site = tmp_path / "installed"
    python = sys.executable
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_PLUGINS", "CRM_CONFIG", "PYTHONPATH")}
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root),
        ],
        env,
        tmp_path,
        timeout=300,
    )
    env["PYTHONPATH"] = str(site)
    crm = str(Path(python).parent / "crm")
    work = tmp_path / "work"
    work.mkdir()

    listed = run([crm, "plugins", "--format", "json"], {**env, "CRM_PLUGINS": "loyalty"}, work)
    [row] = [r for r in json.loads(listed.stdout) if r["name"] == "loyalty"]
    assert row["state"] == "enabled" and row["version"] == "0.1.0" and row["error"] == ""
    assert row["hooks"] == [
        "crm_cli_commands",
        "crm_contacts_merged",
        "crm_contacts_unmerged",
        "crm_desk_pages",
        "crm_erase_personal_data",
        "crm_export_personal_data",
        "crm_permissions",
        "crm_plugin_api",
        "crm_schema",
    ]
    assert ">=1.4" in row["contract"]  # crm_hookspecs.commands came with contract 1.4

    run([crm, "init", "--plugins", "loyalty"], env, work)
    migrated = run([crm, "migrate"], env, work)
    assert "nothing to migrate" in migrated.stdout  # init already created the tables
    run([crm, "loyalty", "add", "double points in May", "--contact", "3"], env, work)
    notes = run([crm, "loyalty", "list", "--format", "csv"], env, work)
    assert notes.stdout.splitlines() == ["id,owner,contact_id,text", "1,,3,double points in May"]
    helped = run([crm, "--help"], env, work)
    assert "loyalty" in helped.stdout and "Keep loyalty notes." in helped.stdout
    roles = run([crm, "roles", "permissions", "--format", "csv"], env, work)
    assert {"loyalty.read", "loyalty.create", "loyalty.edit"} <= {
        line.split(",")[0] for line in roles.stdout.splitlines()
    }

    tested = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], env, root, timeout=300)
    # its tests, each on every backend this run is configured for (but the one that reads the API class)
    assert f"{(GENERATED_TESTS - 1) * len(configured_backends()) + 1} passed" in tested.stdout
    assert "failed" not in tested.stdout and "error" not in tested.stdout
    # without crm-desk the pages' tests are skipped, saying why, and the others pass
    without_desk = (
        "import sys; sys.modules['crm_desk'] = None; import pytest; "
        "sys.exit(pytest.main(['-q', '-rs', '-p', 'no:cacheprovider', 'tests']))"
    )
    skipped = run([python, "-c", without_desk], env, root, timeout=300)
    passed = (GENERATED_TESTS - DESK_TESTS - 1) * len(configured_backends()) + 1
    assert f"{passed} passed, 1 skipped" in skipped.stdout and "crm-desk is not installed" in skipped.stdout


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Loyalty", "is not valid: use 2 to 40 lower-case letters"),
        ("1club", "is not valid"),
        ("x", "is not valid"),
        ("with-dash", "is not valid"),
        ("a" * 41, "is not valid"),
        ("events", "is taken by a kernel command"),
        ("crm", "is taken by a kernel command"),
    ],
)
def test_bad_names_are_refused(crm_cli, tmp_path, name, expected):
    result = crm_cli.invoke(["plugin", "new", name, "--dir", str(tmp_path)])
    assert result.exit_code == ValidationError.exit_code
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_installed_plugins_name_is_refused(tmp_path, fake_site):
    fake_site.add("loyalty", "")
    with pytest.raises(ValidationError, match=r"a plugin called 'loyalty' is already installed \(crm-loyalty\)"):
        scaffold("loyalty", tmp_path / "out")


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "crm-loyalty").mkdir()
    (tmp_path / "crm-loyalty" / "mine.txt").write_text("keep")
    with pytest.raises(ValidationError, match="crm-loyalty already exists; choose another name or --dir"):
        scaffold("loyalty", tmp_path)
    assert (tmp_path / "crm-loyalty" / "mine.txt").read_text() == "keep"


def test_underscored_names_get_a_dashed_distribution(tmp_path):
    root = scaffold("gift_cards", tmp_path)
    assert root.name == "crm-gift-cards"
    text = (root / "pyproject.toml").read_text()
    assert 'name = "crm-gift-cards"' in text and 'gift_cards = "crm_gift_cards.plugin"' in text
    assert "gift_cards_note" in (root / "crm_gift_cards" / "models.py").read_text()
    assert "class GiftCardsAPI:" in (root / "crm_gift_cards" / "api.py").read_text()
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_the_layout_is_the_documented_one(tmp_path):
    root = scaffold("loyalty", tmp_path)
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == LAYOUT
    plugin = (root / "crm_loyalty" / "plugin.py").read_text()
    # the entry module holds hooks only: every top-level function is a hook implementation
    tree = ast.parse(plugin)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions and all(
        [d.id for d in f.decorator_list if isinstance(d, ast.Name)] == ["hookimpl"] for f in functions
    )
    assert {f.name for f in functions} >= {"crm_permissions", "crm_plugin_api", "crm_export_personal_data"}
    assert "self._notes = Notebook(crm)" in (root / "crm_loyalty" / "api.py").read_text()
    cli = (root / "crm_loyalty" / "cli" / "__init__.py").read_text()
    assert "group.add_command(command)" in cli
    assert 'owner_is="name"' in (root / "crm_loyalty" / "notebook.py").read_text()
    for name in ("loyalty.read", "loyalty.create", "loyalty.edit", "loyalty.note"):
        assert f'"{name}"' in (root / "crm_loyalty" / "permissions.py").read_text()
    assert "$" not in "".join(p.read_text() for p in root.rglob("*") if p.is_file())


def test_the_generated_code_passes_the_linter(tmp_path):
    root = scaffold("gift_cards", tmp_path)
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed (pip install -e '.[lint]')")
    for args in (
        ["check", "--isolated", "--select", "E,F,W,B,UP", "--ignore", "E501", "."],
        ["format", "--check", "."],
    ):
        result = subprocess.run([str(ruff), *args], capture_output=True, text=True, cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr
