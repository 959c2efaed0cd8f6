"""Browser tests of the web apps (the portal, the desk): headless Chromium driven by Playwright.

Playwright's own browsers are never downloaded: Debian's ``/usr/bin/chromium``
is launched by path; without it (or without the ``playwright`` package) the
tests are skipped, saying so. Nothing here imports Playwright or Flask until
a test asks for it.

::

    from crm_core.browser_testing import BrowserPage, Served, needs_chromium, launch_chromium

    pytestmark = needs_chromium

    @pytest.fixture(scope="module")
    def browser():
        with launch_chromium() as chromium:
            yield chromium

    def test_page(browser, tmp_path):
        served = Served(create_app(crm))            # a WSGI app on 127.0.0.1, ephemeral port
        page = BrowserPage(browser, tmp_path / "shots", width=390)
        page.page.goto(served.url + "/")
        page.shot("home")                           # checks the page, saves 01-home.png
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "LAPTOP", "PHONE", "BrowserPage", "Served", "launch_chromium", "needs_chromium"]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: viewport widths: a laptop and a phone
LAPTOP = 1280
PHONE = 390

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no Chromium at /usr/bin/chromium (apt-get install chromium); the browser tests need it",
)


@contextlib.contextmanager
def launch_chromium() -> Iterator[Any]:
    """The system's Chromium, headless, through Playwright (skips the test when Playwright is not installed)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e 'plugins/portal[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Served:
    """A WSGI app served from a thread on 127.0.0.1 with an ephemeral port (``url``); ``close()`` stops it."""

    def __init__(self, wsgi_app: Any, name: str = "browser-test-server") -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)

    def local(self, link: str, public: str = "http://localhost:8000") -> str:
        """A link made for the public address, pointed at this server."""
        return link.replace(public, self.url)


class BrowserPage:
    """A browser page that checks every page it shows, and saves each as a screenshot.

    ``shot(name)`` saves ``NN-name.png`` (numbered in order within ``folder``)
    and fails when a form field has no label, the page is wider than the
    window, or the browser reported a script error, a Content-Security-Policy
    violation or a failed resource. ``checks`` are more functions of the
    Playwright page run by each ``shot`` (the desk adds axe-core there).
    """

    def __init__(
        self,
        browser: Any,
        folder: Path,
        *,
        width: int = 1024,
        height: int | None = None,
        javascript: bool = True,
        language: str = "en-GB",
        checks: tuple[Callable[[Any, str], None], ...] = (),
    ) -> None:
        viewport = {"width": width, "height": height or (844 if width < 600 else 800)}
        self.context = browser.new_context(viewport=viewport, java_script_enabled=javascript, locale=language)
        self.context.set_default_timeout(5000)  # a page of these apps answers in milliseconds
        self.page = self.context.new_page()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.problems: list[str] = []
        self.checks = checks
        # script errors and CSP violations ("Refused to …"); a failed resource is reported below, by response,
        # since an error page's own status (404, 410) is expected
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.javascript = javascript

    def _console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(message.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def shot(self, name: str) -> Path:
        """Check the page shown and save it."""
        number = len(list(self.folder.glob("*.png"))) + 1
        path = self.folder / f"{number:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        unlabelled = self.page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden' && !el.closest('template') && !el.closest('[aria-hidden=true]'))
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name)"""
        )
        assert unlabelled == [], f"{name}: fields without a label: {unlabelled}"
        overflow = self.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: the page is {overflow}px wider than the window"
        assert self.problems == [], f"{name}: the browser reported {self.problems}"
        for check in self.checks:
            check(self.page, name)
        return path

    def close(self) -> None:
        self.context.close()
