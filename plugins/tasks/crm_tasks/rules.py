"""The rules engine's pure part: compiling rules, matching events, rendering templates.

Nothing here touches the database: :func:`compile_rules` turns the validated
rule tables into :class:`Rule` objects (checking every event type, field,
placeholder, staff member and team they name, so a mistake is found when the
configuration loads), and :meth:`RuleSet.match` finds, for a batch of events,
which rules fire. :mod:`crm_tasks.firing` then does what they say, set-based.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from crm_hookspecs.events import Event
    from crm_tasks.settings import RuleSettings
    from crm_tasks.staff import Roster

__all__ = ["Match", "Rule", "RuleSet", "compile_rules", "render"]

#: condition operators: name -> (test, what the value must be)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "exists": lambda a, b: (a is not None) == bool(b),
}
#: names every template may use besides the trigger's own fields
_COMMON = ("rule", "event_type", "today", "now")
_MISSING = object()


@attrs.frozen
class Condition:
    path: tuple[str, ...]
    op: str
    value: Any

    def test(self, event: Any) -> bool:
        return _OPS[self.op](_get(event, self.path), self.value)


def _get(obj: Any, path: Sequence[str]) -> Any:
    for part in path:
        if obj is None:
            return None
        if type(obj) is dict or isinstance(obj, Mapping):  # dict first: the ABC check is slow
            obj = obj.get(part)
        else:
            obj = getattr(obj, part, None)
    return obj


@attrs.frozen
class Rule:
    """A compiled rule: where it came from, what fires it, what it does."""

    name: str
    source: str
    trigger: str
    action: str
    event_type: str | None
    conditions: tuple[Condition, ...]
    field: str | None
    old: Any
    new: Any
    days: int | None
    delay: dt.timedelta | None
    only_if_open: bool
    settings: Any  # the RuleSettings it was compiled from
    #: names a template of this rule may use
    fields: frozenset[str]

    def describe_trigger(self) -> str:
        if self.trigger == "event":
            conds = ", ".join(f"{'.'.join(c.path)} {c.op} {c.value!r}" for c in self.conditions)
            return f"{self.event_type}" + (f" where {conds}" if conds else "")
        if self.trigger == "change":
            parts = [f"contact {self.field} changes"]
            if self.old is not None:
                parts.append(f"from {self.old!r}")
            if self.new is not None:
                parts.append(f"to {self.new!r}")
            return " ".join(parts)
        return f"customer with no won sale for {self.days} days"

    def describe_action(self) -> str:
        s = self.settings
        if self.action == "task":
            who = s.task.assignee or (f"team {s.task.team}" if s.task.team else "nobody")
            what = f"{s.task.kind} task {s.task.title!r} for {who}"
        else:
            what = f"e-mail {', '.join(s.notify.to)}: {s.notify.subject!r}"
        if self.delay:
            what += f", {s.delay} later" + (" if the record is still open" if self.only_if_open else "")
        return what

    def matches(self, event: Any) -> bool:
        if self.trigger == "change":
            change = event.changes.get(self.field)
            if change is None:
                return False
            if self.old is not None and change.old != self.old:
                return False
            if self.new is not None and change.new != self.new:
                return False
        for condition in self.conditions:
            if not condition.test(event):
                return False
        return True


@attrs.frozen
class Match:
    """A rule that fires for one event (or, for inactivity, one contact and period)."""

    rule: Rule
    #: the idempotency key: the event id, or ``contact:period`` for inactivity
    key: str
    event: Any
    #: the contact the firing concerns, if any
    contact_id: int | None
    #: the sales record the event is about, if any
    record_id: int | None = None
    #: extra template values (inactivity: last_purchase, days)
    extra: Mapping[str, Any] = attrs.field(factory=dict)


class RuleSet:
    """The enabled rules, indexed by the event type that fires them."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self.by_name = {r.name: r for r in self.rules}
        self._by_type: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if not rule.settings.enabled:
                continue
            if rule.trigger == "event":
                assert rule.event_type is not None  # compiling an event rule checked that it names one
                self._by_type.setdefault(rule.event_type, []).append(rule)
            elif rule.trigger == "change":
                self._by_type.setdefault("ContactChanged", []).append(rule)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._by_type)

    def inactivity_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.trigger == "inactivity" and r.settings.enabled]

    def match(self, events: Iterable[Event], only: Rule | None = None) -> list[Match]:
        """Every (rule, event) pair that fires, in event order."""
        by_type = self._by_type
        out: list[Match] = []
        for event in events:
            if only is not None:
                candidates = [only] if _fires_on(only, event) else ()
            else:
                candidates = by_type.get(event.type_name, ())
            for rule in candidates:
                if rule.matches(event):
                    ids = event.contact_ids()
                    out.append(
                        Match(
                            rule=rule,
                            key=event.event_id,
                            event=event,
                            contact_id=ids[0] if ids else None,
                            record_id=getattr(event, "record_id", None),
                        )
                    )
        return out


