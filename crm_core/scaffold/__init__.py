"""``crm plugin new NAME``: write a working third-party plugin distribution.

The plugin follows the one plugin layout of ``docs/plugins.md``: hooks in
``plugin.py``, a ``<Name>API`` facade composed of services, its permissions
in ``permissions.py``, personal data in ``personal.py``, a ``cli/`` package,
migrations, its pages in the staff web app (``desk/``, used when crm-desk is
installed), and tests that run as users. The files are the templates in
``template/``.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from crm_core.errors import ValidationError

__all__ = ["class_prefix", "files", "scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

#: the files of a new plugin: ``template/<path>.tmpl``, with ``NAME`` in a path and
#: ``$name``, ``$dist``, ``$Name`` (``GiftCards``), ``$Title`` (``Gift cards``) in a text replaced (``string.Template``)
TEMPLATE = Path(__file__).parent / "template"


def files(name: str) -> dict[str, str]:
    """The files of a new plugin ``name``: their paths inside ``crm-<dist>/`` and their text."""
    title = name.replace("_", " ").capitalize()
    values = {"name": name, "dist": name.replace("_", "-"), "Name": class_prefix(name), "Title": title}
    out = {}
    for path in sorted(TEMPLATE.rglob("*.tmpl")):
        rel = path.relative_to(TEMPLATE).as_posix().removesuffix(".tmpl").replace("NAME", name)
        out[rel] = string.Template(path.read_text(encoding="utf-8")).substitute(values)
    return out


def class_prefix(name: str) -> str:
    """``GiftCards`` for ``gift_cards``: the start of the API class's name (``GiftCardsAPI``)."""
    return "".join(part.capitalize() for part in name.split("_"))


def scaffold(name: str, directory: Path) -> Path:
    """Write ``crm-<name>/`` under ``directory``; return its path."""
    from crm_core.cli.main import KERNEL_COMMANDS

    if not _NAME.match(name):
        raise ValidationError(
            f"plugin name {name!r} is not valid: use 2 to 40 lower-case letters, digits and _, starting with a letter"
        )
    if name in KERNEL_COMMANDS or name == "crm":
        raise ValidationError(f"plugin name {name!r} is taken by a kernel command; choose another")
    from crm_core.plugins import discover

    installed = discover().get(name)
    if installed is not None:
        raise ValidationError(
            f"a plugin called {name!r} is already installed ({installed.dist_name or installed.target}); "
            "choose another name"
        )
    dist = name.replace("_", "-")
    root = directory / f"crm-{dist}"
    if root.exists():
        raise ValidationError(f"{root} already exists; choose another name or --dir")
    for rel, text in files(name).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
