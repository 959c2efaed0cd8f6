"""Survey definitions: a TOML file (or a dict) checked into a :class:`SurveyDefinition`.

A definition is the content of one survey version::

    key = "customer-satisfaction"
    title = "How did we do?"
    introduction = "Two minutes of your time help us serve you better."

    [email]                       # optional: the invitation e-mail (Jinja2)
    subject = "{{ first_name }}, how did we do?"
    text = "Answer here: {{ link }}"

    [reminder]                    # optional: one reminder to non-respondents
    after_days = 7

    [[questions]]
    key = "recommend"
    kind = "nps"
    text = "How likely are you to recommend us to a friend?"
    required = true

    [[questions]]
    key = "why"
    kind = "text"
    text = "What should we do better?"
    show_if = { question = "recommend", op = "<=", value = 6 }

Every problem found is reported at once, each naming the question (its
number and key), the field and what is expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import SurveyCondition, SurveyQuestion

__all__ = [
    "CONTACT_VARIABLES",
    "KINDS",
    "OPERATORS",
    "TEMPLATE_VARIABLES",
    "EmailTemplate",
    "SurveyDefinition",
    "SurveyDefinitionError",
    "load_file",
    "parse_definition",
]

#: the question kinds, in the order the docs list them
KINDS = ("nps", "csat", "rating", "single_choice", "multiple_choice", "yes_no", "text")
SCORED_KINDS = frozenset({"nps", "csat", "rating"})
CHOICE_KINDS = frozenset({"single_choice", "multiple_choice"})
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "answered")
#: the operators each kind of question can be compared with
KIND_OPERATORS: dict[str, tuple[str, ...]] = {
    "nps": ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "answered"),
    "csat": ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "answered"),
    "rating": ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "answered"),
    "single_choice": ("=", "!=", "in", "not in", "answered"),
    "multiple_choice": ("contains", "answered"),
    "yes_no": ("=", "!=", "answered"),
    "text": ("answered",),
}
FIXED_RANGES = {"nps": (0, 10), "csat": (1, 5)}
DEFAULT_RATING = (1, 5)
MAX_RATING_STEPS = 20
DEFAULT_TEXT_LENGTH = 2000
MAX_TEXT_LENGTH = 20_000
MAX_CHOICES = 50
MAX_CHOICE_LENGTH = 200
MAX_QUESTIONS = 200
MAX_TITLE = 200

QUESTION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SURVEY_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")

#: contact fields a template can use by name (``{{ first_name }}``)
CONTACT_VARIABLES = (
    "id",
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "organization_name",
    "email",
    "phone",
    "status",
    "region",
    "country",
    "owner",
    "language",
)
#: every name a template can use
TEMPLATE_VARIABLES = CONTACT_VARIABLES + ("contact", "survey", "link", "token", "expires_on", "reminder")

DEFAULT_SUBJECT = "{{ survey.title }}"
DEFAULT_TEXT = """\
Dear {{ display_name }},

{{ survey.introduction }}

Please answer our survey "{{ survey.title }}" here:
{{ link }}

The link is personal and works until {{ expires_on }}.
"""
REMINDER_PREFIX = "Reminder: "

_TOP_KEYS = ("key", "title", "introduction", "email", "reminder", "questions")
_QUESTION_KEYS = (
    "key",
    "kind",
    "text",
    "required",
    "help",
    "choices",
    "min",
    "max",
    "min_label",
    "max_label",
    "max_length",
    "show_if",
)
_KIND_FIELDS = {
    "choices": CHOICE_KINDS,
    "min": frozenset({"rating"}),
    "max": frozenset({"rating"}),
    "min_label": SCORED_KINDS,
    "max_label": SCORED_KINDS,
    "max_length": frozenset({"text"}),
}


class SurveyDefinitionError(ValidationError):
    """A survey definition is invalid; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = problems[:6]
        more = f"; and {len(problems) - len(shown)} more problem(s)" if len(problems) > len(shown) else ""
        noun = "problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"{source}: {noun}: " + "; ".join(shown) + more)
        self.source = source
        self.problems = problems


@attrs.frozen
class EmailTemplate:
    """An e-mail as Jinja2 templates: the subject, the text part and an optional HTML part."""

    subject: str
    text: str
    html: str | None = None