def _fires_on(rule: Rule, event: Event) -> bool:
    if rule.trigger == "event":
        return event.type_name == rule.event_type
    return rule.trigger == "change" and event.type_name == "ContactChanged"


# -- compiling ----------------------------------------------------------------


def compile_rules(items: Sequence[RuleSettings], roster: Roster | None, source: str) -> list[Rule]:
    """Check and compile rule tables; ``ValueError`` names the rule and the fix.

    The people and teams the rules name are checked against ``roster``
    (the CRM users, or the configured staff); with ``None`` they are not
    (the configuration is checked before the users can be read).
    """
    return [_compile(item, roster, source) for item in items]


def people_named(items: Sequence[RuleSettings]) -> tuple[set[str], bool]:
    """The people the rules name literally (not through a placeholder), and whether they name a team."""
    names: set[str] = set()
    teams = False
    for item in items:
        if item.task is not None:
            if item.task.assignee and not _placeholders(item.task.assignee):
                names.add(item.task.assignee)
            teams = teams or bool(item.task.team)
        if item.notify is not None:
            for recipient in item.notify.to:
                if _placeholders(recipient):
                    continue
                if recipient.startswith("team:"):
                    teams = True
                else:
                    names.add(recipient)
    return names, teams


def _event_class(name: str) -> type:
    from crm_hookspecs.events import registered_types

    types = registered_types()
    cls = types.get(name)
    if cls is None:
        known = ", ".join(sorted(types))
        raise ValueError(f"unknown event type {name!r}; the registered types are: {known}")
    return cls


def _compile(item: RuleSettings, roster: Roster | None, source: str) -> Rule:
    where = f"rule {item.name!r}"
    try:
        return _compile_checked(item, roster, source)
    except ValueError as exc:
        raise ValueError(f"{where} ({source}): {exc}") from None


def _compile_checked(item: RuleSettings, roster: Roster | None, source: str) -> Rule:
    from crm_tasks.settings import parse_duration

    fields: set[str] = set(_COMMON)
    event_type = None
    if item.trigger == "event":
        if not item.event:
            raise ValueError('trigger \'event\' needs event = "<EventType>" (e.g. "SurveyAnswered")')
        cls = _event_class(item.event)
        event_type = item.event
        fields |= {f.name for f in attrs.fields(cls)}
        if any(f in fields for f in getattr(cls, "__contact_fields__", ())):
            fields.add("contact")
    elif item.trigger == "change":
        if not item.field:
            raise ValueError('trigger \'change\' needs field = "<contact field>" (e.g. "status" or "owner")')
        event_type = "ContactChanged"
        fields |= {f.name for f in attrs.fields(_event_class("ContactChanged"))} | {"field", "old", "new", "contact"}
    else:
        if not item.days or item.days < 1:
            raise ValueError("trigger 'inactivity' needs days = N (1 or more): the days without a won sale")
        fields |= {"contact_id", "contact", "last_purchase", "customer_since", "days"}
        if item.when:
            raise ValueError("trigger 'inactivity' takes no 'when' conditions")
    for key, name in (("event", item.event), ("field", item.field)):
        expected = {"event": "event", "field": "change"}[key]
        if name is not None and item.trigger != expected:
            raise ValueError(f"'{key}' belongs to trigger '{expected}', not '{item.trigger}'; remove it")
    if item.trigger != "change" and (item.old is not None or item.new is not None):
        raise ValueError("'old' and 'new' belong to trigger 'change'; remove them")
    if item.days is not None and item.trigger != "inactivity":
        raise ValueError("'days' belongs to trigger 'inactivity'; remove it")

    conditions = tuple(_condition(key, value, fields) for key, value in (item.when or {}).items())

    if item.action == "task":
        if item.task is None:
            raise ValueError("action 'task' needs a [task] table with at least title = \"...\"")
        if item.notify is not None:
            raise ValueError("action 'task' takes a [task] table, not [notify]; remove it or use action = \"notify\"")
        t = item.task
        for label, text in (
            [("task.title", t.title), ("task.description", t.description), ("task.assignee", t.assignee or "")]
            + [(f"task.checklist[{i}]", s) for i, s in enumerate(t.checklist)]
            + [(f"task.questions[{i}]", s) for i, s in enumerate(t.questions)]
        ):
            check_template(text, fields, label)
        if roster is not None and t.assignee and not _placeholders(t.assignee) and roster.member(t.assignee) is None:
            raise ValueError(f"task.assignee {t.assignee!r} is not a staff member; {_staff_hint(roster)}")
        if roster is not None and t.team and roster.team(t.team) is None:
            raise ValueError(f"task.team {t.team!r} is not a team; {_team_hint(roster)}")
    else:
        if item.notify is None:
            raise ValueError("action 'notify' needs a [notify] table with to, subject and text")
        if item.task is not None:
            raise ValueError("action 'notify' takes a [notify] table, not [task]; remove it or use action = \"task\"")
        n = item.notify
        if not n.to:
            raise ValueError("notify.to is empty; name staff members, 'team:NAME' or a placeholder like '{owner}'")
        check_template(n.subject, fields, "notify.subject")
        check_template(n.text, fields, "notify.text")
        for i, recipient in enumerate(n.to):
            check_template(recipient, fields, f"notify.to[{i}]")
            if _placeholders(recipient) or roster is None:
                continue
            if recipient.startswith("team:"):
                if roster.team(recipient[5:]) is None:
                    raise ValueError(f"notify.to: {recipient[5:]!r} is not a team; {_team_hint(roster)}")
            elif roster.member(recipient) is None:
                raise ValueError(f"notify.to: {recipient!r} is not a staff member; {_staff_hint(roster)}")
    if item.only_if_open:
        if not item.delay:
            raise ValueError('only_if_open needs delay = "...": it is checked when the delay is over')
        if "record_id" not in fields:
            raise ValueError(
                f"only_if_open needs an event with a record_id (RequestReceived, StageChanged, SaleClosed), not {event_type}"
            )
    delay = parse_duration(item.delay) if item.delay else None
    return Rule(
        name=item.name,
        source=source,
        trigger=item.trigger,
        action=item.action,
        event_type=event_type,
        conditions=conditions,
        field=item.field,
        old=item.old,
        new=item.new,
        days=item.days,
        delay=delay,
        only_if_open=item.only_if_open,
        settings=item,
        fields=frozenset(fields),
    )


