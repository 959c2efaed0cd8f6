"""Fixtures for the portal's tests: an app with contacts, surveys and the portal, and a web client that fills forms."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

CONTACTS_SECRET = "contacts-secret-for-portal-tests"
SURVEYS_SECRET = "surveys-secret-for-portal-tests"
PORTAL_SECRET = "portal-secret-for-portal-tests"

NEWSLETTER = {
    "name": "newsletter",
    "title": {"en": "Our monthly newsletter", "es": "Nuestro boletín mensual"},
    "consent": {
        "en": "I agree to receive the monthly newsletter by e-mail. I can unsubscribe at any time.",
        "es": "Acepto recibir el boletín mensual por correo electrónico. Puedo darme de baja cuando quiera.",
    },
    "lists": ["newsletter"],
}

#: a survey with one question of each kind, and conditions
SURVEY: dict[str, Any] = {
    "key": "service",
    "title": "How did we do?",
    "introduction": "Two minutes, please.",
    "email": {"subject": "How did we do?", "text": "Answer here: {{ link }}\n"},
    "questions": [
        {
            "key": "recommend",
            "kind": "nps",
            "text": "Would you recommend us?",
            "required": True,
            "min_label": "Not at all",
            "max_label": "Certainly",
        },
        {
            "key": "why",
            "kind": "text",
            "text": "What should we do better?",
            "required": True,
            "max_length": 500,
            "show_if": {"question": "recommend", "op": "<=", "value": 6},
        },
        {"key": "satisfaction", "kind": "csat", "text": "How satisfied are you?"},
        {"key": "speed", "kind": "rating", "text": "How fast were we?", "min": 1, "max": 7},
        {
            "key": "channel",
            "kind": "single_choice",
            "text": "How do you contact us?",
            "choices": ["Phone", "E-mail", "Shop"],
        },
        {
            "key": "topics",
            "kind": "multiple_choice",
            "text": "What interests you?",
            "choices": ["Products", "Offers", "Events"],
        },
        {"key": "call_back", "kind": "yes_no", "text": "May we call you?"},
        {
            "key": "when",
            "kind": "single_choice",
            "text": "When may we call?",
            "choices": ["Mornings", "Afternoons"],
            "show_if": {"question": "call_back", "op": "=", "value": True},
        },
    ],
}


def settings(mode: str = "apply", **portal: Any) -> dict[str, Any]:
    return {
        "contacts": {"default_region": "ES", "self_service": {"secret": CONTACTS_SECRET, "mode": mode}},
        "surveys": {"secret": SURVEYS_SECRET},
        "portal": {"secret": PORTAL_SECRET, "signup_forms": [copy.deepcopy(NEWSLETTER)], **portal},
    }


@pytest.fixture
def portal_app(crm_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``portal_app(mode="apply", **portal_settings)``: a migrated app with contacts, surveys and the portal."""

    def make(mode: str = "apply", *extra: Any, **portal: Any) -> Any:
        crm = crm_factory(
            plugins=["contacts", "surveys", "portal", *extra],
            settings=settings(mode, **portal),
            mail={"sender": "ACME <crm@example.com>"},
        )
        contacts = crm.plugin("contacts")
        if "newsletter" not in {info.name for info in contacts.lists()}:  # a second app on the same database
            contacts.create_list("newsletter", "The monthly newsletter")
        return crm

    return make


@pytest.fixture
def app(portal_app: Callable[..., Any]) -> Any:
    return portal_app()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Web:
    """A Flask test client that reads the CSRF token of the page it fetched, to post its form."""

    def __init__(self, crm: Any, **options: Any) -> None:
        from crm_portal import create_app

        self.crm = crm
        self.app = create_app(crm, **options)
        self.client = self.app.test_client()
        self.page: Any = None

    def get(self, url: str, **kwargs: Any) -> Any:
        self.page = self.client.get(url, **kwargs)
        return self.page

    @property
    def text(self) -> str:
        return self.page.get_data(as_text=True)

    def csrf(self) -> str:
        """The CSRF token of the page fetched last, else of the session (it is the same for the whole session)."""
        match = _CSRF.search(self.text) if self.page is not None else None
        if match:
            return match.group(1)
        with self.client.session_transaction() as session:
            assert "csrf_token" in session, "no page with a form was fetched yet"
            return session["csrf_token"]

    def post(self, url: str, data: Any = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        data = dict(data or {}) if not isinstance(data, list) else list(data)
        if csrf:
            token = self.csrf()
            if isinstance(data, list):
                data.append(("csrf_token", token))
            else:
                data["csrf_token"] = token
        if isinstance(data, list):
            from werkzeug.datastructures import MultiDict

            data = MultiDict(data)
        self.page = self.client.post(url, data=data, **kwargs)
        return self.page


@pytest.fixture
def web(app: Any) -> Web:
    return Web(app)


def add_contact(crm: Any, **fields: Any) -> Any:
    values = {"first_name": "Ana", "last_name": "García", "email": "ana@example.com", "phone": "+34612345678", **fields}
    return crm.plugin("contacts").create(**values)


def survey_token(crm: Any, contact_id: int, definition: dict[str, Any] | None = None) -> str:
    surveys = crm.plugin("surveys")
    surveys.save(copy.deepcopy(definition or SURVEY))
    return surveys.token((definition or SURVEY)["key"], contact_id)


def rebody(token: str, values: list[Any]) -> str:
    """Other signed values under ``token``'s signature: what a person bending a link would send."""
    body = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return body + "." + token.rsplit(".", 1)[1]


def legacy_link(secret: str, purpose: bytes, *parts: int | str) -> str:
    """A link as the portal signed them before the kernel did: numbers in base 36, HMAC-SHA256 cut to 128 bits."""

    def b36(number: int) -> str:
        digits = ""
        while True:
            number, rest = divmod(number, 36)
            digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
            if not number:
                return digits

    payload = "-".join(b36(p) if isinstance(p, int) else p for p in parts)
    digest = hmac.new(secret.encode(), purpose + b":" + payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


class Kit:
    """The helpers above, for test modules (``--import-mode=importlib`` does not let them import conftest)."""

    Web = Web
    SURVEY = SURVEY
    NEWSLETTER = NEWSLETTER
    add_contact = staticmethod(add_contact)
    survey_token = staticmethod(survey_token)
    settings = staticmethod(settings)
    rebody = staticmethod(rebody)
    legacy_link = staticmethod(legacy_link)
    PORTAL_SECRET = PORTAL_SECRET


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
