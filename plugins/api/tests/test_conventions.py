"""The API's conventions, each tried by a request that tries to break it."""

from __future__ import annotations

import json

import pytest


def test_a_seller_lists_only_own_notes_with_right_pages_and_counts(office):
    first = office.get("/api/v1/notes?limit=3&count=true")
    assert first.status_code == 200, first.json
    assert [n["text"] for n in first.json["data"]] == ["ana note 1", "ana note 2", "ana note 3"]
    assert first.json["total"] == 7
    seen = [n["id"] for n in first.json["data"]]
    url = first.json["next"]
    while url:
        page = office.get(url)
        assert page.status_code == 200
        seen += [n["id"] for n in page.json["data"]]
        url = page.json["next"]
    texts = {n["text"] for n in office.get("/api/v1/notes?limit=500").json["data"]}
    assert len(seen) == len(set(seen)) == 7 and texts == {f"ana note {i}" for i in range(1, 8)}
    assert office.get("/api/v1/notes?count=true", user="boss").json["total"] == 10
    assert "total" not in office.get("/api/v1/notes").json


def test_filters_and_sort(office):
    data = office.get("/api/v1/notes?text=note%203&sort=-id", user="boss").json["data"]
    assert [n["text"] for n in data] == ["bea note 3", "ana note 3"]
    bad = office.get("/api/v1/notes?sort=text")
    assert (
        bad.status_code == 400 and bad.json["code"] == "invalid_parameter" and "sort by one of id" in bad.json["detail"]
    )
    unknown = office.get("/api/v1/notes?colour=red")
    assert unknown.status_code == 400 and "colour" in unknown.json["detail"] and "text" in unknown.json["detail"]
    assert office.get("/api/v1/notes?limit=501").status_code == 400
    assert office.get("/api/v1/notes?limit=abc").json["code"] == "invalid_parameter"


def test_a_malformed_or_foreign_cursor_is_a_400(office):
    assert office.get("/api/v1/notes?cursor=nonsense").json["code"] == "invalid_cursor"
    next_url = office.get("/api/v1/notes?limit=2").json["next"]
    cursor = next_url.split("cursor=")[1]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    response = office.get(f"/api/v1/notes?limit=2&cursor={tampered}")
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    other_sort = office.get(f"/api/v1/notes?limit=2&sort=-id&cursor={cursor}")
    assert other_sort.status_code == 400 and "sort" in other_sort.json["detail"]


def test_an_out_of_scope_record_is_a_404_not_a_403(office):
    bea_note = office.get("/api/v1/notes", user="bea").json["data"][0]["id"]
    response = office.get(f"/api/v1/notes/{bea_note}")
    assert response.status_code == 404 and response.json["code"] == "not_found"
    assert "bea" not in response.get_data(as_text=True)
    assert office.get("/api/v1/notes/999999").status_code == 404
    assert office.get(f"/api/v1/notes/{bea_note}", user="boss").status_code == 200


