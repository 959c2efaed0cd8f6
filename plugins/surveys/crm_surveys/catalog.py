"""Surveys and their versions: saving a definition, finding a survey, reading a version.

A definition saved under an existing key replaces the current version while
nothing has been sent or answered with it; once it has, the change becomes
a new version and what was sent or answered keeps the version it had.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import TYPE_CHECKING, Any, cast

import attrs
import peewee

from crm_core.errors import NotFoundError, ValidationError
from crm_core.ids import is_id
from crm_core.storage import for_update
from crm_surveys.definition import SurveyDefinition, definition_from_content
from crm_surveys.models import Invitation, Response, Survey, SurveyVersion

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from crm_core.app import CRM
    from crm_surveys.scope import ContactScope

__all__ = ["Catalog", "SaveResult", "SurveyInfo", "definition", "find", "info", "list_surveys", "save"]


@attrs.frozen
class SurveyInfo:
    """A survey as listings show it."""

    id: int
    key: str
    title: str
    version: int
    versions: int
    created_at: dt.datetime
    updated_at: dt.datetime
    invited: int = 0
    responded: int = 0


@attrs.frozen
class SaveResult:
    """What :func:`save` did: ``action`` is ``created``, ``updated`` (the unsent
    current version was replaced), ``new-version`` or ``unchanged``."""

    survey: SurveyInfo
    action: str
    version: int


def _slug(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:50].strip("-")
    return slug or "survey"


def find(ref: int | str) -> Survey:
    """The survey named by its id or its key; raise :class:`NotFoundError`."""
    text = str(ref).strip()
    survey = None
    if text.isdigit() and is_id(int(text)):  # past 2**63 - 1 it can only be a key
        survey = Survey.get_or_none(Survey.id == int(text))
    if survey is None:
        survey = Survey.get_or_none(Survey.key == text)
    if survey is None:
        raise NotFoundError(f"no survey {text!r:.80}: name one by its id or key ('crm surveys list' shows them)")
    return survey


def _scoped(query: Any, column: Any, scope: ContactScope | None) -> Any:
    return query if scope is None else scope.restrict(query, column)


def info(survey: Survey, counts: bool = True, scope: ContactScope | None = None) -> SurveyInfo:
    """A survey's listing; its invitations and answers counted over the contacts in ``scope``."""
    versions = SurveyVersion.select().where(SurveyVersion.survey == survey.id).count()
    invited = responded = 0
    if counts:
        invited = _scoped(
            Invitation.select().where((Invitation.survey == survey.id) & (Invitation.medium.in_(("email", "post")))),
            Invitation.contact_id,
            scope,
        ).count()
        responded = _scoped(
            Response.select().where((Response.survey == survey.id) & (Response.complete == True)),  # noqa: E712
            Response.contact_id,
            scope,
        ).count()
    return SurveyInfo(
        id=survey.id,
        key=survey.key,
        title=survey.title,
        version=survey.current_version,
        versions=versions,
        created_at=survey.created_at,
        updated_at=survey.updated_at,
        invited=invited,
        responded=responded,
    )


def list_surveys(scope: ContactScope | None = None) -> list[SurveyInfo]:
    """Every survey, with its invitations and complete responses counted (set-based) over ``scope``."""
    from peewee import fn

    # each is (survey id, count) per row: peewee's stubs type .tuples() as yielding the model
    invited: dict[int, int] = dict(
        cast(
            "Iterable[tuple[int, int]]",
            _scoped(
                Invitation.select(Invitation.survey, fn.COUNT(Invitation.id)).where(
                    Invitation.medium.in_(("email", "post"))
                ),
                Invitation.contact_id,
                scope,
            )
            .group_by(Invitation.survey)
            .tuples(),
        )
    )
    responded: dict[int, int] = dict(
        cast(
            "Iterable[tuple[int, int]]",
            _scoped(
                Response.select(Response.survey, fn.COUNT(Response.id)).where(Response.complete == True),  # noqa: E712
                Response.contact_id,
                scope,
            )
            .group_by(Response.survey)
            .tuples(),
        )
    )
    versions: dict[int, int] = dict(
        cast(
            "Iterable[tuple[int, int]]",
            SurveyVersion.select(SurveyVersion.survey, fn.COUNT(SurveyVersion.id))
            .group_by(SurveyVersion.survey)
            .tuples(),
        )
    )
    return [
        SurveyInfo(
            id=s.id,
            key=s.key,
            title=s.title,
            version=s.current_version,
            versions=versions.get(s.id, 0),
            created_at=s.created_at,
            updated_at=s.updated_at,
            invited=invited.get(s.id, 0),
            responded=responded.get(s.id, 0),
        )
        for s in Survey.select().order_by(Survey.id)
    ]


