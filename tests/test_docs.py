"""The documentation is held to the code, in both directions.

Each check reads the real code (the contract, the click tree with every
installed plugin enabled, the attrs classes behind the configuration, the
event registry) and the Markdown in ``docs/``:

* every hook of ``crm_hookspecs.specs`` has a ``### `crm_<hook>``` heading in
  ``docs/plugins.md``, every such heading names a hook, and every hook is
  named in at least one test;
* every CLI command path has a heading `` `crm x y` `` somewhere in
  ``docs/``, and every such heading names a command that exists;
* every configuration key is the first cell of a table row
  (``| `crm.mail.transport` | …``), and every such row names a real key;
* every event type has a ``### `Name``` heading in ``docs/events.md`` and
  every such heading names a registered type;
* ``mkdocs build --strict`` succeeds.

A failure lists each missing or stale item and says where to fix it.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
THIS_FILE = Path(__file__).resolve()

# A heading whose text is one backticked span: "### `crm events list`".
HEADING = re.compile(r"^(?P<level>#{1,6})[ \t]+`(?P<name>[^`]+)`[ \t]*#*[ \t]*$", re.MULTILINE)
# A table row whose first cell is a backticked dotted configuration key.
KEY_ROW = re.compile(r"^[ \t]*\|[ \t]*`(?P<key>(?:crm|plugins)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`[ \t]*\|")
# The header of a configuration table: its first cell says "key" (or "setting").
KEY_TABLE_HEADERS = {"key", "setting", "configuration key", "config key"}
FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)

# Event classes of the contract that are not registered types but are
# documented on the events page: the base class and the stand-in for types
# nobody registered.
EVENT_CLASSES = {"Event", "UnknownEvent"}


# -- reading the docs --------------------------------------------------------


def _markdown_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _text_without_code(path: Path) -> str:
    """The page with fenced code blocks blanked (their lines kept, for line numbers)."""
    text = path.read_text(encoding="utf-8")
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def _headings(path: Path, level: int | None = None) -> Iterator[tuple[str, str]]:
    """``(name, where)`` for each one-backticked-span heading of ``path``."""
    text = _text_without_code(path)
    for match in HEADING.finditer(text):
        if level is None or len(match.group("level")) == level:
            yield match.group("name").strip(), _where(path, _line(text, match.start()))


@attrs.frozen
class KeyRow:
    key: str
    where: str
    #: in a table whose header's first cell is "key": a claim that the key exists
    in_key_table: bool


def _key_rows() -> Iterator[KeyRow]:
    """Table rows whose first cell is a backticked ``crm.…`` or ``plugins.…`` name."""
    for path in _markdown_files():
        header: str | None = None  # first cell of the current table's header row
        for number, line in enumerate(_text_without_code(path).splitlines(), start=1):
            if not line.lstrip().startswith("|"):
                header = None
                continue
            if header is None:
                header = line.strip().strip("|").split("|")[0].strip().strip("`*").lower()
                continue
            match = KEY_ROW.match(line)
            if match:
                yield KeyRow(match.group("key"), _where(path, number), header in KEY_TABLE_HEADERS)


def _report(title: str, problems: list[str]) -> str:
    return title + "\n" + "\n".join(f"  - {p}" for p in problems)


def _fail(message: str) -> None:
    __tracebackhide__ = True
    # the message says everything; a traceback and a list repr would only repeat it
    pytest.fail(message, pytrace=False)


# -- reading the code --------------------------------------------------------


@attrs.frozen
class InstalledPlugins:
    """Every installed plugin, enabled at once, as the CLI and the app see them."""

    names: tuple[str, ...]
    failures: tuple[str, ...]
    hooks: Any


@pytest.fixture(scope="module")
def installed() -> InstalledPlugins:
    from crm_core.hooks import Hooks
    from crm_core.plugins import discover, load_plugins

    found = discover()
    # not strict: one broken plugin is reported by its own test below, and
    # the others' docs are still checked
    loaded = load_plugins(sorted(found), installed=found, enabled_source="tests/test_docs.py")
    failures = tuple(f"{record.name}: {record.error}" for record in loaded.records.values() if record.error is not None)
    return InstalledPlugins(names=tuple(loaded.order), failures=failures, hooks=Hooks(loaded.pm, loaded.order))


def _failure_note(installed: InstalledPlugins) -> str:
    if not installed.failures:
        return ""
    return "\n(some installed plugins failed to load, so their part is missing: " + "; ".join(installed.failures) + ")"


def test_every_installed_plugin_loads(installed: InstalledPlugins) -> None:
    """The other checks see a plugin's commands, keys and events only if it loads."""
    if installed.failures:
        _fail(
            _report(
                "installed plugins that fail to load (their commands, settings and events cannot be "
                "checked against the docs; fix the plugin or uninstall it):",
                list(installed.failures),
            ),
        )


