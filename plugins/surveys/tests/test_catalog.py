"""Surveys and versions in the database: create, update, version after sending, find."""

from __future__ import annotations

import pytest

from crm_core.errors import NotFoundError, ValidationError


def test_create_then_update_in_place_while_unsent(app, definition):
    api = app.plugin("surveys")
    created = api.save(definition)
    assert (created.action, created.version, created.survey.key) == ("created", 1, "csat")
    definition["title"] = "How did we do this time?"
    updated = api.save(definition)
    assert (updated.action, updated.version) == ("updated", 1)
    assert api.get("csat").title == "How did we do this time?"
    assert api.save(definition).action == "unchanged"
    assert [v["version"] for v in api.versions("csat")] == [1]


def test_a_change_after_answers_makes_a_new_version_and_answers_keep_theirs(app, people, definition):
    api = app.plugin("surveys")
    api.save(definition)
    ana = people.add()
    first = api.answer("csat", ana, {"recommend": 9})
    definition["questions"][0]["text"] = "Would you recommend us today?"
    definition["questions"].append({"key": "extra", "kind": "yes_no", "text": "Again?"})
    changed = api.save(definition)
    assert (changed.action, changed.version) == ("new-version", 2)
    assert api.definition("csat", 1).question("recommend").text == "Would you recommend us?"
    assert api.definition("csat").question("recommend").text == "Would you recommend us today?"
    # the contact was answering version 1: answering again stays on it
    again = api.answer("csat", ana, {"recommend": 10})
    assert again.response_id == first.response_id
    with app.activate():
        from crm_surveys.models import Response

        assert Response.get_by_id(first.response_id).version == 1
    # someone new answers the current version
    bo = people.add()
    api.answer("csat", bo, {"recommend": 5, "extra": "yes"})
    rows = {v["version"]: v for v in api.versions("csat")}
    assert rows[1]["responded"] == 1 and rows[2]["responded"] == 1
    assert rows[2]["questions"] == 8


def test_a_question_cannot_change_kind_across_versions(app, people, definition):
    api = app.plugin("surveys")
    api.save(definition)
    api.answer("csat", people.add(), {"recommend": 9})
    definition["questions"][2]["kind"] = "rating"
    with pytest.raises(
        ValidationError, match=r"question 'satisfaction' was a csat question in version 1 and is rating now"
    ):
        api.save(definition)
    assert api.get("csat").version == 1


def test_key_made_from_the_title_and_kept_unique(app, definition):
    api = app.plugin("surveys")
    definition.pop("key")
    definition["title"] = "Qué tal? Año 2026"
    assert api.save(definition).survey.key == "que-tal-ano-2026"
    assert api.save(definition).survey.key == "que-tal-ano-2026-2"
    assert api.save(definition, key="given").survey.key == "given"
    with pytest.raises(ValidationError, match="survey key 'Bad Key' is not valid"):
        api.save(definition, key="Bad Key")


def test_list_get_and_unknown_surveys(app, definition):
    api = app.plugin("surveys")
    info = api.save(definition).survey
    assert [s.key for s in api.list()] == ["csat"]
    assert api.get(info.id).key == api.get(str(info.id)).key == "csat"
    with pytest.raises(NotFoundError, match="no survey 'nope'"):
        api.get("nope")
    # an id past what the database holds is no survey (not an OverflowError), a huge key is cut in the message
    with pytest.raises(NotFoundError, match="no survey '100000000000000000000000'"):
        api.get(10**23)
    with pytest.raises(NotFoundError, match=r"no survey 'xxxxx.{0,80}: name one"):
        api.get("x" * 100_000)
    with pytest.raises(NotFoundError, match="survey 'csat' has no version 3; its versions are 1 to 1"):
        api.definition("csat", 3)


def test_import_a_file(app, tmp_path):
    from crm_surveys.cli import STARTER

    path = tmp_path / "survey.toml"
    path.write_text(STARTER, encoding="utf-8")
    api = app.plugin("surveys")
    assert api.import_file(path).action == "created"
    assert api.import_file(path).action == "unchanged"
    assert len(api.definition("customer-satisfaction").questions) == 6
