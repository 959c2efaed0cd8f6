"""``crm.plugin("surveys")``: the surveys plugin's Python API.

It implements the contract's :class:`crm_hookspecs.apis.SurveysAPI`
(``form``, ``visible_questions``, ``check_answers``, ``submit``: what a web
form needs) and everything the CLI does. A survey is named by its id or
its key wherever ``ref`` is asked for.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_core.errors import ValidationError
from crm_surveys import answers as answer_rules
from crm_surveys import catalog, collect
from crm_surveys.definition import SURVEY_KEY, SurveyDefinition, load_file, parse_definition

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import SurveyForm
    from crm_surveys.collect import SavedResponse
    from crm_surveys.letters import LetterReport
    from crm_surveys.results import SurveyResults
    from crm_surveys.schedules import ScheduleInfo
    from crm_surveys.sending import ReminderReport, SendReport

__all__ = ["Surveys"]


class Surveys:
    """Everything the surveys plugin offers to Python callers and other plugins."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def __repr__(self) -> str:
        return f"<Surveys of {self.crm!r}>"

    # -- definitions ---------------------------------------------------------

    def parse(self, data: Mapping[str, Any], source: str = "the survey") -> SurveyDefinition:
        """Check a definition given as a dict (the layout of a survey TOML file)."""
        return parse_definition(data, source)

    def save(self, definition: SurveyDefinition | Mapping[str, Any], key: str | None = None) -> catalog.SaveResult:
        """Create a survey, or give the survey with this key a new definition.

        While the current version has not been sent or answered it is
        replaced; after that the change becomes a new version.
        """
        if not isinstance(definition, SurveyDefinition):
            definition = parse_definition(definition)
        if key is not None and not SURVEY_KEY.match(key):
            raise ValidationError(
                f"survey key {key!r} is not valid: use 1 to 60 lower-case letters, digits, '-' and '_'"
            )
        with self.crm.activate():
            return catalog.save(self.crm, definition, key)

    def import_file(self, path: str | Path, key: str | None = None) -> catalog.SaveResult:
        """:meth:`save` the survey TOML file at ``path``."""
        return self.save(load_file(path), key)

    def get(self, ref: int | str) -> catalog.SurveyInfo:
        with self.crm.activate():
            return catalog.info(catalog.find(ref))

    def list(self) -> list[catalog.SurveyInfo]:
        with self.crm.activate():
            return catalog.list_surveys()

    def definition(self, ref: int | str, version: int | None = None) -> SurveyDefinition:
        """The definition of a version (default: the current one)."""
        with self.crm.activate():
            return catalog.definition(catalog.find(ref).id, version)

    def versions(self, ref: int | str) -> builtins.list[dict[str, Any]]:
        """Each version: its number, date, questions, invitations and answers."""
        with self.crm.activate():
            return catalog.version_rows(catalog.find(ref).id)

    # -- the web form (crm_hookspecs.apis.SurveysAPI) ---------------------------

    def form(self, token: str, survey_id: int | None = None) -> SurveyForm:
        with self.crm.activate():
            invitation = collect.invitation_for_token(self.crm, collect.secret(self.crm), token, survey_id)
            return collect.form_for(self.crm, invitation)

    def visible_questions(self, form: SurveyForm, answers: Mapping[str, Any]) -> builtins.list[str]:
        values = {}
        for question in form.questions:
            try:
                value = answer_rules.read_value(question, answers.get(question.key))
            except ValueError:
                continue  # an unreadable answer counts as none for the conditions after it
            if value is not None:
                values[question.key] = value
        return answer_rules.visible_keys(form.questions, values)

    def check_answers(self, form: SurveyForm, answers: Mapping[str, Any], *, partial: bool = False) -> dict[str, str]:
        return answer_rules.check(form.questions, answers, partial=partial)[1]

    def submit(self, token: str, answers: Mapping[str, Any], *, partial: bool = False, channel: str = "web") -> int:
        with self.crm.activate():
            invitation = collect.invitation_for_token(self.crm, collect.secret(self.crm), token)
            return collect.save_response(self.crm, invitation, answers, partial=partial, channel=channel).response_id

    # -- links and codes -------------------------------------------------------

    def token(self, ref: int | str, contact_id: int, *, days: int | None = None) -> str:
        """A fresh token for the contact's newest invitation to the survey (to give him a new link).

        It works ``days`` days (default ``plugins.surveys.token_ttl_days``) and
        replaces nothing: older links work until they expire.
        """
        from crm_surveys.tokens import make_token

        with self.crm.activate():
            survey = catalog.find(ref)
            invitation = collect.invitation_for_contact(self.crm, survey, contact_id)
            ttl = days if days is not None else self.crm.settings("surveys").token_ttl_days
            if ttl < 1:
                raise ValidationError(f"a link must work at least 1 day, not {ttl}")
            expires = self.crm.clock.now() + dt.timedelta(days=ttl)
            # the invitation names the contact, so the one it was made for too (an erasure clears both)
            assert invitation.original_contact_id is not None
            return make_token(
                collect.secret(self.crm), survey.id, invitation.round_id, invitation.original_contact_id, expires
            )

    def link(self, token: str) -> str:
        """The web form's address for ``token``."""
        return f"{self.crm.settings('surveys').base_url.rstrip('/')}/{token}"

    def paper_code(self, invitation_id: int) -> str:
        from crm_surveys.tokens import make_code

        return make_code(collect.secret(self.crm), invitation_id)

    # -- answering -------------------------------------------------------------

    def answer(
        self,
        ref: int | str,
        contact_id: int,
        answers: Mapping[str, Any],
        *,
        partial: bool = False,
        channel: str = "staff",
        actor: str | None = None,
    ) -> SavedResponse:
        """Save a contact's answers (taken by phone, say) to his newest invitation.

        A contact who was never sent the survey gets a ``direct``
        invitation to the current version, not counted in the response rate.
        """
        with self.crm.activate():
            survey = catalog.find(ref)
            invitation = collect.invitation_for_contact(self.crm, survey, int(contact_id))
            return collect.save_response(self.crm, invitation, answers, partial=partial, channel=channel, actor=actor)

    def paper_form(self, code: str) -> SurveyForm:
        """The form behind a paper letter's code (what staff type the answers into)."""
        with self.crm.activate():
            return collect.form_for(self.crm, collect.invitation_for_code(collect.secret(self.crm), code))

    def enter_paper(self, code: str, answers: Mapping[str, Any], *, actor: str | None = None) -> SavedResponse:
        """Save the answers written on the paper letter with ``code``."""
        with self.crm.activate():
            invitation = collect.invitation_for_code(collect.secret(self.crm), code)
            return collect.save_response(self.crm, invitation, answers, channel="paper", actor=actor)

    # -- results ----------------------------------------------------------------

    def results(
        self,
        ref: int | str,
        *,
        version: int | None = None,
        by: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
        texts: int = 10,
    ) -> SurveyResults:
        """Response rate, NPS, CSAT, distributions and free text, overall and per segment.

        ``by`` breaks them down by ``region``, ``month``, ``quarter`` and/or
        ``year``; ``since`` and ``until`` are months (``YYYY-MM``), inclusive;
        ``texts`` is how many free-text answers to list per question.
        """
        from crm_surveys import results

        with self.crm.activate():
            return results.compute(catalog.find(ref), version=version, by=by, since=since, until=until, texts=texts)

    # -- sending ------------------------------------------------------------------

    def send(self, ref: int | str, source: str, *, round: str = "manual", dry_run: bool = False) -> SendReport:
        """E-mail the survey to a mailing list or segment (see :mod:`crm_surveys.sending`)."""
        from crm_surveys import sending

        with self.crm.activate():
            return sending.send(self.crm, catalog.find(ref), source, round_key=round, dry_run=dry_run)

    def remind(
        self, ref: int | str | None = None, *, after_days: int | None = None, dry_run: bool = False
    ) -> builtins.list[ReminderReport]:
        """Queue the one reminder to non-respondents, for one survey or all."""
        from crm_surveys import sending
        from crm_surveys.models import Survey

        with self.crm.activate():
            surveys = [catalog.find(ref)] if ref is not None else list(Survey.select().order_by(Survey.id))
            return [sending.remind(self.crm, s, after_days=after_days, dry_run=dry_run) for s in surveys]

    def letters(
        self,
        ref: int | str,
        source: str,
        directory: str | Path,
        *,
        round: str = "manual",
        combined: bool = False,
    ) -> LetterReport:
        """Print the survey as PDF letters to the postal addresses of a list or segment."""
        from crm_surveys import letters

        with self.crm.activate():
            return letters.make_letters(
                self.crm, catalog.find(ref), source, Path(directory), round_key=round, combined=combined
            )

    # -- schedules ----------------------------------------------------------------

    def schedule(self, ref: int | str, source: str, rule: str, *, start: dt.datetime | None = None) -> ScheduleInfo:
        """Send the survey to ``source`` on an RFC 5545 recurrence (run by ``crm worker``)."""
        from crm_surveys import schedules

        with self.crm.activate():
            return schedules.add(self.crm, catalog.find(ref), source, rule, start=start)

    def schedules(self, ref: int | str | None = None) -> builtins.list[ScheduleInfo]:
        from crm_surveys import schedules

        with self.crm.activate():
            return schedules.listing(self.crm, catalog.find(ref) if ref is not None else None)

    def unschedule(self, schedule_id: int) -> None:
        from crm_surveys import schedules

        with self.crm.activate():
            schedules.stop(self.crm, schedule_id)

    def run_schedules(self) -> builtins.list[SendReport]:
        """Send every due occurrence of every schedule (the worker calls this)."""
        from crm_surveys import schedules

        with self.crm.activate():
            return schedules.run_due(self.crm)
