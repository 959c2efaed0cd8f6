"""``[plugins.contacts]``: the plugin's settings, validated by the kernel with cattrs."""

from __future__ import annotations

import attrs

__all__ = ["ContactsSettings", "LabelSettings", "SelfServiceSettings"]

#: the fields self-service may change; update tokens encode them as bits in this
#: order, so new fields go at the end and none is ever removed or moved
SELF_SERVICE_FIELDS = (
    "first_name",
    "last_name",
    "display_name",
    "language",
    "emails",
    "phones",
    "addresses",
    "do_not_contact",
)


def _region(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value and not (len(value) == 2 and value.isalpha() and value.isupper()):
        raise ValueError(f"must be an upper-case ISO 3166-1 alpha-2 code such as ES or US, or empty; not {value!r}")


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"must be greater than 0, not {value!r}")


@attrs.frozen
class SelfServiceSettings:
    """``[plugins.contacts.self_service]``: links that let a customer update his details."""

    #: the HMAC key that signs update links; required to issue them (use "env:NAME")
    secret: str = ""
    #: how long a link stays valid
    ttl_hours: int = attrs.field(default=72, validator=_positive)
    #: ``review`` queues submitted changes for staff; ``apply`` applies them at once
    mode: str = attrs.field(default="review")
    #: the fields a link lets the customer change unless the link names fewer
    fields: tuple[str, ...] = attrs.field(default=SELF_SERVICE_FIELDS)
    #: the start of the link printed by ``crm contacts update-link``; the token is appended
    base_url: str = "http://localhost:8000/contacts/update?token="

    @mode.validator
    def _check_mode(self, attribute: attrs.Attribute, value: str) -> None:
        if value not in ("review", "apply"):
            raise ValueError(f"must be 'review' or 'apply', not {value!r}")

    @fields.validator
    def _check_fields(self, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        unknown = [f for f in value if f not in SELF_SERVICE_FIELDS]
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} cannot be changed through self-service; choose from {', '.join(SELF_SERVICE_FIELDS)}"
            )


@attrs.frozen
class LabelSettings:
    """``[plugins.contacts.labels]``: the sheet of the printable address labels."""

    #: ``A4`` or ``letter``
    page_size: str = attrs.field(default="A4")
    columns: int = attrs.field(default=3, validator=_positive)
    rows: int = attrs.field(default=8, validator=_positive)
    #: page margin, in millimetres
    margin_mm: float = attrs.field(default=10.0)
    font_size: float = attrs.field(default=10.0, validator=_positive)

    @page_size.validator
    def _check_size(self, attribute: attrs.Attribute, value: str) -> None:
        if value not in ("A4", "letter"):
            raise ValueError(f"must be 'A4' or 'letter', not {value!r}")


@attrs.frozen
class ContactsSettings:
    """``[plugins.contacts]``."""

    #: region for phone numbers written without a country code (ISO 3166-1 alpha-2)
    default_region: str = attrs.field(default="", validator=_region)
    #: rows validated and written per batch by imports
    import_batch_size: int = attrs.field(default=5000, validator=_positive)
    #: how alike two names must be (0–1) for ``duplicates`` to pair them
    duplicate_name_similarity: float = attrs.field(default=0.88)
    self_service: SelfServiceSettings = attrs.field(factory=SelfServiceSettings)
    labels: LabelSettings = attrs.field(factory=LabelSettings)

    @duplicate_name_similarity.validator
    def _check_similarity(self, attribute: attrs.Attribute, value: float) -> None:
        if not 0 < value <= 1:
            raise ValueError(f"must be between 0 and 1, not {value!r}")
