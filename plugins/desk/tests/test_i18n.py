"""Languages: switching to Spanish, the user's language and time zone, and catalogs that cover every string."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crm_desk.testing import DeskClient

PASSWORD = "Correct-horse-42!"
PLUGIN = Path(__file__).resolve().parent.parent
CATALOG = PLUGIN / "crm_desk" / "translations" / "es" / "LC_MESSAGES"


def test_switching_to_spanish_before_sign_in(web: DeskClient) -> None:
    web.get("/signin")
    assert "Sign in" in web.text
    web.post("/language", {"language": "es", "next": "/signin"})
    assert web.page.headers["Location"] == "/signin"
    web.get("/signin")
    assert "Iniciar sesión" in web.text and '<html lang="es">' in web.text
    assert "Usuario o contraseña incorrectos." in web.sign_in("ana", "wrong-password").get_data(as_text=True)


def test_the_browser_language_is_used_until_one_is_chosen(web: DeskClient) -> None:
    web.get("/signin", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert "Iniciar sesión" in web.text


def test_a_signed_in_user_switches_and_it_is_remembered(web: DeskClient) -> None:
    web.sign_in("ana", PASSWORD)
    web.get("/")
    web.post("/language", {"language": "es", "next": "/"})
    assert "Mi día" in web.get("/").get_data(as_text=True)
    assert web.crm.authz.users.get("ana").language == "es"
    other = DeskClient(web.crm)  # another browser: the user's language follows them
    other.sign_in("ana", PASSWORD)
    assert "Mi día" in other.get("/").get_data(as_text=True)


def test_preferences_save_language_and_time_zone_and_refuse_a_bad_zone(web: DeskClient) -> None:
    web.sign_in("ana", PASSWORD)
    web.get("/account")
    assert web.post("/account", {"language": "en", "timezone": "Mars/Olympus"}).status_code == 400
    assert "Choose a time zone from the list" in web.text
    assert web.post("/account", {"language": "en", "timezone": "Europe/Madrid"}).status_code == 302
    assert web.crm.authz.users.get("ana").timezone == "Europe/Madrid"


def test_every_desk_string_is_in_the_spanish_catalog(tmp_path: Path) -> None:
    from babel.messages.pofile import read_po

    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-o",
            str(pot),
            ".",
        ],
        cwd=PLUGIN,
        check=True,
    )
    extracted = {m.id for m in read_po(pot.open("rb")) if m.id}
    spanish = {m.id: m.string for m in read_po((CATALOG / "messages.po").open("rb")) if m.id}
    assert extracted - set(spanish) == set(), "run pybabel extract and update (see babel.cfg), then translate"
    assert [k for k, v in spanish.items() if not v] == []


def test_the_compiled_catalog_matches_the_po_file() -> None:
    import gettext

    from babel.messages.pofile import read_po

    compiled = gettext.GNUTranslations((CATALOG / "messages.mo").open("rb"))
    for message in read_po((CATALOG / "messages.po").open("rb")):
        if message.id and isinstance(message.id, str):
            assert compiled.gettext(message.id) == message.string, "recompile: pybabel compile -d crm_desk/translations"
