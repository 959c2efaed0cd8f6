"""Checking and normalising the values of a contact: e-mail, phone, country, names.

Pure functions with no database, so that import workers can run them in other
processes. Each raises :class:`InvalidValue` with the reason; callers add the
field name and the row.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from crm_core.i18n import N_, Message

__all__ = [
    "ADDRESS_KINDS",
    "EMAIL_KINDS",
    "InvalidValue",
    "KINDS",
    "PHONE_KINDS",
    "STATUSES",
    "name_key",
    "normalize_country",
    "normalize_email",
    "normalize_kind",
    "normalize_phone",
    "normalize_tag",
    "parse_bool",
    "country_or_none",
    "is_exchange_address",
    "normalize_date",
    "read_phone",
]

KINDS = ("person", "organization")
STATUSES = ("prospect", "customer", "former")
EMAIL_KINDS = ("work", "home", "other")
PHONE_KINDS = ("mobile", "work", "home", "fax", "other")
ADDRESS_KINDS = ("work", "home", "other")
_KIND_ALIASES = {
    "cell": "mobile",
    "cellular": "mobile",
    "mobile phone": "mobile",
    "business": "work",
    "office": "work",
    "internet": "other",
    "pref": "other",
    "voice": "other",
    "main": "work",
    "personal": "home",
    "private": "home",
    "work fax": "fax",
    "home fax": "fax",
    "business fax": "fax",
}


class InvalidValue(ValueError):
    """A value that cannot be stored; ``str(err)`` says why."""


# -- e-mail -------------------------------------------------------------------

# RFC 5322 dot-atom with ASCII atext only: every such local part is accepted
# unchanged by email-validator, so only the domain needs its (cached) check.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


@functools.lru_cache(maxsize=65536)
def _email_domain(domain: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email("postmaster@" + domain, check_deliverability=False).domain.lower()
    except EmailNotValidError as exc:
        raise InvalidValue(str(exc)) from None


def normalize_email(text: str) -> str:
    """The address checked for syntax (no DNS) and lower-cased: ``Ana@Example.COM`` → ``ana@example.com``."""
    value = text.strip()
    if not value:
        raise InvalidValue(Message(N_("the e-mail address is empty")))
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and len(value) <= 254 and _DOT_ATOM.match(local):
        try:
            return local.lower() + "@" + _email_domain(domain)
        except InvalidValue as exc:
            raise InvalidValue(
                Message(N_("%(value)r is not a valid e-mail address: %(reason)s"), value=value, reason=str(exc))
            ) from None
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue(
            Message(N_("%(value)r is not a valid e-mail address: %(reason)s"), value=value, reason=str(exc))
        ) from None
    return result.normalized.lower()


# -- phone ----------------------------------------------------------------------

_PHONE_PUNCT = str.maketrans("", "", " -.()/\u00a0")


@functools.lru_cache(maxsize=512)
def _prefix_for_parsing(country_code: int) -> re.Pattern[str] | None:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return None
    meta = PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    if meta is None or not meta.national_prefix_for_parsing:
        return None
    return re.compile(meta.national_prefix_for_parsing)


_Desc = tuple  # (possible lengths, compiled national number pattern)


@functools.lru_cache(maxsize=512)
def _validity_plan(country_code: int) -> tuple[_Desc, tuple[_Desc, ...]] | None:
    """The general and per-type number patterns of a one-region country code, compiled once.

    ``None`` for a code shared by several regions (+1, +7, +44…), whose region
    phonenumbers must work out first.
    """
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions or len(regions) != 1:
        return None
    meta = PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    if meta is None:
        return None

    def desc(d: object) -> _Desc | None:
        pattern = getattr(d, "national_number_pattern", None)
        if not pattern:
            return None
        return frozenset(getattr(d, "possible_length", None) or ()), re.compile(pattern)

    general = desc(meta.general_desc)
    if general is None:
        return None
    kinds = [
        meta.premium_rate,
        meta.toll_free,
        meta.shared_cost,
        meta.voip,
        meta.personal_number,
        meta.pager,
        meta.uan,
        meta.voicemail,
        meta.fixed_line,
    ]
    if not meta.same_mobile_and_fixed_line_pattern:
        kinds.insert(0, meta.mobile)  # the commonest kind in address books first
    return general, tuple(d for d in map(desc, kinds) if d is not None)


def _matches(national: str, desc: _Desc) -> bool:
    # phonenumbers' own test: the possible lengths, then the whole pattern
    lengths, pattern = desc
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None


def _is_valid(country_code: int, national: str) -> bool:
    """``phonenumbers.is_valid_number`` for a number without a leading zero, with compiled patterns."""
    plan = _validity_plan(country_code)
    if plan is None:
        from phonenumbers import PhoneNumber, is_valid_number

        return bool(is_valid_number(PhoneNumber(country_code=country_code, national_number=int(national))))
    general, kinds = plan
    return _matches(national, general) and any(_matches(national, k) for k in kinds)


def _fast_e164(digits: str) -> str | None:
    """``+<digits>`` checked without phonenumbers.parse, when parse would not alter it.

    parse() only rewrites an international number when the region's
    national-prefix pattern matches its start, or it has a leading zero; in
    every other case the result is the digits as given, so validating the
    PhoneNumber directly gives the same answer several times faster. Returns
    ``None`` when the slow path must decide.
    """
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if not national or national[0] == "0" or len(digits) > 15:
        return None
    pattern = _prefix_for_parsing(code)
    if pattern is not None and pattern.match(national):
        return None
    if _is_valid(code, national):
        return "+" + digits
    return None


@functools.lru_cache(maxsize=256)
def _region_code(region: str) -> int:
    from phonenumbers import country_code_for_region

    return int(country_code_for_region(region))


def _fast_national(digits: str, region: str) -> str | None:
    """A national number without a trunk prefix, checked without phonenumbers.parse.

    parse() keeps such a number as written unless the region's
    national-prefix pattern matches its start or it begins with the
    region's own country code (which parse may strip); those, and regions
    sharing a country code, go to the slow path (``None``).
    """
    code = _region_code(region)
    if not code or _validity_plan(code) is None or digits.startswith(str(code)) or len(digits) > 15:
        return None
    pattern = _prefix_for_parsing(code)
    if pattern is not None and pattern.match(digits):
        return None
    if _is_valid(code, digits):
        return f"+{code}{digits}"
    return None


def normalize_phone(text: str, region: str | None = None) -> tuple[str, str | None]:
    """``(E.164 number, extension or None)``; national numbers use ``region``."""
    value = text.strip()
    if not value:
        raise InvalidValue(Message(N_("the phone number is empty")))
    compact = value.translate(_PHONE_PUNCT)
    if compact.startswith("00") and compact.isdigit():
        compact = "+" + compact[2:]
    if compact.startswith("+") and compact[1:].isdigit() and len(compact) > 3:
        fast = _fast_e164(compact[1:])
        if fast is not None:
            return fast, None
    elif region and compact.isdigit() and compact[0] != "0":
        fast = _fast_national(compact, region.upper())
        if fast is not None:
            return fast, None
    import phonenumbers

    try:
        number = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            hint = (
                "write it in international form (+<country code>…); no default region is set"
                if not region
                else f"its country code is unknown (default region {region.upper()})"
            )
            raise InvalidValue(
                Message(N_("%(value)r is not a valid phone number: %(reason)s"), value=value, reason=hint)
            ) from None
        raise InvalidValue(
            Message(N_("%(value)r is not a valid phone number: %(reason)s"), value=value, reason=exc._msg)
        ) from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number)
        place = f"region {where}" if where else f"country code +{number.country_code}"
        raise InvalidValue(Message(N_("%(value)r is not a valid phone number for %(place)s"), value=value, place=place))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, (number.extension or None)


def read_phone(text: str, regions: Sequence[str | None]) -> tuple[str, str | None, bool]:
    """``(number, extension, verified)``: the number read in the first of ``regions`` where it is valid.

    ``regions`` are tried in order (the row's own countries, then the
    configured default region); a number written in international form needs
    none. A number valid in none of them is kept as typed (whitespace
    collapsed) with ``verified`` false, so one unreadable phone never costs
    a contact its name and e-mail.
    """
    value = " ".join(text.split())
    if not value:
        raise InvalidValue(Message(N_("the phone number is empty")))
    tried: list[str | None] = []
    for region in regions or (None,):
        if region in tried:
            continue
        tried.append(region)
        try:
            number, extension = normalize_phone(value, region)
        except InvalidValue:
            continue
        return number, extension, True
    if None not in tried:
        try:  # an international number needs no region at all
            number, extension = normalize_phone(value, None)
            return number, extension, True
        except InvalidValue:
            pass
    if len(value) > PHONE_TYPED_LIMIT:
        raise InvalidValue(
            Message(
                N_(
                    "%(start)r… is not a phone number that can be read, and at %(length)d characters it is too long "
                    "to keep as typed (the limit is %(limit)d)"
                ),
                start=value[:30],
                length=len(value),
                limit=PHONE_TYPED_LIMIT,
            )
        )
    return value, None, False


#: the longest phone kept as typed when it cannot be read (the column's size)
PHONE_TYPED_LIMIT = 64


def is_exchange_address(text: str) -> bool:
    """An Exchange (``EX``) address such as ``/o=ExchangeLabs/ou=…/cn=Recipients/cn=…``, as Outlook exports it."""
    value = text.strip().lower()
    return value.startswith("/o=") and "/cn=" in value


_DAY_FIRST_EXCEPTIONS = frozenset({"US", "CA", "PH", "FM", "MH", "PW"})


def normalize_date(text: str, region: str | None = None) -> str:
    """A calendar date as ISO 8601 ``YYYY-MM-DD``, or ``--MM-DD`` without a year (vCard's form).

    Reads ``1980-05-17``, ``19800517``, ``--05-17``, ``--0517`` and dates with
    slashes or dots (``17/05/1980``): those are read day first, except in
    regions that write the month first (``US``, ``CA``…), and either way an
    order that cannot be a date is not guessed at. ``0/0/00`` (Outlook's
    "no date") is empty.
    """
    value = text.strip()
    if value in ("", "0/0/00", "00/00/0000", "0000-00-00"):
        return ""
    import datetime as dt

    def checked(year: int | None, month: int, day: int) -> str:
        try:
            dt.date(year or 2000, month, day)  # 2000: a leap year, so --02-29 is a date
        except ValueError:
            raise InvalidValue(Message(N_("%(value)r is not a date"), value=value)) from None
        return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"

    compact = value.replace("-", "")
    if value.startswith("--") and compact.isdigit() and len(compact) == 4:
        return checked(None, int(compact[:2]), int(compact[2:]))
    if compact.isdigit() and len(compact) == 8 and (len(value) == 8 or value[4:5] == "-" and value[7:8] == "-"):
        return checked(int(compact[:4]), int(compact[4:6]), int(compact[6:]))
    if "T" in value and value[:10].count("-") == 2:  # a vCard date-time: the date is what is kept
        return normalize_date(value[:10], region)
    parts = re.split(r"[/.]", value)
    if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
        a, b, year = (int(p) for p in parts)
        if len(parts[2].strip()) == 2:
            year += 1900 if year > 30 else 2000
        month_first = (region or "").upper() in _DAY_FIRST_EXCEPTIONS
        month, day = (a, b) if month_first else (b, a)
        if month > 12 and day <= 12:
            month, day = day, month
        return checked(year, month, day)
    raise InvalidValue(
        Message(N_("%(value)r is not a date; write it as YYYY-MM-DD (or --MM-DD without the year)"), value=value)
    )


# -- the rest -------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code."""
    from phonenumbers import SUPPORTED_REGIONS

    # phonenumbers' regions are ISO 3166-1 alpha-2 codes (plus 001 for
    # non-geographic numbers); add the few codes that have no phone plan
    return frozenset(r for r in SUPPORTED_REGIONS if r.isalpha()) | {"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}


def normalize_country(text: str) -> str:
    """An ISO 3166-1 alpha-2 code from a code (any case) or a country's name in any CLDR language.

    ``es``, ``Spain``, ``España``, ``Alemania``, ``Reino Unido``, ``Deutschland`` all work.
    """
    value = text.strip()
    code = value.upper()
    if len(code) == 2 and code in countries():
        return code
    from crm_contacts.countries import country_index, country_key

    key = country_key(value)
    named = country_index().get(key) if key else None
    if named:
        return named
    raise InvalidValue(
        Message(
            N_(
                "%(value)r is not a country: write an ISO 3166-1 alpha-2 code (such as ES, FR, US) or the country's name"
            ),
            value=value,
        )
    )


def country_or_none(text: str | None) -> str | None:
    """:func:`normalize_country`, or ``None`` for an empty or unknown value (for reading phones)."""
    if not text or not text.strip():
        return None
    try:
        return normalize_country(text)
    except InvalidValue:
        return None


def normalize_kind(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``Cell`` → ``mobile``; refuses a type that is not in ``allowed``."""
    key = value.strip().lstrip("*").strip().lower()
    if not key:
        return "other"
    key = _KIND_ALIASES.get(key, key)
    if key not in allowed:
        raise InvalidValue(
            Message(
                N_("%(value)r is not a %(what)s type; use one of %(allowed)s"),
                value=value,
                what=what,
                allowed=", ".join(allowed),
            )
        )
    return key


def normalize_tag(text: str) -> str:
    tag = " ".join(text.split()).lower()
    if not tag:
        raise InvalidValue(Message(N_("a tag cannot be empty")))
    if len(tag) > 100:
        raise InvalidValue(Message(N_("the tag %(start)r… is longer than 100 characters"), start=tag[:20]))
    return tag


_TRUE = {"1", "true", "yes", "y", "on", "x", "si", "sí"}
_FALSE = {"", "0", "false", "no", "n", "off"}


def parse_bool(text: str) -> bool:
    key = text.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise InvalidValue(Message(N_("%(value)r is not a yes/no value (use true/false, yes/no or 1/0)"), value=text))


def name_key(*parts: str | None) -> str:
    """Lower-case, accent-free, single-spaced: what name searches compare."""
    text = " ".join(p for p in parts if p)
    if text.isascii():
        return " ".join(text.lower().split())
    # word by word, each folded once per process: names share a small vocabulary, and the
    # character-by-character strip of a whole name was a sixth of an import's CPU (cProfile).
    # A space ends every decomposition and case context, so the words fold independently;
    # a compatibility character that decomposes into a space is split again here.
    return " ".join(" ".join(_fold_word(w) for w in text.split()).split())


@functools.lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    """One word of a name without its accents, in lower case (see :func:`name_key`)."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