# -- 1. hooks ----------------------------------------------------------------


def _hook_names() -> set[str]:
    from crm_hookspecs import specs

    return {
        name for name, value in vars(specs).items() if name.startswith("crm_") and isinstance(value, types.FunctionType)
    }


def test_every_hook_is_documented_in_plugins_md() -> None:
    hooks = _hook_names()
    page = DOCS / "plugins.md"
    if not page.exists():
        _fail("docs/plugins.md is missing: it must document every hook of crm_hookspecs/specs.py")
    documented: dict[str, str] = {}
    for name, where in _headings(page, level=3):
        if name.startswith("crm_"):
            documented.setdefault(name, where)
    problems = [
        f"hook {name} has no heading: add '### `{name}`' to docs/plugins.md (when it is called, "
        "its arguments, its result and how results combine, an example)"
        for name in sorted(hooks - set(documented))
    ]
    problems += [
        f"{documented[name]}: heading '### `{name}`' names no hook of crm_hookspecs/specs.py; remove it or fix the name"
        for name in sorted(set(documented) - hooks)
    ]
    if problems:
        _fail(_report("docs/plugins.md and crm_hookspecs/specs.py disagree:", problems))


def _test_files() -> list[Path]:
    files = list((ROOT / "tests").rglob("*.py")) + list((ROOT / "plugins").glob("*/tests/**/*.py"))
    return sorted(p for p in files if p.resolve() != THIS_FILE)


def test_every_hook_is_named_in_a_test() -> None:
    texts = {path: path.read_text(encoding="utf-8") for path in _test_files()}
    untested = [
        name for name in sorted(_hook_names()) if not any(re.search(rf"\b{name}\b", text) for text in texts.values())
    ]
    if untested:
        _fail(
            _report(
                "hooks that no test names (write a test under tests/ or plugins/<name>/tests/ that "
                "implements or calls the hook, e.g. with the crm_plugin fixture):",
                untested,
            ),
        )


# -- 2. CLI commands ---------------------------------------------------------


@attrs.frozen
class CommandInfo:
    path: str
    owner: str


@attrs.frozen
class CommandTree:
    """Every command path of ``crm``, and the commands that could not be loaded."""

    commands: dict[str, CommandInfo]
    #: command path -> why its click object could not be loaded
    broken: dict[str, str]


def _walk(path: str, command: click.Command, owner: str, tree: CommandTree) -> None:
    from crm_core.cli.main import LazyCommand

    tree.commands[path] = CommandInfo(path, owner)
    try:
        if isinstance(command, LazyCommand):
            command = command.load()
        if not isinstance(command, click.Group):
            return
        ctx = click.Context(command, info_name=path.rsplit(" ", 1)[-1])
        subcommands = [(name, command.get_command(ctx, name)) for name in command.list_commands(ctx)]
    except Exception as exc:  # a command module that does not import: reported, the rest still checked
        tree.broken[path] = f"{type(exc).__name__}: {exc}"
        return
    for name, sub in subcommands:
        if sub is not None and not sub.hidden:
            _walk(f"{path} {name}", sub, owner, tree)


