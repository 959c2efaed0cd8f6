"""Collecting answers: from a token (web form), a paper code, or staff naming a contact.

Every path ends in :func:`save_response`: the answers are checked against
the version the recipient was sent, stored on his invitation's one response
(answering again updates it), projected into ``surveys_answer`` rows for the
results, and a complete answer emits ``SurveyAnswered`` in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import NotFoundError, ValidationError
from crm_core.signing import legacy_key, secret_key
from crm_core.storage import bulk_insert, for_update
from crm_hookspecs.records import SurveyForm
from crm_surveys import answers as answer_rules
from crm_surveys import catalog
from crm_surveys.models import Answer, Invitation, Response, Round, Survey
from crm_surveys.tokens import SurveyKeys, UnknownTokenError, read_code, read_token

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_surveys.definition import SurveyDefinition

__all__ = [
    "CHANNELS",
    "Collector",
    "SavedResponse",
    "form_for",
    "invitation_for_contact",
    "save_response",
    "secret",
]

#: how an answer came in, and the event channel it is told with
CHANNELS = {"web": "self-service", "paper": "staff", "staff": "staff", "api": "api"}


def secret(crm: CRM) -> SurveyKeys:
    """The keys that sign answer links and paper codes (see :class:`~crm_surveys.tokens.SurveyKeys`)."""
    configured = crm.settings("surveys").secret
    legacy = configured.encode("utf-8") if configured else legacy_key(crm, "surveys")
    return SurveyKeys(link=secret_key(crm), legacy=legacy)


def month_of(crm: CRM, when: dt.datetime) -> str:
    return when.astimezone(crm.tz).strftime("%Y-%m")


def invitation_for_token(crm: CRM, key: SurveyKeys, token: str, survey_id: int | None = None) -> Invitation:
    claims = read_token(key, token, crm.clock.now(), survey_id)
    invitation = Invitation.get_or_none(
        (Invitation.round == claims.round_id) & (Invitation.original_contact_id == claims.contact_id)
    )
    if invitation is None or invitation.survey_id != claims.survey_id:
        raise UnknownTokenError("this survey link is no longer valid: the invitation it was made for was withdrawn")
    return invitation


def invitation_for_code(key: SurveyKeys, code: str) -> Invitation:
    number = read_code(key, code)
    invitation = Invitation.get_or_none(Invitation.id == number)
    if invitation is None:
        raise NotFoundError(
            f"paper code {code.strip()!r} names no invitation in this CRM (a letter from another database?)"
        )
    return invitation


def invitation_for_contact(crm: CRM, survey: Survey, contact_id: int) -> Invitation:
    """The contact's newest invitation to ``survey``, or a ``direct`` one made now."""
    found: Invitation | None = (
        Invitation.select()
        .where((Invitation.survey == survey.id) & (Invitation.contact_id == contact_id))
        .order_by(Invitation.sent_at.desc(), Invitation.id.desc())
        .first()
    )
    if found is not None:
        return found
    card = crm.plugin("contacts").card(contact_id)  # NotFoundError names the contact
    now = crm.clock.now()
    with crm.transaction():
        round_ = Round.get_or_none((Round.survey == survey.id) & (Round.key == "direct"))
        if round_ is None:
            Round.insert(survey=survey.id, key="direct", created_at=now).on_conflict_ignore().execute()
            round_ = Round.get((Round.survey == survey.id) & (Round.key == "direct"))
        Invitation.insert(
            survey=survey.id,
            round=round_.id,
            version=survey.current_version,
            contact_id=card.id,
            original_contact_id=card.id,
            medium="direct",
            region=card.region,
            month=month_of(crm, now),
            sent_at=now,
        ).on_conflict_ignore().execute()
        return Invitation.get((Invitation.round == round_.id) & (Invitation.original_contact_id == card.id))


