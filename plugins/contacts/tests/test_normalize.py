"""The fast paths of phone and e-mail normalisation give exactly the library's answers."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from crm_contacts.normalize import InvalidValue, _is_valid, normalize_email, normalize_phone


def test_compiled_validity_agrees_with_phonenumbers():
    rng = random.Random(3)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    checked = valid = 0
    for code in codes:
        for _ in range(60):
            national = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(3, 11)))
            expected = phonenumbers.is_valid_number(
                phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            )
            assert _is_valid(code, national) == expected, (code, national)
            checked += 1
            valid += expected
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
            example = phonenumbers.example_number(region)
            # numbers with a leading zero (Italy) never take the fast path
            if example is not None and example.country_code == code and not example.italian_leading_zero:
                national = str(example.national_number)
                assert _is_valid(code, national) == phonenumbers.is_valid_number(example), (region, national)
    assert checked > 10_000 and valid > 100  # the sample holds both answers


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+34 612 345 678", None, ("+34612345678", None)),
        ("0034612345678", None, ("+34612345678", None)),
        ("612 34 56 78", "ES", ("+34612345678", None)),
        ("+1 (202) 555-0143", None, ("+12025550143", None)),
        ("+44 20 7946 0958", None, ("+442079460958", None)),
        ("+39 06 1234 5678", None, ("+390612345678", None)),
        ("+49 30 12345678 ext. 12", None, ("+493012345678", "12")),
    ],
)
def test_phone_normalisation(text, region, expected):
    assert normalize_phone(text, region) == expected


def test_bad_phones_and_emails():
    with pytest.raises(InvalidValue, match="'\\+34 12' is not a valid phone number"):
        normalize_phone("+34 12")
    with pytest.raises(InvalidValue, match="no default region is set"):
        normalize_phone("612 345 678")
    with pytest.raises(InvalidValue, match="is not a valid e-mail address"):
        normalize_email("ana@example")
    assert normalize_email(" Ana.García@Example.COM ") == "ana.garcía@example.com"
    assert normalize_email("ANA@EXAMPLE.COM") == "ana@example.com"


def test_national_fast_path_agrees_with_phonenumbers():
    rng = random.Random(5)
    for region in ("ES", "FR", "DE", "GB", "IT", "MX", "NL", "PT", "US", "BR", "IN", "AR", "CH", "ID"):
        example = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.MOBILE
        ) or phonenumbers.example_number(region)
        base = phonenumbers.national_significant_number(example)
        for _ in range(300):
            digits = base[: rng.randint(1, len(base))] + "".join(
                str(rng.randint(0, 9)) for _ in range(rng.randint(0, 4))
            )
            digits = digits[: rng.randint(min(4, len(digits)), len(digits))]
            try:
                parsed = phonenumbers.parse(digits, region)
                expected = (
                    (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), parsed.extension or None)
                    if phonenumbers.is_valid_number(parsed)
                    else None
                )
            except phonenumbers.NumberParseException:
                expected = None
            try:
                got = normalize_phone(digits, region)
            except InvalidValue:
                got = None
            assert got == expected, (region, digits)
