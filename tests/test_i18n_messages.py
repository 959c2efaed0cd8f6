"""crm_core.i18n.Message: an error's reason that a page shows in the user's language."""

from __future__ import annotations

import gettext
import pickle

from crm_core.errors import ValidationError
from crm_core.i18n import N_, Message, reset_current, set_current, translated


class _Spanish(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return {"%(value)r is not a date": "%(value)r no es una fecha"}.get(message, message)


def test_a_message_is_its_english_text_and_keeps_its_template() -> None:
    reason = Message(N_("%(value)r is not a date"), value="31/02")
    assert reason == "'31/02' is not a date" and isinstance(reason, str)
    assert (reason.template, reason.params) == ("%(value)r is not a date", {"value": "31/02"})
    assert f"contact field 'birthday': {reason}" == "contact field 'birthday': '31/02' is not a date"
    plain = Message(N_("cannot be empty"))
    assert plain == "cannot be empty" and plain.params == {}


def test_translated_uses_the_current_language_and_leaves_plain_text_alone() -> None:
    reason = Message(N_("%(value)r is not a date"), value="31/02")
    assert translated(reason) == "'31/02' is not a date"  # no language set: the English
    token = set_current("es", _Spanish())
    try:
        assert translated(reason) == "'31/02' no es una fecha"
        assert translated(Message(N_("unknown to the catalog"))) == "unknown to the catalog"
        assert translated("plain text") == "plain text"
    finally:
        reset_current(token)


def test_a_message_survives_pickling_as_import_workers_send_it() -> None:
    reason = Message(N_("%(value)r is not a date"), value="31/02")
    back = pickle.loads(pickle.dumps(reason))
    assert isinstance(back, Message) and back == reason and back.params == {"value": "31/02"}


def test_a_validation_error_names_its_field_and_reason() -> None:
    reason = Message(N_("%(value)r is not a date"), value="31/02")
    error = ValidationError(f"contact field 'birthday': {reason}", field="birthday", reason=reason)
    assert str(error) == "contact field 'birthday': '31/02' is not a date"
    assert (error.field, error.reason) == ("birthday", reason)
    assert (ValidationError("bad").field, ValidationError("bad").reason) == (None, None)


def test_a_message_made_of_messages_is_translated_part_by_part() -> None:
    class Catalog(gettext.NullTranslations):
        def gettext(self, message: str) -> str:
            return {"%(first)s and %(second)s": "%(first)s y %(second)s", "in %(city)s": "en %(city)s"}.get(
                message, message
            )

    both = Message(N_("%(first)s and %(second)s"), first=Message(N_("in %(city)s"), city="Soria"), second="x")
    assert both == "in Soria and x"
    token = set_current("es", Catalog())
    try:
        assert translated(both) == "en Soria y x"
    finally:
        reset_current(token)
