"""The campaigns themselves: made, changed, found by id or name, checked by rendering."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_campaigns.content import SUBJECT_MAX, FieldError, Templates, sample_card, variables
from crm_campaigns.models import Campaign
from crm_campaigns.records import CampaignInfo
from crm_core.errors import NotFoundError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Catalog", "NAME_MAX", "info"]

NAME_MAX = 200
TEXT_MAX = 200_000


def info(row: Campaign) -> CampaignInfo:
    return CampaignInfo(
        id=row.id,
        name=row.name,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        revision=row.revision,
        created_by=row.created_by,
        updated_by=row.updated_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def check_fields(name: str, subject: str, text: str, html: str | None) -> None:
    """Raise ``FieldError`` naming the field for a bad value, or a template that cannot render."""
    for field, value in (("name", name), ("subject", subject), ("text", text)):
        if not isinstance(value, str) or not value.strip():
            what = {"name": "a name, such as 'November newsletter'", "subject": "a subject", "text": "a text part"}
            raise FieldError(f"{field} is empty; give the campaign {what[field]}", field=field)
    if html is not None and not isinstance(html, str):
        raise FieldError("html must be a text, or null for a text-only campaign", field="html")
    if len(name) > NAME_MAX or "\n" in name or "\r" in name:
        raise FieldError(f"name must be one line of at most {NAME_MAX} characters", field="name")
    if len(subject) > SUBJECT_MAX:
        raise FieldError(f"subject is {len(subject)} characters; keep it under {SUBJECT_MAX}", field="subject")
    for field, value in (("text", text), ("html", html or "")):
        if len(value) > TEXT_MAX:
            raise FieldError(f"{field} is {len(value)} characters; keep it under {TEXT_MAX}", field=field)
    # compile, and render once with a made-up contact: a misspelt name fails now, not at send time
    Templates(subject, text, html).render(variables(sample_card()), "a sample contact")


class Catalog:
    """Reading and writing ``campaigns_campaign`` (no permission checks: the API object makes them)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def find(self, ref: int | str) -> Campaign:
        with self.crm.activate():
            row = None
            if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
                row = Campaign.get_or_none(Campaign.id == int(ref))
            if row is None and isinstance(ref, str):
                row = Campaign.get_or_none(Campaign.name == ref)
        if row is None:
            raise NotFoundError(f"no campaign has the id or name {ref!r}; 'crm campaigns list' shows them")
        return row

    def listing(self) -> list[CampaignInfo]:
        with self.crm.activate():
            return [info(row) for row in Campaign.select().order_by(Campaign.updated_at.desc(), Campaign.id.desc())]

    def create(self, name: str, subject: str, text: str, html: str | None, actor: str | None) -> CampaignInfo:
        html = html if html and html.strip() else None
        check_fields(name, subject, text, html)
        name = name.strip()
        now = self.crm.clock.now()
        with self.crm.transaction():
            if Campaign.get_or_none(Campaign.name == name) is not None:
                raise FieldError(f"a campaign named {name!r} exists; choose another name, or edit it", field="name")
            row = Campaign.create(
                name=name,
                subject=subject.strip(),
                text_body=text,
                html_body=html,
                created_by=actor,
                updated_by=actor,
                created_at=now,
                updated_at=now,
            )
        return info(row)

    def update(self, ref: int | str, changes: dict[str, Any], actor: str | None) -> CampaignInfo:
        unknown = set(changes) - {"name", "subject", "text", "html"}
        if unknown:
            raise FieldError(
                f"cannot change {', '.join(sorted(unknown))}; a campaign has name, subject, text and html",
                field=sorted(unknown)[0],
            )
        row = self.find(ref)
        name = changes.get("name", row.name)
        subject = changes.get("subject", row.subject)
        text = changes.get("text", row.text_body)
        html = changes.get("html", row.html_body)
        html = html if isinstance(html, str) and html.strip() else (None if html in (None, "") else html)
        check_fields(name, subject, text, html)
        name = name.strip()
        with self.crm.transaction():
            if name != row.name and Campaign.get_or_none(Campaign.name == name) is not None:
                raise FieldError(f"a campaign named {name!r} exists; choose another name", field="name")
            Campaign.update(
                name=name,
                subject=subject.strip(),
                text_body=text,
                html_body=html,
                revision=Campaign.revision + 1,
                updated_by=actor,
                updated_at=self.crm.clock.now(),
            ).where(Campaign.id == row.id).execute()
            return info(Campaign.get_by_id(row.id))
