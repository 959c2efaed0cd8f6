"""Shared helpers for the kernel's tests.

``fake_site`` writes fake installed plugin distributions (a ``*.dist-info``
folder with METADATA and entry_points.txt, next to the plugin's package)
into a folder on ``sys.path``, so that discovery, loading and the CLI see
them exactly as they would see a pip-installed plugin. ``write_migrations``
writes a migrations folder for a plugin handed over as an object.

The fixtures of ``crm_core.testing`` (``crm_factory``, ``crm_db_url``,
``crm_cli``…) come from the kernel's pytest plugin.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: the frozen third-party plugin's own tests run installed, from tests/test_compat_1_0.py
collect_ignore = ["compat"]
VENV_BIN = Path(sys.executable).parent


class FakeSite:
    """A folder on ``sys.path`` holding fake installed plugin distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.packages: list[str] = []

    def add(
        self,
        name: str,
        source: str = "",
        *,
        version: str = "1.0.0",
        contract: str | None = ">=1.0,<2",
        requires: Sequence[str] = (),
        files: Mapping[str, str] | None = None,
        dist: str | None = None,
        package: str | None = None,
    ) -> str:
        """Install plugin ``name``; return its package name.

        ``source`` is the entry module (``<package>.plugin``); ``requires``
        are extra ``Requires-Dist`` lines (``"crm-beta>=1.0"``); ``files``
        are more files of the package (``{"migrations/0001_x.py": "..."}``).
        """
        dist = dist or f"crm-{name.replace('_', '-')}"
        package = package or f"kt_{name}"
        pkg = self.root / package
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text("", encoding="utf-8")
        (pkg / "plugin.py").write_text(textwrap.dedent(source), encoding="utf-8")
        for rel, text in (files or {}).items():
            path = pkg / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        stem = dist.replace("-", "_")
        for old in self.root.glob(f"{stem}-*.dist-info"):  # an upgrade replaces the old version
            shutil.rmtree(old)
        info = self.root / f"{stem}-{version}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {dist}", f"Version: {version}"]
        if contract is not None:
            lines.append(f"Requires-Dist: crm-hookspecs{contract}")
        lines += [f"Requires-Dist: {r}" for r in requires]
        lines.append('Requires-Dist: pytest>=8; extra == "test"')
        (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[crm.plugins]\n{name} = {package}.plugin\n", encoding="utf-8")
        (info / "top_level.txt").write_text(package + "\n", encoding="utf-8")
        self.packages.append(package)
        importlib.invalidate_caches()
        return package

    def remove(self, name: str, dist: str | None = None) -> None:
        """Uninstall plugin ``name``: its metadata goes, as with pip uninstall."""
        stem = (dist or f"crm-{name.replace('_', '-')}").replace("-", "_")
        for old in self.root.glob(f"{stem}-*.dist-info"):
            shutil.rmtree(old)
        importlib.invalidate_caches()

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a subprocess that sees these plugins."""
        env = dict(os.environ)
        env.pop("CRM_CONFIG", None)
        env.pop("CRM_PLUGINS", None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.root), env.get("PYTHONPATH", "")) if p)
        env.update(extra)
        return env

    def forget_modules(self) -> None:
        for module in list(sys.modules):
            if module.split(".")[0] in self.packages:
                del sys.modules[module]


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("CRM_PLUGINS", raising=False)
    monkeypatch.delenv("CRM_CONFIG", raising=False)
    site = FakeSite(root)
    yield site
    site.forget_modules()
    importlib.invalidate_caches()


def write_migrations(folder: Path, migrations: Mapping[str, str]) -> Path:
    """Write ``{"0001_initial": "source"}`` as a migrations folder; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in migrations.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return folder


#: a migration creating ``<prefix>_item`` (id, name)
ITEM_TABLE = """
import peewee


def up(migrator, db):
    class Item(peewee.Model):
        name = peewee.CharField(max_length=100)

        class Meta:
            database = db
            table_name = "{prefix}_item"

    db.create_tables([Item])
"""


class Kit:
    """What the tests share besides fixtures (test modules cannot import each other)."""

    REPO = REPO
    VENV_BIN = VENV_BIN
    ITEM_TABLE = ITEM_TABLE
    write_migrations = staticmethod(write_migrations)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