def form_for(crm: CRM, invitation: Invitation, definition: SurveyDefinition | None = None) -> SurveyForm:
    """The :class:`SurveyForm` a person fills in for ``invitation``."""
    definition = definition or catalog.definition(invitation.survey_id, invitation.version)
    response = Response.get_or_none(Response.invitation == invitation.id)
    return SurveyForm(
        survey_id=invitation.survey_id,
        version=invitation.version,
        title=definition.title,
        introduction=definition.introduction,
        questions=definition.questions,
        invitation_id=invitation.id,
        contact_id=invitation.contact_id,
        expires_at=invitation.expires_at,
        answers=json.loads(response.data) if response is not None else {},
        complete=bool(response.complete) if response is not None else False,
        answered_at=response.answered_at if response is not None else None,
    )


@attrs.frozen
class SavedResponse:
    """What :func:`save_response` stored."""

    response_id: int
    complete: bool
    created: bool
    values: dict[str, Any]
    dropped: tuple[str, ...]
    negative: bool
    scores: dict[str, float]


def save_response(
    crm: CRM,
    invitation: Invitation,
    given: Mapping[str, Any],
    *,
    partial: bool = False,
    channel: str = "api",
    actor: str | None = None,
) -> SavedResponse:
    """Check and store the answers to ``invitation``; see the module docs."""
    from crm_hookspecs.events import SurveyAnswered

    if channel not in CHANNELS:
        raise ValidationError(f"channel {channel!r} is not one of: {', '.join(CHANNELS)}")
    if invitation.contact_id is None:
        raise UnknownTokenError("this invitation's contact was erased; it can no longer be answered")
    definition = catalog.definition(invitation.survey_id, invitation.version)
    checked = answer_rules.checked(
        definition.questions, given, partial=partial, where=f"the answer to {definition.title!r}"
    )
    scores, negative = answer_rules.scores(definition.questions, checked.values)
    now = crm.clock.now()
    region = _region(crm, invitation)
    month = month_of(crm, now)
    data = json.dumps(checked.values, ensure_ascii=False)
    with crm.transaction():
        invitation = for_update(Invitation.select().where(Invitation.id == invitation.id), crm.database).get()
        contact_id = invitation.contact_id
        if contact_id is None:  # erased since the check above, before this lock: the locked read is the one that counts
            raise UnknownTokenError("this invitation's contact was erased; it can no longer be answered")
        response = Response.get_or_none(Response.invitation == invitation.id)
        if response is not None and response.complete and partial:
            raise answer_rules.AnswerError(
                {answer_rules.FORM: "this survey is already answered; send complete answers to change them"},
                f"the answer to {definition.title!r}",
            )
        values = dict(
            version=invitation.version,
            contact_id=invitation.contact_id,
            channel=channel,
            complete=not partial,
            negative=negative and not partial,
            region=region,
            month=month,
            data=data,
            updated_at=now,
            answered_at=None if partial else now,
        )
        created = response is None
        if response is None:
            response = Response.create(invitation=invitation.id, survey=invitation.survey_id, created_at=now, **values)
        else:
            Response.update(**values).where(Response.id == response.id).execute()
            Answer.delete().where(Answer.response == response.id).execute()
        if not partial:
            bulk_insert(
                Answer,
                ("response_id", "survey_id", "version", "question", "region", "month", "value", "choice", "text"),
                answer_rows(
                    response.id, invitation.survey_id, invitation.version, region, month, definition, checked.values
                ),
                database=crm.database,
            )
            if invitation.answered_at is None:
                Invitation.update(answered_at=now).where(Invitation.id == invitation.id).execute()
            crm.emit(
                SurveyAnswered(
                    survey_id=invitation.survey_id,
                    version=invitation.version,
                    contact_id=contact_id,
                    response_id=response.id,
                    scores=scores,
                    negative=negative,
                    region=region,
                    actor=actor,
                    channel=CHANNELS[channel],
                )
            )
    return SavedResponse(
        response_id=response.id,
        complete=not partial,
        created=created,
        values=checked.values,
        dropped=checked.dropped,
        negative=negative and not partial,
        scores=scores,
    )