@pytest.fixture(scope="module")
def cli_tree(installed: InstalledPlugins) -> CommandTree:
    """``crm`` and its subcommands, kernel ones first, then each plugin's (first wins, as in the CLI)."""
    from crm_core.cli.main import KERNEL_COMMANDS, LazyCommand

    tree = CommandTree(commands={}, broken={})
    tree.commands["crm"] = CommandInfo("crm", "crm")
    top: dict[str, tuple[click.Command, str]] = {}
    for name, (target, help_text) in KERNEL_COMMANDS.items():
        top[name] = (LazyCommand(name, target, help_text), "crm")
    for owner, spec in installed.hooks.cli_commands():
        top.setdefault(spec.name, (LazyCommand(spec.name, spec.target, spec.help, owner), owner))
    for name, (command, owner) in top.items():
        _walk(f"crm {name}", command, owner, tree)
    return tree


# kernel commands documented on a page of their own rather than in docs/cli.md
KERNEL_COMMAND_PAGES = {"mail": "docs/mail.md", "worker": "docs/worker.md"}


def _where_to_document(info: CommandInfo) -> str:
    top = info.path.split()[1] if " " in info.path else ""
    if info.owner != "crm":
        return f"docs/plugins/{info.owner}.md"
    if top in KERNEL_COMMAND_PAGES:
        return KERNEL_COMMAND_PAGES[top]
    if top and (DOCS / f"{top}.md").exists():
        return f"docs/{top}.md"
    return "docs/cli.md"


def _command_headings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in _markdown_files():
        for name, where in _headings(path):
            if name == "crm" or name.startswith("crm "):
                out.setdefault(" ".join(name.split()), []).append(where)
    return out


def test_every_command_loads(cli_tree: CommandTree) -> None:
    """A command whose module does not import cannot show its subcommands to the other checks."""
    if cli_tree.broken:
        _fail(
            _report(
                "commands that cannot be loaded (their subcommands cannot be checked against the docs):",
                [f"`{path}`: {error}" for path, error in sorted(cli_tree.broken.items())],
            )
        )


def test_every_command_is_documented(cli_tree: CommandTree, installed: InstalledPlugins) -> None:
    documented = _command_headings()
    missing = [
        f"`{path}` has no heading: add '### `{path}`' with its options and an example to {_where_to_document(info)}"
        for path, info in sorted(cli_tree.commands.items())
        if path not in documented
    ]
    if missing:
        _fail(_report("CLI commands without documentation:", missing) + _failure_note(installed))


def test_every_documented_command_exists(cli_tree: CommandTree, installed: InstalledPlugins) -> None:
    def unknowable(name: str) -> bool:  # under a command that did not load: test_every_command_loads says so
        return any(name.startswith(broken + " ") for broken in cli_tree.broken)

    stale = [
        f"{where}: heading '`{name}`' names no command (the commands are built from the kernel and "
        "every installed plugin); remove it, or fix it to the command's full path"
        for name, places in sorted(_command_headings().items())
        if name not in cli_tree.commands and not unknowable(name)
        for where in places
    ]
    if stale:
        _fail(_report("documented commands that do not exist:", stale) + _failure_note(installed))


# -- 3. configuration keys -----------------------------------------------------


def _nested_attrs_class(tp: Any) -> type | None:
    """The attrs class behind a field type (``Settings``, ``Settings | None``), if any.

    A list of tables (``list[Rule]``, TOML's ``[[plugins.tasks.rules]]``)
    counts as its element class: its keys are documented as
    ``plugins.tasks.rules.<key>``.
    """
    if isinstance(tp, type) and attrs.has(tp):
        return tp
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return _nested_attrs_class(args[0])
    if typing.get_origin(tp) in (list, tuple) and len([a for a in args if a is not Ellipsis]) == 1:
        return _nested_attrs_class(args[0])
    return None