@attrs.frozen
class SurveyDefinition:
    """The content of one survey version, checked.

    ``key`` names the survey (``None``: made from the title when it is
    created); it is not part of the versioned content. ``reminder_after_days``
    is ``None`` to use ``plugins.surveys.reminder_after_days`` and ``0`` for
    no reminder.
    """

    title: str
    questions: tuple[SurveyQuestion, ...]
    introduction: str = ""
    key: str | None = None
    email: EmailTemplate | None = None
    reminder: EmailTemplate | None = None
    reminder_after_days: int | None = None

    def question(self, key: str) -> SurveyQuestion:
        for question in self.questions:
            if question.key == key:
                return question
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(q.key for q in self.questions)

    def invitation_template(self) -> EmailTemplate:
        return self.email or EmailTemplate(DEFAULT_SUBJECT, DEFAULT_TEXT)

    def reminder_template(self) -> EmailTemplate:
        if self.reminder is not None:
            return self.reminder
        base = self.invitation_template()
        return EmailTemplate(REMINDER_PREFIX + base.subject, base.text, base.html)

    def content(self) -> dict[str, Any]:
        """The versioned content as a JSON-ready dict (what a version stores)."""
        data: dict[str, Any] = {"title": self.title, "introduction": self.introduction}
        if self.email is not None:
            data["email"] = _template_dict(self.email)
        reminder: dict[str, Any] = {}
        if self.reminder_after_days is not None:
            reminder["after_days"] = self.reminder_after_days
        if self.reminder is not None:
            reminder.update(_template_dict(self.reminder))
        if reminder:
            data["reminder"] = reminder
        data["questions"] = [_question_dict(q) for q in self.questions]
        return data

    def digest(self) -> str:
        """A hash of :meth:`content`: equal digests mean the same version."""
        text = json.dumps(self.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_toml(self) -> str:
        """The definition as a TOML file that :func:`load_file` reads back."""
        lines: list[str] = []
        if self.key:
            lines.append(f"key = {_toml_value(self.key)}")
        content = self.content()
        lines.append(f"title = {_toml_value(content['title'])}")
        if content["introduction"]:
            lines.append(f"introduction = {_toml_value(content['introduction'])}")
        for table in ("email", "reminder"):
            if table in content:
                lines.append(f"\n[{table}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in content[table].items()]
        for question in content["questions"]:
            lines.append("\n[[questions]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in question.items()]
        return "\n".join(lines) + "\n"


def _template_dict(template: EmailTemplate) -> dict[str, Any]:
    data = {"subject": template.subject, "text": template.text}
    if template.html is not None:
        data["html"] = template.html
    return data


def _question_dict(question: SurveyQuestion) -> dict[str, Any]:
    data: dict[str, Any] = {"key": question.key, "kind": question.kind, "text": question.text}
    if question.required:
        data["required"] = True
    if question.help:
        data["help"] = question.help
    if question.choices:
        data["choices"] = list(question.choices)
    if question.kind == "rating":
        data["min"], data["max"] = question.min, question.max
    if question.min_label:
        data["min_label"] = question.min_label
    if question.max_label:
        data["max_label"] = question.max_label
    if question.kind == "text" and question.max_length != DEFAULT_TEXT_LENGTH:
        data["max_length"] = question.max_length
    if question.show_if is not None:
        cond: dict[str, Any] = {"question": question.show_if.question, "op": question.show_if.op}
        if question.show_if.op != "answered":
            value = question.show_if.value
            cond["value"] = list(value) if isinstance(value, tuple) else value
        data["show_if"] = cond
    return data


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if "\n" in value:
            # a multi-line literal string, unless the text needs escapes
            if "'''" not in value and not any(ord(c) < 32 and c not in "\n\t" for c in value):
                return "'''\n" + value + "'''"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


# -- reading -------------------------------------------------------------------


def load_file(path: str | Path) -> SurveyDefinition:
    """Read and check a survey TOML file."""
    import tomllib

    file = Path(path)
    try:
        with open(file, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ValidationError(f"{file}: no such survey file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{file}: TOML syntax error: {exc}; fix the file and import it again") from None
    except OSError as exc:
        raise ValidationError(f"{file}: cannot read the survey file: {exc.strerror}") from None
    return parse_definition(data, str(file))


def parse_definition(data: Mapping[str, Any], source: str = "the survey") -> SurveyDefinition:
    """Check ``data`` (a parsed TOML file, or a dict built in Python); raise :class:`SurveyDefinitionError`."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise SurveyDefinitionError(source, [f"a survey is a table of keys, not {type(data).__name__}"])
    _unknown_keys(data, _TOP_KEYS, "the survey", problems)

    key = data.get("key")
    if key is not None and (not isinstance(key, str) or not SURVEY_KEY.match(key)):
        problems.append(
            f"key {key!r} is not valid: use 1 to 60 lower-case letters, digits, '-' and '_' (e.g. 'customer-satisfaction')"
        )
        key = None
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append('title is missing: give the survey a title (title = "How did we do?")')
        title = ""
    elif len(title) > MAX_TITLE:
        problems.append(f"title is {len(title)} characters long; keep it under {MAX_TITLE}")
    introduction = data.get("introduction", "")
    if not isinstance(introduction, str):
        problems.append(f"introduction must be text, not {_type(introduction)}")
        introduction = ""

    email = _template(data.get("email"), "email", problems, reminder=False)
    reminder_after_days = None
    reminder = None
    raw_reminder = data.get("reminder")
    if raw_reminder is not None:
        if not isinstance(raw_reminder, Mapping):
            problems.append(f"[reminder] must be a table, not {_type(raw_reminder)}")
        else:
            days = raw_reminder.get("after_days")
            if days is not None:
                if not _is_int(days) or not 0 <= days <= 365:
                    problems.append(
                        f"reminder.after_days must be a whole number of days from 0 (no reminder) to 365, not {days!r}"
                    )
                else:
                    reminder_after_days = int(days)
            rest = {k: v for k, v in raw_reminder.items() if k != "after_days"}
            if rest:
                reminder = _template(rest, "reminder", problems, reminder=True)

    questions = _questions(data.get("questions"), problems)
    if problems:
        raise SurveyDefinitionError(source, problems)
    return SurveyDefinition(
        title=title.strip(),
        introduction=introduction.strip(),
        questions=tuple(questions),
        key=key,
        email=email,
        reminder=reminder,
        reminder_after_days=reminder_after_days,
    )


def _template(raw: Any, table: str, problems: list[str], *, reminder: bool) -> EmailTemplate | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.append(f"[{table}] must be a table with subject and text, not {_type(raw)}")
        return None
    allowed = ("subject", "text", "html") + (("after_days",) if reminder else ())
    _unknown_keys(raw, allowed, f"[{table}]", problems)
    parts: dict[str, str | None] = {}
    for name in ("subject", "text", "html"):
        value = raw.get(name)
        if value is None:
            parts[name] = None
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{table}.{name} must be non-empty text, not {value!r}")
            parts[name] = None
            continue
        _check_template(value, f"{table}.{name}", problems)
        parts[name] = value
    if parts["subject"] is not None and "\n" in parts["subject"].strip():
        problems.append(f"{table}.subject must be one line")
    if parts["subject"] is None and not reminder and "subject" not in raw:
        problems.append(f"{table}.subject is missing: an e-mail needs a subject")
    if parts["text"] is None and "text" not in raw:
        if not reminder:
            problems.append(f"{table}.text is missing: an e-mail needs a text part (html is optional)")
    if reminder:
        # a reminder may override only some parts; the others come from [email]
        return EmailTemplate(
            subject=parts["subject"] or REMINDER_PREFIX + DEFAULT_SUBJECT,
            text=parts["text"] or DEFAULT_TEXT,
            html=parts["html"],
        )
    if parts["subject"] is None or parts["text"] is None:
        return None
    return EmailTemplate(parts["subject"], parts["text"], parts["html"])


def _check_template(source: str, where: str, problems: list[str]) -> None:
    """Compile the template once and check every name it uses."""
    import jinja2
    from jinja2 import meta

    env = jinja2.Environment()
    try:
        parsed = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        problems.append(f"{where}: template syntax error on line {exc.lineno}: {exc.message}")
        return
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(TEMPLATE_VARIABLES))
    for name in unknown:
        problems.append(
            f"{where} uses {{{{ {name} }}}}{_did_you_mean(name, TEMPLATE_VARIABLES)}, which is not a template variable; "
            f"the variables are: {', '.join(TEMPLATE_VARIABLES)}"
        )


def _questions(raw: Any, problems: list[str]) -> list[SurveyQuestion]:
    if raw is None:
        problems.append("the survey has no questions: add [[questions]] tables (key, kind, text)")
        return []
    if not isinstance(raw, (list, tuple)) or not all(isinstance(q, Mapping) for q in raw):
        problems.append("questions must be a list of tables ([[questions]] in TOML)")
        return []
    if not raw:
        problems.append("the survey has no questions: add [[questions]] tables (key, kind, text)")
    if len(raw) > MAX_QUESTIONS:
        problems.append(f"the survey has {len(raw)} questions; at most {MAX_QUESTIONS} are allowed")
    out: list[SurveyQuestion] = []
    positions: dict[str, int] = {}
    everywhere: dict[str, int] = {}
    for number, item in enumerate(raw, start=1):
        if isinstance(item.get("key"), str):
            everywhere.setdefault(item["key"], number)
    for number, item in enumerate(raw, start=1):
        question = _question(item, number, positions, everywhere, out, problems)
        if question is not None:
            out.append(question)
        key = item.get("key")
        if isinstance(key, str) and key not in positions:
            positions[key] = number
    return out


def _question(
    raw: Mapping[str, Any],
    number: int,
    positions: dict[str, int],
    everywhere: dict[str, int],
    earlier: list[SurveyQuestion],
    problems: list[str],
) -> SurveyQuestion | None:
    key = raw.get("key")
    label = f"question {number}" + (f" {key!r}" if isinstance(key, str) else "")
    before = len(problems)
    _unknown_keys(raw, _QUESTION_KEYS, label, problems)
    if not isinstance(key, str) or not QUESTION_KEY.match(key):
        problems.append(
            f"{label}: key {key!r} is not valid: use 1 to 40 lower-case letters, digits and '_', starting with a letter"
            if key is not None
            else f'{label}: key is missing (a short name such as key = "recommend")'
        )
    elif key in positions:
        problems.append(f"{label}: key {key!r} is already used by question {positions[key]}; keys must be unique")
    kind = raw.get("kind")
    if kind not in KINDS:
        what = f"unknown kind {kind!r}{_did_you_mean(str(kind), KINDS)}" if kind is not None else "kind is missing"
        problems.append(f"{label}: {what}; the kinds are: {', '.join(KINDS)}")
        return None
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{label}: text is missing: the question as the person reads it")
        text = ""
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problems.append(f"{label}: required must be true or false, not {required!r}")
        required = False
    help_text = raw.get("help", "")
    if not isinstance(help_text, str):
        problems.append(f"{label}: help must be text, not {_type(help_text)}")
        help_text = ""
    for field, kinds in _KIND_FIELDS.items():
        if field in raw and kind not in kinds:
            problems.append(f"{label}: {field} is only for {' and '.join(sorted(kinds))} questions, not {kind}")

    choices: tuple[str, ...] = ()
    if kind in CHOICE_KINDS:
        choices = _choices(raw.get("choices"), label, problems)
    low, high = FIXED_RANGES.get(kind, (None, None))
    if kind == "rating":
        low, high = _rating_range(raw, label, problems)
    labels = {}
    for name in ("min_label", "max_label"):
        value = raw.get(name, "")
        if not isinstance(value, str):
            problems.append(f"{label}: {name} must be text, not {_type(value)}")
            value = ""
        labels[name] = value
    max_length = None
    if kind == "text":
        max_length = raw.get("max_length", DEFAULT_TEXT_LENGTH)
        if not _is_int(max_length) or not 1 <= max_length <= MAX_TEXT_LENGTH:
            problems.append(
                f"{label}: max_length must be a whole number from 1 to {MAX_TEXT_LENGTH}, not {max_length!r}"
            )
            max_length = DEFAULT_TEXT_LENGTH
    show_if = None
    if "show_if" in raw:
        show_if = _condition(raw["show_if"], label, key, positions, everywhere, earlier, problems)
    if len(problems) > before or not isinstance(key, str):  # a key that is not a string is a problem already
        return None
    return SurveyQuestion(
        key=key,
        kind=kind,
        text=text.strip(),
        required=required,
        help=help_text.strip(),
        choices=choices,
        min=low,
        max=high,
        min_label=labels["min_label"].strip(),
        max_label=labels["max_label"].strip(),
        max_length=max_length,
        show_if=show_if,
    )


def _choices(raw: Any, label: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        problems.append(f'{label}: choices are missing: list them (choices = ["Phone", "E-mail"])')
        return ()
    if not isinstance(raw, (list, tuple)) or not all(isinstance(c, str) for c in raw):
        problems.append(f"{label}: choices must be a list of texts")
        return ()
    cleaned = [c.strip() for c in raw]
    if len(cleaned) < 2 or len(cleaned) > MAX_CHOICES:
        problems.append(f"{label}: give from 2 to {MAX_CHOICES} choices, not {len(cleaned)}")
    seen: set[str] = set()
    for choice in cleaned:
        if not choice:
            problems.append(f"{label}: a choice is empty")
        elif len(choice) > MAX_CHOICE_LENGTH:
            problems.append(f"{label}: choice {choice[:30]!r}… is longer than {MAX_CHOICE_LENGTH} characters")
        elif choice.casefold() in seen:
            problems.append(f"{label}: choice {choice!r} is listed twice")
        seen.add(choice.casefold())
    return tuple(cleaned)


def _rating_range(raw: Mapping[str, Any], label: str, problems: list[str]) -> tuple[int, int]:
    low = raw.get("min", DEFAULT_RATING[0])
    high = raw.get("max", DEFAULT_RATING[1])
    if not _is_int(low) or not _is_int(high):
        problems.append(f"{label}: min and max must be whole numbers, not {low!r} and {high!r}")
        return DEFAULT_RATING
    if not 1 <= high - low <= MAX_RATING_STEPS:
        problems.append(
            f"{label}: the scale {low}..{high} must go up, with at most {MAX_RATING_STEPS + 1} points (e.g. min = 1, max = 5)"
        )
        return DEFAULT_RATING
    return int(low), int(high)


def _condition(
    raw: Any,
    label: str,
    own_key: Any,
    positions: dict[str, int],
    everywhere: dict[str, int],
    earlier: list[SurveyQuestion],
    problems: list[str],
) -> SurveyCondition | None:
    where = f"{label}: show_if"
    if not isinstance(raw, Mapping):
        problems.append(f'{where} must be a table such as {{ question = "recommend", op = "<=", value = 6 }}')
        return None
    _unknown_keys(raw, ("question", "op", "value"), where, problems)
    target = raw.get("question")
    if not isinstance(target, str):
        problems.append(f"{where}: question is missing: the key of an earlier question")
        return None
    if target == own_key:
        problems.append(f"{where} names the question itself; a condition can only look at an earlier question")
        return None
    if target not in everywhere:
        problems.append(
            f"{where} names question {target!r}, which does not exist{_did_you_mean(target, everywhere)}; "
            f"the questions before it are: {', '.join(positions) or 'none'}"
        )
        return None
    if target not in positions:
        problems.append(
            f"{where} names question {target!r}, which comes later (question {everywhere[target]}); "
            "a condition can only look at an earlier question: move one of the two"
        )
        return None
    on = next((q for q in earlier if q.key == target), None)
    if on is None:
        return None  # the earlier question has its own problems, already reported
    op = raw.get("op", "=" if "value" in raw else "answered")
    allowed = KIND_OPERATORS[on.kind]
    if op not in allowed:
        problems.append(
            f"{where}: operator {op!r} does not apply to {on.kind} question {target!r}; use one of: {', '.join(allowed)}"
        )
        return None
    if op == "answered":
        if "value" in raw:
            problems.append(f"{where}: op 'answered' takes no value")
        return SurveyCondition(question=target, op=op, value=None)
    if "value" not in raw:
        problems.append(f"{where}: value is missing: what the answer to {target!r} is compared with")
        return None
    value = raw["value"]
    if op in ("in", "not in"):
        if not isinstance(value, (list, tuple)) or not value:
            problems.append(f"{where}: op {op!r} takes a list of values, not {value!r}")
            return None
        checked = [_condition_value(on, v, where, problems) for v in value]
        if any(v is None for v in checked):
            return None
        return SurveyCondition(question=target, op=op, value=tuple(checked))
    checked_value = _condition_value(on, value, where, problems)
    if checked_value is None:
        return None
    return SurveyCondition(question=target, op=op, value=checked_value)


def _condition_value(on: SurveyQuestion, value: Any, where: str, problems: list[str]) -> Any:
    if on.kind in SCORED_KINDS:
        if not _is_int(value) or not on.min <= value <= on.max:
            problems.append(
                f"{where}: {on.kind} question {on.key!r} takes whole numbers from {on.min} to {on.max}, not {value!r}"
            )
            return None
        return int(value)
    if on.kind in CHOICE_KINDS:
        if value not in on.choices:
            problems.append(
                f"{where}: {value!r}{_did_you_mean(str(value), on.choices)} is not one of the choices of {on.key!r}: "
                + ", ".join(on.choices)
            )
            return None
        return value
    if on.kind == "yes_no":
        if not isinstance(value, bool):
            problems.append(f"{where}: yes/no question {on.key!r} is compared with true or false, not {value!r}")
            return None
        return value
    return None


def _unknown_keys(raw: Mapping[str, Any], allowed: Iterable[str], where: str, problems: list[str]) -> None:
    allowed = tuple(allowed)
    for name in raw:
        if name not in allowed:
            problems.append(
                f"{where}: unknown key {name!r}{_did_you_mean(str(name), allowed)}; the keys here are: {', '.join(allowed)}"
            )


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "text", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def definition_from_content(content: Mapping[str, Any], key: str | None = None) -> SurveyDefinition:
    """Rebuild a stored version's definition (its content was checked when it was saved)."""
    data = dict(content)
    if key is not None:
        data["key"] = key
    return parse_definition(data, "a stored survey version")