def _region(crm: CRM, invitation: Invitation) -> str | None:
    """The contact's region now (the invitation's, when the contact is gone)."""
    if crm.has_plugin("contacts"):
        try:
            region: str | None = crm.plugin("contacts").card(invitation.contact_id).region
            return region
        except NotFoundError:
            pass
    return invitation.region


def answer_rows(
    response_id: int,
    survey_id: int,
    version: int,
    region: str | None,
    month: str,
    definition: SurveyDefinition,
    values: Mapping[str, Any],
) -> list[tuple[Any, ...]]:
    """The ``surveys_answer`` rows of one complete response (see the models' docs)."""
    rows: list[tuple[Any, ...]] = []
    head = (response_id, survey_id, version)
    for question in definition.questions:
        value = values.get(question.key)
        if value is None:
            continue
        kind = question.kind
        if kind in ("nps", "csat", "rating"):
            rows.append((*head, question.key, region, month, int(value), None, None))
        elif kind == "yes_no":
            rows.append((*head, question.key, region, month, 1 if value else 0, None, None))
        elif kind == "single_choice":
            rows.append((*head, question.key, region, month, None, value, None))
        elif kind == "multiple_choice":
            rows.append((*head, question.key, region, month, None, None, None))
            rows.extend((*head, question.key, region, month, None, choice, None) for choice in value)
        else:
            rows.append((*head, question.key, region, month, None, None, value))
    return rows


class Collector:
    """Answers coming in: the invitation behind a token, a paper code or a contact, and saving them."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def keys(self) -> SurveyKeys:
        return secret(self.crm)

    def by_token(self, token: str, survey_id: int | None = None) -> Invitation:
        """The invitation a link's token names; a :class:`~crm_surveys.tokens.TokenError` when refused."""
        with self.crm.activate():
            return invitation_for_token(self.crm, self.keys(), token, survey_id)

    def by_code(self, code: str) -> Invitation:
        """The invitation a paper letter's code names."""
        with self.crm.activate():
            return invitation_for_code(self.keys(), code)

    def by_id(self, invitation_id: int) -> Invitation:
        with self.crm.activate():
            found = Invitation.get_or_none(Invitation.id == invitation_id)
        if found is None:
            raise NotFoundError(f"no invitation {invitation_id}")
        return found

    def for_contact(self, survey: Survey, contact_id: int) -> Invitation:
        """The contact's newest invitation to ``survey``, or a ``direct`` one made now."""
        with self.crm.activate():
            return invitation_for_contact(self.crm, survey, contact_id)

    def form(self, invitation: Invitation) -> SurveyForm:
        with self.crm.activate():
            return form_for(self.crm, invitation)

    def save(
        self,
        invitation: Invitation,
        answers: Mapping[str, Any],
        *,
        partial: bool = False,
        channel: str = "api",
        actor: str | None = None,
    ) -> SavedResponse:
        with self.crm.activate():
            return save_response(self.crm, invitation, answers, partial=partial, channel=channel, actor=actor)

    def token(self, invitation: Invitation, days: int | None = None) -> str:
        """A fresh token for ``invitation``, working ``days`` days (default ``plugins.surveys.token_ttl_days``)."""
        from crm_surveys.tokens import make_token

        ttl = days if days is not None else self.crm.settings("surveys").token_ttl_days
        if ttl < 1:
            raise ValidationError(f"a link must work at least 1 day, not {ttl}")
        expires = self.crm.clock.now() + dt.timedelta(days=ttl)
        # the invitation names the contact, so the one it was made for too (an erasure clears both)
        assert invitation.original_contact_id is not None
        return make_token(
            self.keys(), invitation.survey_id, invitation.round_id, invitation.original_contact_id, expires
        )

    def paper_code(self, invitation_id: int) -> str:
        from crm_surveys.tokens import make_code

        return make_code(self.keys(), invitation_id)
