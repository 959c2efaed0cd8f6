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
from typing import Any

__all__ = ["DeskClient"]

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