def test_tokens_are_required_and_checked(office):
    missing = office.client.get("/api/v1/notes")
    assert missing.status_code == 401 and missing.json["code"] == "token_missing"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = office.client.get("/api/v1/notes", headers={"Authorization": "Bearer crm_abcdefgh_nope"})
    assert wrong.status_code == 401 and wrong.json["code"] == "token_unknown"
    basic = office.client.get("/api/v1/notes", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401
    office.crm.authz.tokens.revoke(office.crm.authz.tokens.list("bea")[0].prefix)
    assert office.get("/api/v1/notes", user="bea").json["code"] == "token_revoked"


def test_a_user_without_the_permission_gets_403_and_a_narrow_token_cannot_write(office):
    denied = office.get("/api/v1/notes", user="nobody")
    assert denied.status_code == 403 and denied.json["code"] == "permission_denied"
    assert "notes.read" in denied.json["detail"]
    narrow = office.post("/api/v1/notes", {"text": "x"}, user="ana-read")
    assert narrow.status_code == 403 and "scopes" in narrow.json["detail"]
    assert office.get("/api/v1/notes", user="ana-read").status_code == 200


def test_create_gives_201_location_and_etag(office):
    response = office.post("/api/v1/notes", {"text": "called back"})
    assert response.status_code == 201
    note = response.json
    assert note["owner"] == "ana" and note["updated_at"].endswith("Z")
    assert response.headers["Location"].endswith(f"/api/v1/notes/{note['id']}")
    again = office.get(response.headers["Location"])
    assert again.json == note and again.headers["ETag"] == response.headers["ETag"]


def test_validation_errors_are_422_problems_naming_the_field(office):
    response = office.post("/api/v1/notes", {"text": "   "})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json
    assert body["code"] == "invalid_input" and body["status"] == 422 and body["title"] == "Unprocessable Content"
    assert body["errors"] == [{"message": "a note needs some text"}]
    not_object = office.post("/api/v1/notes", ["text"])
    assert not_object.status_code == 422 and "JSON object" in not_object.json["detail"]
    broken = office.client.post(
        "/api/v1/notes", data="{nope", headers=office.headers("ana", **{"Content-Type": "application/json"})
    )
    assert broken.status_code == 400 and broken.json["code"] == "invalid_json"
    form = office.client.post(
        "/api/v1/notes", data="text=x", headers=office.headers("ana", **{"Content-Type": "text/plain"})
    )
    assert form.status_code == 415


def test_if_match_protects_against_lost_updates(office):
    created = office.post("/api/v1/notes", {"text": "v1"})
    path, etag = created.headers["Location"], created.headers["ETag"]
    missing = office.patch(path, {"text": "no tag"})
    assert missing.status_code == 428 and missing.json["code"] == "precondition_required"
    first = office.patch(path, {"text": "v2"}, **{"If-Match": etag})
    assert first.status_code == 200 and first.json["text"] == "v2"
    assert first.headers["ETag"] != etag
    stale = office.patch(path, {"text": "v2 from the other integration"}, **{"If-Match": etag})
    assert stale.status_code == 412 and stale.json["code"] == "stale_record"
    assert office.get(path).json["text"] == "v2"
    gone = office.delete(path, **{"If-Match": first.headers["ETag"]})
    assert gone.status_code == 204
    assert office.get(path).status_code == 404


def test_a_retried_post_with_an_idempotency_key_creates_once(office):
    headers = {"Idempotency-Key": "order-1234"}
    first = office.post("/api/v1/notes", {"text": "once"}, **headers)
    retry = office.post("/api/v1/notes", {"text": "once"}, **headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json == first.json and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]
    texts = [n["text"] for n in office.get("/api/v1/notes?limit=500").json["data"]]
    assert texts.count("once") == 1
    other_body = office.post("/api/v1/notes", {"text": "twice?"}, **headers)
    assert other_body.status_code == 422 and other_body.json["code"] == "idempotency_key_reused"
    # another token's key space is its own
    assert office.post("/api/v1/notes", {"text": "once"}, user="bea", **headers).status_code == 201


def test_a_failed_request_releases_its_idempotency_key(office):
    headers = {"Idempotency-Key": "retry-me"}
    assert office.post("/api/v1/notes", {"text": "  "}, **headers).status_code == 422
    fixed = office.post("/api/v1/notes", {"text": "fixed"}, **headers)
    # a different body after a failure: the failed request left no answer behind
    assert fixed.status_code == 201


def test_a_huge_body_is_413(office_factory):
    office = office_factory({"max_body_kb": 1})
    response = office.post("/api/v1/notes", {"text": "x" * 5000})
    assert response.status_code == 413 and response.json["code"] == "body_too_large"


def test_rate_limits_per_token_with_retry_after(office_factory):
    office = office_factory({"rate_limit": "3/minute"})
    answers = [office.get("/api/v1/notes") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3" and answers[0].headers["RateLimit-Remaining"] == "2"
    assert int(answers[3].headers["Retry-After"]) > 0 and answers[3].json["code"] == "rate_limited"
    assert office.get("/api/v1/notes", user="bea").status_code == 200  # another token


def test_cors_is_off_unless_configured(office):
    response = office.get("/api/v1/notes", Origin="https://shop.example.com")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_the_configured_origins(office_factory):
    opened = office_factory({"cors_origins": ["https://shop.example.com"]})
    allowed = opened.get("/api/v1/notes", Origin="https://shop.example.com")
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    other = opened.get("/api/v1/notes", Origin="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = opened.client.options(
        "/api/v1/notes", headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"}
    )
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]


def test_unknown_paths_and_methods_are_problems(office):
    missing = office.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json["code"] == "not_found"
    wrong = office.client.put("/api/v1/notes", headers=office.headers("ana"))
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]


def test_me_names_the_tokens_user_and_permissions(office):
    me = office.get("/api/v1/me", user="ana-read").json
    assert me["name"] == "ana" and me["permissions"] == {"notes.read": "own"}


def test_a_handler_crash_is_a_500_problem_without_internals(office, monkeypatch, caplog):
    notes_api = type(office.crm.plugin("notes"))

    def boom(self, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(notes_api, "list", boom)
    response = office.get("/api/v1/notes")
    assert response.status_code == 500 and response.json["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)
    assert "secret internals" in caplog.text


@pytest.mark.parametrize("setting", [{"rate_limit": "lots"}, {"cors_origins": ["shop.example.com/path"]}])
def test_bad_settings_are_config_errors(crm_factory, setting):
    from crm_core.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        crm_factory(plugins=["api"], settings={"api": setting})
    assert "plugins.api" in str(info.value)


def test_the_openapi_document_is_valid_and_lists_the_operations(office):
    from openapi_spec_validator import validate

    document = office.client.get("/api/v1/openapi.json").json
    validate(document)
    assert set(document["paths"]) >= {"/notes", "/notes/{id}", "/events"}
    get = document["paths"]["/notes/{id}"]["get"]
    assert get["x-permission"] == "notes.read" and "404" in get["responses"]
    note = document["components"]["schemas"]["Note"]
    assert note["properties"]["updated_at"] == {"type": "string", "format": "date-time"}
    assert note["properties"]["owner"] == {"type": ["string", "null"]}
    page = office.client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "PATCH" in html and "/notes/{id}" in html
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in html and "`" not in html
    assert json.loads(json.dumps(document)) == document


def test_health_probes_need_no_token_and_count_against_no_limit(office_factory):
    office = office_factory({"rate_limit": "1/minute"})
    for _ in range(3):
        assert office.client.get("/healthz").data == b"ok\n"
    assert office.client.get("/readyz").status_code == 200
    assert office.get("/api/v1/notes").status_code == 200  # the probes left the token's one request


def test_a_body_record_takes_only_its_fields_and_needs_the_required_ones(office):
    unknown = office.post("/api/v1/notes", {"text": "hi", "colour": "red"})
    assert (
        unknown.status_code == 422 and unknown.json["detail"] == "unknown field(s) colour; the fields are: text, owner"
    )
    missing = office.post("/api/v1/notes", {"owner": "ana"})
    assert missing.status_code == 422 and missing.json["detail"] == "text is required"
    texts = [n["text"] for n in office.get("/api/v1/notes?limit=500").json["data"]]
    assert "hi" not in texts  # nothing was written