def definition(survey_id: int, version: int | None = None) -> SurveyDefinition:
    """The definition of one version (default: the current one)."""
    survey = Survey.get_or_none(Survey.id == survey_id)
    if survey is None:
        raise NotFoundError(f"no survey {survey_id}")
    number = version if version is not None else survey.current_version
    row = SurveyVersion.get_or_none((SurveyVersion.survey == survey_id) & (SurveyVersion.version == number))
    if row is None:
        raise NotFoundError(
            f"survey {survey.key!r} has no version {number}; its versions are 1 to {survey.current_version}"
        )
    return read_version(row, survey.key)


#: definitions read back, by digest and key: a version is read for every answer
#: saved, and checking it again (templates compiled) would cost more than the save
_READ: dict[tuple[str, str], SurveyDefinition] = {}
_READ_MAX = 256


def read_version(row: SurveyVersion, key: str) -> SurveyDefinition:
    """The definition stored in a version row (checked when it was saved; read once per content)."""
    cached = _READ.get((row.digest, key))
    if cached is None:
        cached = definition_from_content(json.loads(row.definition), key=key)
        if len(_READ) >= _READ_MAX:
            _READ.pop(next(iter(_READ)))
        _READ[(row.digest, key)] = cached
    return cached


def _used(survey_id: int, version: int) -> bool:
    """Whether a version has been sent or answered: then it can no longer change."""
    sent = Invitation.select().where((Invitation.survey == survey_id) & (Invitation.version == version)).exists()
    return sent or Response.select().where((Response.survey == survey_id) & (Response.version == version)).exists()


def _check_kinds(survey_id: int, new: SurveyDefinition) -> None:
    """A question key keeps its kind across versions, so results never mix kinds."""
    kinds = {q.key: q.kind for q in new.questions}
    for row in SurveyVersion.select().where(SurveyVersion.survey == survey_id).order_by(SurveyVersion.version):
        for question in json.loads(row.definition)["questions"]:
            key, kind = question["key"], question["kind"]
            if key in kinds and kinds[key] != kind:
                raise ValidationError(
                    f"question {key!r} was a {kind} question in version {row.version} and is {kinds[key]} now; "
                    "a question that changes kind needs a new key, so that results do not mix the two"
                )


def save(crm: CRM, new: SurveyDefinition, key: str | None = None) -> SaveResult:
    """Create a survey, or give an existing one (same key) this definition."""
    key = key or new.key
    now = crm.clock.now()
    content = json.dumps(new.content(), ensure_ascii=False, sort_keys=True)
    digest = new.digest()
    with crm.transaction():
        survey = None
        if key is not None:
            survey = for_update(Survey.select().where(Survey.key == key), crm.database).first()
        if survey is None:
            if key is None:
                key = _free_key(_slug(new.title))
            try:
                with crm.database.atomic():
                    survey = Survey.create(key=key, title=new.title, current_version=1, created_at=now, updated_at=now)
            except peewee.IntegrityError:
                raise ValidationError(
                    f"a survey with key {key!r} was just created by someone else; import the file again to update it"
                ) from None
            SurveyVersion.create(survey=survey, version=1, definition=content, digest=digest, created_at=now)
            return SaveResult(info(survey, counts=False), "created", 1)
        current = SurveyVersion.get(
            (SurveyVersion.survey == survey.id) & (SurveyVersion.version == survey.current_version)
        )
        if current.digest == digest:
            return SaveResult(info(survey), "unchanged", current.version)
        _check_kinds(survey.id, new)
        if _used(survey.id, current.version):
            number = current.version + 1
            SurveyVersion.create(survey=survey, version=number, definition=content, digest=digest, created_at=now)
            action = "new-version"
        else:
            number = current.version
            SurveyVersion.update(definition=content, digest=digest).where(SurveyVersion.id == current.id).execute()
            action = "updated"
        Survey.update(title=new.title, current_version=number, updated_at=now).where(Survey.id == survey.id).execute()
        survey = Survey.get_by_id(survey.id)
        return SaveResult(info(survey), action, number)


