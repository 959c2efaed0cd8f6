"""A test client for the desk's pages, for the desk's tests and for plugin authors who test their desk pages.

::

    from crm_desk.testing import DeskClient

    def test_my_page(crm):
        desk = DeskClient(crm)
        desk.sign_in("ana", "her password")
        assert desk.get("/loyalty/").status_code == 200
        desk.post("/loyalty/note", {"text": "hello"})  # carries the CSRF token of the last page
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["DeskClient", "check_catalogs"]


def check_catalogs(plugin: Path, translations: Path, languages: Sequence[str] = ("es",)) -> None:
    """Fail unless every text of a plugin's desk pages is translated in each language and the ``.mo`` is current.

    ``plugin`` is the folder holding the plugin's ``babel.cfg``; the texts are
    extracted from what it names (marked with ``_`` and ``N_``) and compared
    with ``translations/<lang>/LC_MESSAGES/messages.po``: a missing, empty or
    fuzzy entry, or a compiled catalog that says something else, fails with
    the command that fixes it. A plugin's test calls it::

        def test_the_spanish_catalog_is_complete():
            check_catalogs(PLUGIN, PLUGIN / "crm_loyalty" / "desk" / "translations")
    """
    import gettext

    from babel.messages.pofile import read_po

    with tempfile.TemporaryDirectory() as folder:
        pot = Path(folder) / "messages.pot"
        extract = [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-k", "N_"]
        subprocess.run([*extract, "-o", str(pot), "."], cwd=plugin, check=True)
        with pot.open("rb") as file:
            extracted = {m.id for m in read_po(file) if m.id}
    for language in languages:
        catalog = translations / language / "LC_MESSAGES"
        with (catalog / "messages.po").open("rb") as file:
            messages = {m.id: m for m in read_po(file) if m.id}
        missing = sorted(str(m) for m in extracted - set(messages))
        assert not missing, (
            f"{language}: not in the catalog: {missing[:5]}; run pybabel extract and update (see babel.cfg)"
        )
        untranslated = [str(k) for k, m in messages.items() if not m.string or m.fuzzy]
        assert not untranslated, f"{language}: untranslated or fuzzy: {untranslated[:5]}"
        with (catalog / "messages.mo").open("rb") as file:
            compiled = gettext.GNUTranslations(file)
        for message_id, message in messages.items():
            if isinstance(message_id, str):
                assert compiled.gettext(message_id) == message.string, (
                    f"{language}: the .mo is stale ({message_id!r}); run pybabel compile -d {translations}"
                )


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class DeskClient:
    """A Flask test client that signs in and posts forms with the CSRF token of the page it fetched."""

    def __init__(self, crm: Any, **options: Any) -> None:
        from crm_desk import create_app

        self.crm = crm
        self.app = create_app(crm, **options)
        self.client = self.app.test_client()
        self.page: Any = None

    # each method keeps the answer in ``page``; ``text`` is its body

    def get(self, url: str, **kwargs: Any) -> Any:
        self.page = self.client.get(url, **kwargs)
        return self.page

    @property
    def text(self) -> str:
        return self.page.get_data(as_text=True)

    def csrf(self) -> str:
        match = _CSRF.search(self.text) if self.page is not None else None
        if match:
            return match.group(1)
        with self.client.session_transaction() as session:
            return str(session.get("csrf_token", ""))

    def post(self, url: str, data: Any = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf()
        self.page = self.client.post(url, data=data, **kwargs)
        return self.page

    def sign_in(self, name: str, password: str, **extra: Any) -> Any:
        """Sign in through the form (the answer is the form's: a redirect, or the page with the refusal)."""
        self.get("/signin")
        return self.post("/signin", {"name": name, "password": password, **extra})
