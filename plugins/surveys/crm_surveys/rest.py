"""The surveys plugin's resources in the HTTP API (``crm_api_resources``): surveys, sends, responses, results.

Every handler calls ``crm.plugin("surveys")``, which checks the permissions
and limits answers and results to the contacts the caller may read. A
survey is named in paths by its key or its id.
"""

from __future__ import annotations

from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]

_MAX_ID = 2**63 - 1


@attrs.frozen
class SendInput:
    """Where to send the survey (a mailing list or segment), and whether only to count."""

    source: str = attrs.field(metadata={"schema": {"minLength": 1}})
    dry_run: bool = False


@attrs.frozen
class AnswerInput:
    """A contact's answers, by question key (taken by phone, say); ``partial`` keeps them as a draft."""

    contact_id: int = attrs.field(metadata={"schema": {"minimum": 1, "maximum": _MAX_ID}})
    answers: dict[str, Any] = attrs.field(factory=dict)
    partial: bool = False


def _surveys(crm: Any) -> Any:
    return crm.plugin("surveys")


def _ref(request: ApiRequest) -> int | str:
    ref = request.path["ref"]
    return int(ref) if ref.isdigit() else ref


def _list(crm: Any, request: ApiRequest) -> ApiPage:
    found = _surveys(crm).list()
    return ApiPage(items=list(found), next=None, total=len(found))


def _save(crm: Any, request: ApiRequest) -> Any:
    return _surveys(crm).save(request.body, request.body.get("key"))


def _send(crm: Any, request: ApiRequest) -> Any:
    body = request.body
    if not isinstance(body.get("source"), str) or not body["source"].strip():
        raise ValidationError("source must name a mailing list or segment")
    return _surveys(crm).send(_ref(request), body["source"], dry_run=bool(body.get("dry_run")))


def _responses(crm: Any, request: ApiRequest) -> ApiPage:
    contact = request.query.get("contact_id")
    drafts = request.query.get("drafts", "false").lower() in ("true", "1", "yes")
    page = _surveys(crm).responses(
        _ref(request),
        contact_id=int(contact) if contact else None,
        drafts=drafts,
        limit=request.limit,
        offset=request.cursor or 0,
    )
    offset = request.cursor or 0
    more = offset + len(page.items) < page.total
    return ApiPage(
        items=list(page.items),
        next=offset + len(page.items) if more else None,
        total=page.total if request.count else None,
    )


def _answer(crm: Any, request: ApiRequest) -> Any:
    body = request.body
    contact_id = body.get("contact_id")
    if not isinstance(contact_id, int) or isinstance(contact_id, bool):
        raise ValidationError("contact_id must be the id of the contact who answered")
    answers = body.get("answers")
    if not isinstance(answers, dict):
        raise ValidationError("answers must be an object: {question key: answer}")
    return _surveys(crm).answer(_ref(request), contact_id, answers, partial=bool(body.get("partial")), channel="api")


def _results(crm: Any, request: ApiRequest) -> Any:
    query = request.query
    by = [part.strip() for part in query.get("by", "").split(",") if part.strip()]
    version = int(query["version"]) if "version" in query else None
    return _surveys(crm).results(
        _ref(request), version=version, by=by, since=query.get("since"), until=query.get("until")
    )


def resources(crm: Any) -> list[ApiResource]:
    from crm_surveys.catalog import SaveResult, SurveyInfo
    from crm_surveys.collect import SavedResponse
    from crm_surveys.responses import ResponseInfo
    from crm_surveys.results import SurveyResults
    from crm_surveys.sending import SendReport

    month = r"^\d{4}-\d{2}$"
    return [
        ApiResource(
            "surveys",
            "Surveys: built, sent by e-mail, answered, scored (answers and results over the contacts you may read).",
            [
                ApiOperation(
                    "GET",
                    "/surveys",
                    _list,
                    "surveys.list",
                    summary="The surveys",
                    returns=SurveyInfo,
                    paginated=True,
                    permission="surveys.read",
                ),
                ApiOperation(
                    "POST",
                    "/surveys",
                    _save,
                    "surveys.save",
                    summary="Create a survey, or a new version of one, from its definition",
                    description="The body is the survey definition as in the TOML files (docs: Surveys).",
                    returns=SaveResult,
                    body={"type": "object"},
                    status=201,
                    permission="surveys.create",
                ),
                ApiOperation(
                    "GET",
                    "/surveys/{ref}",
                    lambda crm, r: _surveys(crm).get(_ref(r)),
                    "surveys.get",
                    summary="A survey, by key or id",
                    returns=SurveyInfo,
                    permission="surveys.read",
                ),
                ApiOperation(
                    "POST",
                    "/surveys/{ref}/sends",
                    _send,
                    "surveys.send",
                    summary="E-mail the survey to a mailing list or segment",
                    returns=SendReport,
                    body=SendInput,
                    status=201,
                    permission="surveys.send",
                ),
                ApiOperation(
                    "GET",
                    "/surveys/{ref}/responses",
                    _responses,
                    "surveys.responses",
                    summary="Responses with their answers, newest first",
                    returns=ResponseInfo,
                    paginated=True,
                    filters=[
                        ApiParam("contact_id", "Only this contact's.", "integer", minimum=1, maximum=_MAX_ID),
                        ApiParam("drafts", "Also unfinished answers.", "boolean"),
                    ],
                    permission="surveys.answers.read",
                ),
                ApiOperation(
                    "POST",
                    "/surveys/{ref}/responses",
                    _answer,
                    "surveys.answer",
                    summary="Save a contact's answers",
                    returns=SavedResponse,
                    body=AnswerInput,
                    status=201,
                    permission="surveys.answers.create",
                ),
                ApiOperation(
                    "GET",
                    "/surveys/{ref}/results",
                    _results,
                    "surveys.results",
                    summary="Response rate, NPS, CSAT, distributions and free text",
                    returns=SurveyResults,
                    filters=[
                        ApiParam("by", "Break down by region, month, quarter and/or year, comma-separated."),
                        ApiParam("version", "Only this version.", "integer", minimum=1, maximum=10**6),
                        ApiParam("since", "From this month (YYYY-MM).", pattern=month),
                        ApiParam("until", "To this month (YYYY-MM), inclusive.", pattern=month),
                    ],
                    permission="surveys.results.run",
                ),
            ],
        )
    ]