def _free_key(base: str) -> str:
    taken: set[str] = set(Survey.select(Survey.key).where(Survey.key.startswith(base)).scalars())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def version_rows(survey_id: int, scope: ContactScope | None = None) -> list[dict[str, Any]]:
    """Each version of a survey: number, date, and how much was sent and answered with it (over ``scope``)."""
    from peewee import fn

    # (version, count) per row
    sent: dict[int, int] = dict(
        cast(
            "Iterable[tuple[int, int]]",
            _scoped(
                Invitation.select(Invitation.version, fn.COUNT(Invitation.id)).where(
                    (Invitation.survey == survey_id) & Invitation.medium.in_(("email", "post"))
                ),
                Invitation.contact_id,
                scope,
            )
            .group_by(Invitation.version)
            .tuples(),
        )
    )
    answered: dict[int, int] = dict(
        cast(
            "Iterable[tuple[int, int]]",
            _scoped(
                Response.select(Response.version, fn.COUNT(Response.id)).where(
                    (Response.survey == survey_id) & (Response.complete == True)  # noqa: E712
                ),
                Response.contact_id,
                scope,
            )
            .group_by(Response.version)
            .tuples(),
        )
    )
    return [
        {
            "version": v.version,
            "created_at": v.created_at,
            "questions": len(json.loads(v.definition)["questions"]),
            "invited": sent.get(v.version, 0),
            "responded": answered.get(v.version, 0),
        }
        for v in SurveyVersion.select().where(SurveyVersion.survey == survey_id).order_by(SurveyVersion.version)
    ]


class Catalog:
    """The surveys and their versions, for the other services and the API.

    Counts of invitations and answers are over the contacts the acting user
    may read (``scope``).
    """

    def __init__(self, crm: CRM, scope: ContactScope) -> None:
        self.crm = crm
        self.scope = scope

    def find(self, ref: int | str) -> Survey:
        """The survey named by its id or its key; raise :class:`NotFoundError`."""
        with self.crm.activate():
            return find(ref)

    def exists(self, key: str) -> bool:
        with self.crm.activate():
            return Survey.select().where(Survey.key == key).exists()

    def all(self) -> list[Survey]:
        with self.crm.activate():
            return list(Survey.select().order_by(Survey.id))

    def info(self, survey: Survey) -> SurveyInfo:
        with self.crm.activate():
            return info(survey, scope=self.scope)

    def listing(self) -> list[SurveyInfo]:
        with self.crm.activate():
            return list_surveys(self.scope)

    def definition(self, survey_id: int, version: int | None = None) -> SurveyDefinition:
        """The definition of one version (default: the current one)."""
        with self.crm.activate():
            return definition(survey_id, version)

    def versions(self, survey_id: int) -> list[dict[str, Any]]:
        with self.crm.activate():
            return version_rows(survey_id, self.scope)

    def save(self, new: SurveyDefinition, key: str | None = None) -> SaveResult:
        with self.crm.activate():
            result = save(self.crm, new, key)
        if result.action == "created":
            return result
        # the counts of the saved survey's listing, as the acting user may see them
        return attrs.evolve(result, survey=self.info(self.find(result.survey.id)))