def _field_types(cls: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # names only importable under TYPE_CHECKING: use what attrs has
        hints = {}
    return {f.name: hints.get(f.name, f.type) for f in attrs.fields(cls)}


def _keys_of(cls: type, prefix: str) -> Iterator[tuple[str, bool]]:
    """``(dotted key, is_leaf)`` for every field of ``cls``, nested classes recursively."""
    for name, tp in _field_types(cls).items():
        key = f"{prefix}.{name}"
        nested = _nested_attrs_class(tp)
        if nested is None:
            yield key, True
        else:
            yield key, False
            yield from _keys_of(nested, key)


@attrs.frozen
class ConfigKeys:
    #: keys that must be documented: dotted key -> where it comes from
    leaves: dict[str, str]
    #: tables (``crm.mail``), which may be documented but need not be
    tables: frozenset[str]


def _config_keys(installed: InstalledPlugins) -> ConfigKeys:
    from crm_core.config import CoreSettings

    leaves: dict[str, str] = {"plugins.enabled": "crm_core.config.load_config"}
    tables: set[str] = set()
    sources = [("crm", CoreSettings, "crm_core.config.CoreSettings", "docs/configuration.md")]
    for plugin, cls in installed.hooks.config_sections().items():
        sources.append((f"plugins.{plugin}", cls, f"{cls.__module__}.{cls.__qualname__}", f"docs/plugins/{plugin}.md"))
    for prefix, cls, origin, page in sources:
        for key, leaf in _keys_of(cls, prefix):
            if leaf:
                leaves[key] = f"{origin} (document it in {_page_for_key(key, page)})"
            else:
                tables.add(key)
    return ConfigKeys(leaves=leaves, tables=frozenset(tables))


def _page_for_key(key: str, default: str) -> str:
    parts = key.split(".")
    if parts[0] == "crm" and len(parts) > 2 and (DOCS / f"{parts[1]}.md").exists():
        return f"docs/{parts[1]}.md or docs/configuration.md"
    return default


def test_every_config_key_is_documented(installed: InstalledPlugins) -> None:
    keys = _config_keys(installed)
    documented = {row.key for row in _key_rows()}
    missing = [
        f"`{key}` from {origin}: add a row '| `{key}` | type | default | what it does |' to a table "
        "headed '| key | type | default | what it does |'"
        for key, origin in sorted(keys.leaves.items())
        if key not in documented
    ]
    if missing:
        _fail(_report("configuration keys without documentation:", missing) + _failure_note(installed))


def test_every_documented_config_key_exists(installed: InstalledPlugins) -> None:
    keys = _config_keys(installed)
    known = set(keys.leaves) | keys.tables
    # Only tables headed "key" claim that their rows are keys: a table of the
    # worker's jobs may well list `crm.events`.
    stale = [
        f"{row.where}: `{row.key}` is not a configuration key (keys come from crm_core.config.CoreSettings, "
        "plugins.enabled, and each plugin's crm_config_section class); remove the row or fix the key"
        for row in _key_rows()
        if row.in_key_table and row.key not in known
    ]
    if stale:
        _fail(_report("documented configuration keys that do not exist:", stale) + _failure_note(installed))


# -- 4. event types ------------------------------------------------------------


def _event_types(installed: InstalledPlugins) -> set[str]:
    # a plugin registers its own event types by the time an app that enables
    # it is built (from its entry module, or from crm_startup, as campaigns does
    # to keep `crm --help` fast): build one, with no database behind it
    from crm_core.app import CRM
    from crm_hookspecs.events import registered_types

    CRM(database="sqlite:///:memory:", plugins=list(installed.names), connect=False).close()
    return set(registered_types()) | EVENT_CLASSES


def test_every_event_type_is_documented(installed: InstalledPlugins) -> None:
    page = DOCS / "events.md"
    if not page.exists():
        _fail("docs/events.md is missing: it must document every event type")
    types_ = _event_types(installed)
    documented: dict[str, str] = {}
    for name, where in _headings(page, level=3):
        documented.setdefault(name, where)
    problems = [
        f"event type {name} has no heading: add '### `{name}`' with its fields to docs/events.md"
        for name in sorted(types_ - set(documented))
    ]
    problems += [
        f"{documented[name]}: heading '### `{name}`' names no registered event type; remove it or "
        "fix the name (level-3 headings of docs/events.md are reserved for event types)"
        for name in sorted(set(documented) - types_)
    ]
    if problems:
        _fail(
            _report("docs/events.md and the event registry disagree:", problems) + _failure_note(installed),
        )


# -- 5. the build --------------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]' to check the docs build")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        _fail(
            "`mkdocs build --strict` failed (a broken link, a page missing from the nav in mkdocs.yml, "
            f"or a bad anchor); run `make docs` to see it:\n{result.stdout}{result.stderr}",
        )