def _staff_hint(roster: Roster) -> str:
    names = roster.names() or "none yet"
    if roster.source == "users":
        return f"add the user with 'crm users add NAME' (users: {names})"
    return f"add it to [[plugins.tasks.staff]] (staff: {names})"


def _team_hint(roster: Roster) -> str:
    teams = ", ".join(sorted(roster.teams)) or "none yet"
    if roster.source == "users":
        return f"add the team with 'crm teams add NAME' and put users in it (teams: {teams})"
    return f'give a staff member teams = ["..."] (teams: {teams})'


def _condition(key: str, value: Any, fields: set[str]) -> Condition:
    path = tuple(key.split("."))
    if path[0] not in fields or path[0] in _COMMON:
        raise ValueError(
            f"condition on {key!r}: the event has no field {path[0]!r}; its fields are: "
            + ", ".join(sorted(fields - set(_COMMON) - {"contact"}))
        )
    if path[0] == "contact":
        raise ValueError(f"condition on {key!r}: conditions test the event's own fields, not the contact card")
    if isinstance(value, dict):
        if len(value) != 1:
            raise ValueError(f"condition on {key!r}: give one operator per field, e.g. {{gte = 5}}, not {value!r}")
        op, operand = next(iter(value.items()))
        if op not in _OPS:
            raise ValueError(f"condition on {key!r}: unknown operator {op!r}; use one of {', '.join(_OPS)}")
        if op in ("in", "not_in") and not isinstance(operand, list):
            raise ValueError(f'condition on {key!r}: \'{op}\' needs a list, e.g. {{{op} = ["rfp", "appointment"]}}')
        if op in ("in", "not_in"):
            operand = tuple(operand)
        return Condition(path, op, operand)
    return Condition(path, "eq", value)


_FORMATTER = string.Formatter()


