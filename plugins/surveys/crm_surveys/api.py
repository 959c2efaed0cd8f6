"""``crm.plugin("surveys")``: the surveys plugin's Python API.

:class:`SurveysAPI` implements the contract's
:class:`crm_hookspecs.apis.SurveysAPI` (``form``, ``visible_questions``,
``check_answers``, ``submit``: what a web form needs) and everything the
CLI does. A survey is named by its id or its key wherever ``ref`` is asked
for.

It is a facade over the plugin's services (the catalog of surveys, answer
collection, sending, letters, results, schedules); each public method
checks the acting user's permission first (see the "Permissions" section of
the plugin's page) and the services limit what they read and count to the
contacts the user may read (:mod:`crm_surveys.scope`). With no user acting
(the worker, the web portal's customer flows, embedding code) every check
passes.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_core.errors import PermissionDenied, ValidationError
from crm_surveys import answers as answer_rules
from crm_surveys.catalog import Catalog
from crm_surveys.collect import Collector
from crm_surveys.definition import SURVEY_KEY, SurveyDefinition, load_file, parse_definition
from crm_surveys.responses import Responses
from crm_surveys.scope import READ, ContactScope
from crm_surveys.sending import Mailer

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import SurveyForm
    from crm_surveys.catalog import SaveResult, SurveyInfo
    from crm_surveys.collect import SavedResponse
    from crm_surveys.letters import LetterPrinter, LetterReport
    from crm_surveys.responses import ResponsePage
    from crm_surveys.results import ResultsReport, SurveyResults
    from crm_surveys.schedules import ScheduleInfo, Scheduler
    from crm_surveys.sending import ReminderReport, SendReport

__all__ = ["Surveys", "SurveysAPI"]


class SurveysAPI:
    """Everything the surveys plugin offers to Python callers and other plugins."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._scope = ContactScope(crm)
        self._catalog = Catalog(crm, self._scope)
        self._collect = Collector(crm)
        self._responses = Responses(crm, self._scope)
        self._mailer = Mailer(crm, self._scope)
        # letters (reportlab), results and schedules are built when first used: the API object is made often
        self._letters: LetterPrinter | None = None
        self._results: ResultsReport | None = None
        self._scheduler: Scheduler | None = None

    def __repr__(self) -> str:
        return f"<SurveysAPI of {self.crm!r}>"

    def _require(self, permission: str) -> None:
        self.crm.authz.require(permission)

    def _actor(self, actor: str | None) -> str | None:
        if actor is not None:
            return actor
        user = self.crm.current_user
        return user.name if user is not None else None

    @property
    def _printer(self) -> LetterPrinter:
        if self._letters is None:
            from crm_surveys.letters import LetterPrinter

            self._letters = LetterPrinter(self.crm, self._scope)
        return self._letters

    @property
    def _report(self) -> ResultsReport:
        if self._results is None:
            from crm_surveys.results import ResultsReport

            self._results = ResultsReport(self.crm, self._scope)
        return self._results

    @property
    def _schedules(self) -> Scheduler:
        if self._scheduler is None:
            from crm_surveys.schedules import Scheduler

            self._scheduler = Scheduler(self.crm, self._mailer)
        return self._scheduler

    def _require_builder(self) -> None:
        """Before reading a definition: the user must be able to create or change surveys at all."""
        if not self.crm.authz.can("surveys.edit"):
            self._require("surveys.create")

    def _require_every_contact(self, what: str) -> None:
        """Scheduled sends run as the system and reach a whole list: only a user who reaches every contact may."""
        if self._scope.limited():
            user = self.crm.current_user
            assert user is not None  # limited() is false for the system
            raise PermissionDenied(
                f"user {user.name!r} may not {what}: scheduled sends run as the system and reach every contact of "
                f"the list, and their scope for {READ} is {self.crm.authz.scope(READ) or 'none'}; "
                "send by hand ('crm surveys send') or ask a manager",
                READ,
            )

    # -- definitions ---------------------------------------------------------

    def parse(self, data: Mapping[str, Any], source: str = "the survey") -> SurveyDefinition:
        """Check a definition given as a dict (the layout of a survey TOML file). Needs ``surveys.read``."""
        self._require("surveys.read")
        return parse_definition(data, source)

    def save(self, definition: SurveyDefinition | Mapping[str, Any], key: str | None = None) -> SaveResult:
        """Create a survey, or give the survey with this key a new definition.

        While the current version has not been sent or answered it is
        replaced; after that the change becomes a new version. Needs
        ``surveys.create`` for a new survey, ``surveys.edit`` for an existing one.
        """
        self._require_builder()
        if not isinstance(definition, SurveyDefinition):
            definition = parse_definition(definition)
        if key is not None and not SURVEY_KEY.match(key):
            raise ValidationError(
                f"survey key {key!r} is not valid: use 1 to 60 lower-case letters, digits, '-' and '_'"
            )
        target = key or definition.key
        self._require("surveys.edit" if target is not None and self._catalog.exists(target) else "surveys.create")
        return self._catalog.save(definition, key)

    def import_file(self, path: str | Path, key: str | None = None) -> SaveResult:
        """:meth:`save` the survey TOML file at ``path``."""
        self._require_builder()
        return self.save(load_file(path), key)

    def get(self, ref: int | str) -> SurveyInfo:
        """One survey; its invitations and answers counted over the contacts the user may read."""
        self._require("surveys.read")
        return self._catalog.info(self._catalog.find(ref))

    def list(self) -> builtins.list[SurveyInfo]:
        """Every survey; invitations and answers counted over the contacts the user may read."""
        self._require("surveys.read")
        return self._catalog.listing()

    def definition(self, ref: int | str, version: int | None = None) -> SurveyDefinition:
        """The definition of a version (default: the current one)."""
        self._require("surveys.read")
        return self._catalog.definition(self._catalog.find(ref).id, version)

    def versions(self, ref: int | str) -> builtins.list[dict[str, Any]]:
        """Each version: its number, date, questions, invitations and answers (over the user's contacts)."""
        self._require("surveys.read")
        return self._catalog.versions(self._catalog.find(ref).id)

    # -- the web form (crm_hookspecs.apis.SurveysAPI) ---------------------------

    def form(self, token: str, survey_id: int | None = None) -> SurveyForm:
        """The form behind a link's token, with the contact's answers so far.

        The portal calls it as the system; a staff user needs
        ``surveys.answers.read`` and the contact in their ``contacts.read`` scope.
        """
        self._require("surveys.answers.read")
        invitation = self._collect.by_token(token, survey_id)
        self._scope.require(invitation.contact_id)
        return self._collect.form(invitation)

    def visible_questions(self, form: SurveyForm, answers: Mapping[str, Any]) -> builtins.list[str]:
        """The keys of the questions shown, given ``answers``. Needs ``surveys.read`` (computes only)."""
        self._require("surveys.read")
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
        """What is wrong with ``answers``, by question key. Needs ``surveys.read`` (computes only)."""
        self._require("surveys.read")
        return answer_rules.check(form.questions, answers, partial=partial)[1]

    def submit(self, token: str, answers: Mapping[str, Any], *, partial: bool = False, channel: str = "web") -> int:
        """Save the answers behind a link's token; the response id.

        The portal calls it as the system; a staff user needs
        ``surveys.answers.create`` and the contact in their ``contacts.read`` scope.
        """
        self._require("surveys.answers.create")
        invitation = self._collect.by_token(token)
        self._scope.require(invitation.contact_id)
        saved = self._collect.save(invitation, answers, partial=partial, channel=channel, actor=self._actor(None))
        return saved.response_id

    # -- links and codes -------------------------------------------------------

    def token(self, ref: int | str, contact_id: int, *, days: int | None = None) -> str:
        """A fresh token for the contact's newest invitation to the survey (to give him a new link).

        It works ``days`` days (default ``plugins.surveys.token_ttl_days``) and
        replaces nothing: older links work until they expire. Needs
        ``surveys.send`` and the contact in the user's ``contacts.read`` scope.
        """
        self._require("surveys.send")
        survey = self._catalog.find(ref)
        self._scope.require(int(contact_id))
        return self._collect.token(self._collect.for_contact(survey, int(contact_id)), days)

    def link(self, token: str) -> str:
        """The web form's address for ``token``. Needs ``surveys.read``."""
        self._require("surveys.read")
        return f"{self.crm.settings('surveys').base_url.rstrip('/')}/{token}"

    def paper_code(self, invitation_id: int) -> str:
        """The code printed on the letter of an invitation. Needs ``surveys.send`` (and its contact in scope)."""
        self._require("surveys.send")
        if self._scope.limited():
            self._scope.require(self._collect.by_id(invitation_id).contact_id)
        return self._collect.paper_code(invitation_id)

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
        ``actor`` defaults to the acting user's name. Needs
        ``surveys.answers.create`` and the contact in the user's ``contacts.read`` scope.
        """
        self._require("surveys.answers.create")
        survey = self._catalog.find(ref)
        self._scope.require(int(contact_id))
        invitation = self._collect.for_contact(survey, int(contact_id))
        return self._collect.save(invitation, answers, partial=partial, channel=channel, actor=self._actor(actor))

    def answer_form(self, ref: int | str, contact_id: int) -> SurveyForm:
        """The form a contact's answers are entered into: his newest invitation's version and answers so far.

        A contact who was never sent the survey gets a ``direct`` invitation
        (as :meth:`answer` would). Needs ``surveys.answers.create`` and the contact in scope.
        """
        self._require("surveys.answers.create")
        survey = self._catalog.find(ref)
        self._scope.require(int(contact_id))
        return self._collect.form(self._collect.for_contact(survey, int(contact_id)))

    def paper_form(self, code: str) -> SurveyForm:
        """The form behind a paper letter's code (what staff type the answers into).

        Needs ``surveys.answers.create`` and the letter's contact in the user's ``contacts.read`` scope.
        """
        self._require("surveys.answers.create")
        invitation = self._collect.by_code(code)
        self._scope.require(invitation.contact_id)
        return self._collect.form(invitation)

    def enter_paper(self, code: str, answers: Mapping[str, Any], *, actor: str | None = None) -> SavedResponse:
        """Save the answers written on the paper letter with ``code`` (as :meth:`paper_form` needs)."""
        self._require("surveys.answers.create")
        invitation = self._collect.by_code(code)
        self._scope.require(invitation.contact_id)
        return self._collect.save(invitation, answers, channel="paper", actor=self._actor(actor))

    def responses(
        self,
        ref: int | str,
        *,
        contact_id: int | None = None,
        drafts: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> ResponsePage:
        """The contacts' responses to a survey, newest first, with their answers.

        Only the contacts in the user's ``contacts.read`` scope are listed
        and counted. Needs ``surveys.answers.read``.
        """
        self._require("surveys.answers.read")
        survey = self._catalog.find(ref)
        return self._responses.page(survey, contact_id=contact_id, drafts=drafts, limit=int(limit), offset=int(offset))

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
        ``texts`` is how many free-text answers to list per question. Needs
        ``surveys.results.run``; computed over the contacts in the user's
        ``contacts.read`` scope.
        """
        self._require("surveys.results.run")
        survey = self._catalog.find(ref)
        return self._report.compute(survey, version=version, by=by, since=since, until=until, texts=texts)

    # -- sending ------------------------------------------------------------------

    def send(self, ref: int | str, source: str, *, round: str = "manual", dry_run: bool = False) -> SendReport:
        """E-mail the survey to a mailing list or segment (see :mod:`crm_surveys.sending`).

        Needs ``surveys.send``; a user who may read only some contacts sends
        to those of the list (the others are counted in ``out_of_scope``).
        """
        self._require("surveys.send")
        return self._mailer.send(self._catalog.find(ref), source, round_key=round, dry_run=dry_run)

    def send_test(self, ref: int | str, to: str | None = None) -> str:
        """E-mail the survey's invitation once to ``to`` (default: the acting user's own address), to see it as a
        recipient will; the address it went to.

        The mail carries the user's name (the address, for the system) where the
        contact's goes and a link that opens no form; no invitation is made.
        Needs ``surveys.send``; without ``to``, a user with an e-mail address.
        """
        self._require("surveys.send")
        user = self.crm.current_user
        address = to or (user.email if user is not None else None)
        if not address:
            who = f"user {user.name!r}" if user is not None else "the system"
            raise ValidationError(f"{who} has no e-mail address to send the test to; add one to the account first")
        survey = self._catalog.find(ref)
        name = (user.display_name or user.name) if user is not None else address.split("@", 1)[0]
        self._mailer.send_test(survey, name, address)
        return address

    def remind(
        self, ref: int | str | None = None, *, after_days: int | None = None, dry_run: bool = False
    ) -> builtins.list[ReminderReport]:
        """Queue the one reminder to non-respondents, for one survey or all (``surveys.send``; the user's contacts)."""
        self._require("surveys.send")
        surveys = [self._catalog.find(ref)] if ref is not None else self._catalog.all()
        return [self._mailer.remind(s, after_days=after_days, dry_run=dry_run) for s in surveys]

    def letters(
        self,
        ref: int | str,
        source: str,
        directory: str | Path,
        *,
        round: str = "manual",
        combined: bool = False,
    ) -> LetterReport:
        """Print the survey as PDF letters to the postal addresses of a list or segment (as :meth:`send` needs)."""
        self._require("surveys.send")
        survey = self._catalog.find(ref)
        return self._printer.print(survey, source, Path(directory), round_key=round, combined=combined)

    # -- schedules ----------------------------------------------------------------

    def schedule(self, ref: int | str, source: str, rule: str, *, start: dt.datetime | None = None) -> ScheduleInfo:
        """Send the survey to ``source`` on an RFC 5545 recurrence (run by ``crm worker``).

        Needs ``surveys.send`` and a ``contacts.read`` scope of ``all``: the
        worker sends to the whole list.
        """
        self._require("surveys.send")
        self._require_every_contact("schedule a survey")
        return self._schedules.add(self._catalog.find(ref), source, rule, start=start)

    def schedules(self, ref: int | str | None = None) -> builtins.list[ScheduleInfo]:
        """The schedules, of one survey or all. Needs ``surveys.read``."""
        self._require("surveys.read")
        return self._schedules.listing(self._catalog.find(ref) if ref is not None else None)

    def unschedule(self, schedule_id: int) -> None:
        """Stop a schedule. Needs ``surveys.send``."""
        self._require("surveys.send")
        self._schedules.stop(schedule_id)

    def run_schedules(self) -> builtins.list[SendReport]:
        """Send every due occurrence of every schedule (the worker calls this; as :meth:`schedule` needs)."""
        self._require("surveys.send")
        self._require_every_contact("run the survey schedules")
        return self._schedules.run_due()


#: the class's name before contract 1.x named API classes ``<Name>API``
Surveys = SurveysAPI  # deprecated alias until contract 2.0