def _defaults(cls: type, prefix: str) -> Iterator[tuple[str, Any]]:
    """``(dotted key, default)`` for every leaf field of ``cls`` that has a plain default."""
    for field in attrs.fields(cls):
        key = f"{prefix}.{field.name}"
        nested = _nested_attrs_class(_field_types(cls)[field.name])
        if nested is not None:
            yield from _defaults(nested, key)
            continue
        default = field.default
        if default is attrs.NOTHING:
            continue
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            if default.takes_self:
                continue
            default = default.factory()
        yield key, default


def _documented_default(cell: str) -> tuple[bool, Any]:
    """The value a docs table's default cell states, if it states one plainly."""
    text = cell.strip()
    if text.lower() in ("not set", "none", "unset", "—", "-"):
        return True, None
    match = re.fullmatch(r"`([^`]*)`", text)
    if not match:
        return False, None  # prose ("every installed plugin"): not checked
    import tomllib

    try:
        return True, tomllib.loads(f"v = {match.group(1)}")["v"]
    except tomllib.TOMLDecodeError:
        return False, None


def _same(documented: Any, actual: Any) -> bool:
    if isinstance(actual, (tuple, list, set, frozenset)):
        return isinstance(documented, list) and sorted(map(repr, documented)) == sorted(map(repr, actual))
    if isinstance(actual, bool) or isinstance(documented, bool):
        return documented is actual
    if isinstance(actual, (int, float)) and isinstance(documented, (int, float)):
        return float(actual) == float(documented)
    return documented == actual


def test_documented_defaults_match_the_code(installed: InstalledPlugins) -> None:
    """A default written in a docs table (`| key | type | default | … |`) is the code's default."""
    from crm_core.config import CoreSettings

    actual: dict[str, Any] = dict(_defaults(CoreSettings, "crm"))
    for plugin, cls in installed.hooks.config_sections().items():
        actual.update(_defaults(cls, f"plugins.{plugin}"))
    wrong = []
    checked = 0
    for path in _markdown_files():
        columns: list[str] | None = None
        for number, line in enumerate(_text_without_code(path).splitlines(), start=1):
            if not line.lstrip().startswith("|"):
                columns = None
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if columns is None:
                columns = [c.strip("`*").lower() for c in cells]
                continue
            if "default" not in columns or columns[0] not in KEY_TABLE_HEADERS:
                continue
            match = KEY_ROW.match(line)
            if not match or match.group("key") not in actual or len(cells) <= columns.index("default"):
                continue
            stated, value = _documented_default(cells[columns.index("default")])
            key = match.group("key")
            checked += int(stated)
            if stated and not _same(value, actual[key]):
                wrong.append(
                    f"{_where(path, number)}: `{key}` is documented with default {value!r}, the code has {actual[key]!r}"
                )
    if wrong:
        _fail(_report("documented defaults that disagree with the code:", wrong))
    # the kernel pages alone state some thirty defaults: far fewer means the table parsing broke
    assert checked >= 30, (
        f"only {checked} documented defaults were read; is the table layout still | key | type | default | … |?"
    )