def _placeholders(text: str) -> list[str]:
    try:
        return [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid template: {exc} (write a literal brace as {{{{ or }}}})") from None


def check_template(text: str, fields: Iterable[str], label: str) -> None:
    """Refuse a template naming a field the trigger does not offer."""
    from crm_hookspecs.records import ContactCard

    allowed = set(fields)
    card_fields = {f.name for f in attrs.fields(ContactCard)}
    names = _placeholders(text)
    compiled(text)  # refuses what the renderer cannot do (nested specs)
    for name in names:
        if not name:
            raise ValueError(f"{label}: {{}} needs a field name, e.g. {{contact_id}}")
        root, rest = _split(name)
        if root not in allowed:
            offered = ", ".join(sorted(allowed))
            raise ValueError(
                f"{label}: the template uses {{{name}}} but the event has no field {root!r}; the fields are: {offered}"
            )
        if root == "contact" and rest:
            attr = rest[0]
            if attr not in card_fields:
                raise ValueError(
                    f"{label}: {{{name}}}: a contact card has no field {attr!r}; the fields are: {', '.join(sorted(card_fields))}"
                )


def _split(name: str) -> tuple[str, list[str]]:
    """``"contact.owner"`` → ``("contact", ["owner"])``; ``"scores[nps]"`` → ``("scores", ["nps"])``."""
    root = name
    for sep in (".", "["):
        root = root.split(sep, 1)[0]
    rest = name[len(root) :]
    parts = [p.strip("]") for p in rest.replace("[", ".").split(".") if p]
    return root, parts


# -- rendering ----------------------------------------------------------------


def _format(value: Any, spec: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and not spec:
        return value.strftime("%Y-%m-%d %H:%M")
    return format(value, spec)


_CONVERT: dict[str, Callable[[object], str]] = {"r": repr, "s": str, "a": ascii}
#: whether a class is a Mapping (a template's ``{a.b}`` reads a key of one, an attribute of anything else)
_MAPPING: dict[type, bool] = {}


class Template:
    """A template parsed once: literal text and ``{field.path:spec}`` parts, rendered by joining."""

    __slots__ = ("constant", "parts")

    def __init__(self, text: str) -> None:
        parts: list[tuple[str, str | None, tuple[str, ...], str, Callable[[object], str] | None]] = []
        for literal, name, spec, conversion in _FORMATTER.parse(text):
            if name is None:
                parts.append((literal, None, (), "", None))
                continue
            if "{" in (spec or ""):
                raise ValueError(f"{text!r}: nested fields in a format spec are not supported")
            root, rest = _split(name)
            parts.append((literal, root, tuple(rest), spec or "", _CONVERT.get(conversion) if conversion else None))
        self.parts = tuple(parts)
        #: the text itself when it has no fields: rendered once, not for every match
        self.constant: str | None = (
            "".join(literal for literal, *_ in parts) if all(root is None for _, root, *_ in parts) else None
        )

    def render(self, context: Mapping[str, Any]) -> str:
        if self.constant is not None:
            return self.constant
        out = []
        for literal, root, rest, spec, convert in self.parts:
            if literal:
                out.append(literal)
            if root is None:
                continue
            value = context[root]
            for part in rest:  # _get's steps, inline: a template renders once per match
                if value is None:
                    break
                cls = value.__class__
                mapping = _MAPPING.get(cls)
                if mapping is None:  # once per class: isinstance of an ABC cost a third of a field's rendering
                    mapping = _MAPPING[cls] = cls is dict or isinstance(value, Mapping)
                if mapping:
                    value = value.get(part)
                else:
                    value = getattr(value, part, None)
            if convert is not None:
                value = convert(value)
            if value.__class__ is str and not spec:
                out.append(value)  # what _format gives a text without a spec, without the call
            elif value is not None:  # None renders as nothing
                out.append(_format(value, spec))
        return "".join(out)


@functools.lru_cache(maxsize=4096)
def compiled(text: str) -> Template:
    return Template(text)


class Context(Mapping[str, Any]):
    """The values a template sees: the event's fields plus contact, rule, dates."""

    def __init__(self, match: Match, contact: Any, now: dt.datetime) -> None:
        self._match = match
        self._contact = contact
        self._now = now

    def __getitem__(self, key: str) -> Any:
        m = self._match
        if key in m.extra:
            return m.extra[key]
        if key == "contact":
            return self._contact
        if key == "rule":
            return m.rule.name
        if key == "event_type":
            return m.rule.event_type
        if key == "today":
            return self._now.date().isoformat()
        if key == "now":
            return self._now
        if key in ("field", "old", "new") and m.rule.trigger == "change":
            change = m.event.changes[m.rule.field]
            return m.rule.field if key == "field" else getattr(change, key)
        if m.event is None:
            if key == "contact_id":
                return m.contact_id
            raise KeyError(key)
        value = getattr(m.event, key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:  # pragma: no cover - Mapping protocol; templates only use __getitem__
        return iter(())

    def __len__(self) -> int:  # pragma: no cover
        return 0


def render(text: str, context: Context) -> str:
    """``text`` with its ``{fields}`` filled from ``context`` (``None`` renders as nothing)."""
    return compiled(text).render(context)


class MissingContact:
    """Stands in for the contact card when the contacts plugin cannot give one."""

    def __init__(self, contact_id: int | None) -> None:
        self.id = contact_id
        self.display_name = f"contact #{contact_id}" if contact_id is not None else ""

    def __getattr__(self, name: str) -> Any:
        return None
