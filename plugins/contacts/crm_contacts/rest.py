"""The contacts plugin's resources in the HTTP API (``crm_api_resources``): contacts, lists, duplicates, links.

Every handler calls the plugin's API object (``crm.plugin("contacts")``),
which checks the permissions and applies the caller's scope in SQL; this
module only maps HTTP to those calls. Listings page with an offset cursor in
the order the API object gives (contacts by name).
"""

from __future__ import annotations

from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource, ContactCard

__all__ = ["resources"]

_STATUS = ("prospect", "customer", "former")
_KIND = ("person", "organization")
_MAX_ID = 2**63 - 1


@attrs.frozen
class EmailInput:
    """An e-mail address of a contact."""

    address: str = attrs.field(metadata={"schema": {"format": "email", "maxLength": 254}})
    kind: str = "other"
    primary: bool = False


@attrs.frozen
class PhoneInput:
    """A phone number, in any common form (stored as E.164)."""

    number: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 50}})
    kind: str = "other"
    primary: bool = False
    extension: str | None = None


@attrs.frozen
class AddressInput:
    """A postal address; ``country`` is ISO 3166-1 alpha-2."""

    kind: str = "other"
    street: str = ""
    extra: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    country: str = attrs.field(default="", metadata={"schema": {"pattern": "^([A-Za-z]{2})?$"}})
    primary: bool = False


@attrs.frozen
class ContactInput:
    """The fields of a contact. A creation takes any of them; a change (PATCH) sets only the fields sent.

    ``emails``, ``phones``, ``addresses`` and ``tags`` replace the current
    ones; ``custom`` is merged (a ``null`` value removes a key).
    """

    kind: str = attrs.field(default="person", metadata={"schema": {"enum": list(_KIND)}})
    first_name: str = ""
    last_name: str = ""
    display_name: str | None = None
    organization_id: int | None = None
    status: str = attrs.field(default="prospect", metadata={"schema": {"enum": list(_STATUS)}})
    region: str | None = None
    country: str | None = None
    owner: str | None = None
    language: str | None = None
    do_not_contact: bool = False
    external_id: str | None = None
    notes: str | None = None
    name_prefix: str | None = None
    middle_name: str | None = None
    name_suffix: str | None = None
    nickname: str | None = None
    title: str | None = None
    department: str | None = None
    birthday: str | None = None
    website: str | None = None
    emails: list[EmailInput] = attrs.field(factory=list)
    phones: list[PhoneInput] = attrs.field(factory=list)
    addresses: list[AddressInput] = attrs.field(factory=list)
    tags: list[str] = attrs.field(factory=list)
    custom: dict[str, str | None] = attrs.field(factory=dict)


@attrs.frozen
class MergeInput:
    """The contact to fold into this one, and per field which value wins (``survivor``, ``merged``, ``newest``)."""

    merged_id: int = attrs.field(metadata={"schema": {"minimum": 1, "maximum": _MAX_ID}})
    rules: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Merged:
    """A merge done: its id (to undo it) and the surviving contact."""

    merge_id: int
    survivor_id: int


@attrs.frozen
class MembersInput:
    """Contacts to add to a list."""

    contact_ids: list[int] = attrs.field(metadata={"schema": {"minItems": 1, "maxItems": 10000}})


@attrs.frozen
class Added:
    """How many contacts were added (those already on the list are not counted)."""

    added: int


@attrs.frozen
class LinkInput:
    """The fields the customer may change through the link (default: every configured one), and its life."""

    fields: list[str] | None = None
    ttl_hours: float | None = attrs.field(default=None, metadata={"schema": {"exclusiveMinimum": 0, "maximum": 8760}})


def _contacts(crm: Any) -> Any:
    return crm.plugin("contacts")


def _page(items: list[Any], request: ApiRequest, total: int | None = None) -> ApiPage:
    offset = request.cursor or 0
    more = len(items) == request.limit
    return ApiPage(items=items, next=offset + len(items) if more else None, total=total)


def _search(crm: Any, request: ApiRequest) -> ApiPage:
    query = dict(request.query)
    text = query.pop("q", None)
    include_deleted = query.pop("include_deleted", "false").lower() in ("true", "1", "yes")
    filters: dict[str, Any] = dict(query)
    if "organization_id" in filters:
        filters["organization_id"] = int(filters["organization_id"])
    if "do_not_contact" in filters:
        filters["do_not_contact"] = filters["do_not_contact"].lower() in ("true", "1", "yes")
    # the cursor holds the last row's position (keyset paging) and how many rows came before; a bare number
    # is an offset (a cursor made before keyset paging)
    cursor = request.cursor
    position = {"after": cursor["after"]} if isinstance(cursor, dict) and "after" in cursor else {}
    offset = cursor.get("seen", 0) if position else (cursor if isinstance(cursor, int) else 0)
    found = _contacts(crm).search(
        text,
        limit=request.limit,
        offset=offset,
        include_deleted=include_deleted,
        count=request.count,  # a COUNT of every match only when ?count=true asks for it
        **filters,
        **position,
    )
    following = None
    if found.after is not None:
        following = {"after": list(found.after), "seen": offset + len(found.cards)}
    return ApiPage(items=list(found.cards), next=following, total=found.total if request.count else None)


def _create(crm: Any, request: ApiRequest) -> Any:
    return _contacts(crm).create(channel="api", **request.body)


def _update(crm: Any, request: ApiRequest) -> Any:
    return _contacts(crm).update(request.path["id"], channel="api", **request.body)


def _delete(crm: Any, request: ApiRequest) -> None:
    _contacts(crm).delete(request.path["id"], channel="api")


def _restore(crm: Any, request: ApiRequest) -> Any:
    return _contacts(crm).restore(request.path["id"], channel="api")


def _merge(crm: Any, request: ApiRequest) -> Merged:
    body = request.body
    merged_id = body.get("merged_id")
    if not isinstance(merged_id, int) or isinstance(merged_id, bool):
        raise ValidationError("merged_id must be the id of the contact to fold into this one")
    rules = body.get("rules") or {}
    merge_id = _contacts(crm).merge(request.path["id"], merged_id, rules, channel="api")
    return Merged(merge_id, request.path["id"])


def _duplicates(crm: Any, request: ApiRequest) -> ApiPage:
    pairs = _contacts(crm).find_duplicates(request.limit, offset=request.cursor or 0)
    return _page(list(pairs), request)


def _lists(crm: Any, request: ApiRequest) -> ApiPage:
    found = _contacts(crm).lists()
    return ApiPage(items=list(found), next=None, total=len(found))


def _members(crm: Any, request: ApiRequest) -> ApiPage:
    members = _contacts(crm).list_members(request.path["name"], limit=request.limit, offset=request.cursor or 0)
    return _page(list(members), request)


def _add_members(crm: Any, request: ApiRequest) -> Added:
    ids = request.body.get("contact_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError("contact_ids must be a list of contact ids")
    return Added(_contacts(crm).add_to_list(request.path["name"], ids))


def _remove_member(crm: Any, request: ApiRequest) -> None:
    _contacts(crm).remove_from_list(request.path["name"], [request.path["contact_id"]])


def _update_link(crm: Any, request: ApiRequest) -> Any:
    body = request.body or {}
    return _contacts(crm).issue_update_link(request.path["id"], body.get("fields"), body.get("ttl_hours"))


def _filters() -> list[ApiParam]:
    return [
        ApiParam("q", "Free text: an e-mail, a phone number or part of a name."),
        ApiParam("name", "Part of the name (case and accents ignored)."),
        ApiParam("email", "Any of the contact's e-mail addresses (exact)."),
        ApiParam("phone", "Any of the contact's phone numbers."),
        ApiParam("tag", "A tag the contact has."),
        ApiParam("status", "prospect, customer or former.", enum=_STATUS),
        ApiParam("region", "The sales region."),
        ApiParam("owner", "The user responsible (a user name)."),
        ApiParam("country", "ISO 3166-1 alpha-2 country code."),
        ApiParam("city", "The city of any postal address."),
        ApiParam("kind", "person or organization.", enum=_KIND),
        ApiParam("organization_id", "Members of this organization.", "integer", minimum=1, maximum=_MAX_ID),
        ApiParam("list", "Members of this mailing list (not unsubscribed)."),
        ApiParam("do_not_contact", "true or false.", "boolean"),
        ApiParam("created_after", "Created on or after this date.", format="date"),
        ApiParam("created_before", "Created before this date.", format="date"),
        ApiParam("include_deleted", "Also deleted (restorable) contacts.", "boolean"),
    ]


def resources(crm: Any) -> list[ApiResource]:
    from crm_contacts.records import ContactRecord
    from crm_hookspecs.records import UpdateLink

    records = ApiResource(
        "contacts",
        "The address book: current, former and prospective customers, people and organizations.",
        [
            ApiOperation(
                "GET",
                "/contacts",
                _search,
                "contacts.search",
                summary="Find contacts",
                returns=ContactCard,
                paginated=True,
                filters=_filters(),
                permission="contacts.read",
            ),
            ApiOperation(
                "POST",
                "/contacts",
                _create,
                "contacts.create",
                summary="Add a contact",
                returns=ContactRecord,
                body=ContactInput,
                status=201,
                location="contacts.get",
                permission="contacts.create",
            ),
            ApiOperation(
                "GET",
                "/contacts/{id:int}",
                lambda crm, r: _contacts(crm).get(r.path["id"]),
                "contacts.get",
                summary="Read a contact, with its e-mails, phones, addresses and custom fields",
                returns=ContactRecord,
                permission="contacts.read",
            ),
            ApiOperation(
                "PATCH",
                "/contacts/{id:int}",
                _update,
                "contacts.update",
                summary="Change the fields sent",
                returns=ContactRecord,
                body=ContactInput,
                etag_from="contacts.get",
                permission="contacts.edit",
            ),
            ApiOperation(
                "DELETE",
                "/contacts/{id:int}",
                _delete,
                "contacts.delete",
                summary="Delete a contact (it can be restored)",
                etag_from="contacts.get",
                permission="contacts.delete",
            ),
            ApiOperation(
                "POST",
                "/contacts/{id:int}/restore",
                _restore,
                "contacts.restore",
                summary="Restore a deleted contact",
                returns=ContactRecord,
                permission="contacts.delete",
            ),
            ApiOperation(
                "POST",
                "/contacts/{id:int}/merge",
                _merge,
                "contacts.merge",
                summary="Fold another contact into this one",
                returns=Merged,
                body=MergeInput,
                permission="contacts.merge",
            ),
            ApiOperation(
                "POST",
                "/contacts/{id:int}/update-links",
                _update_link,
                "contacts.update_link",
                summary="Make a link for the customer to update their own details",
                returns=UpdateLink,
                body=LinkInput,
                status=201,
                permission="contacts.updates.create",
            ),
            ApiOperation(
                "GET",
                "/duplicates",
                _duplicates,
                "contacts.duplicates",
                summary="Pairs of contacts that are probably one person",
                paginated=True,
                permission="contacts.merge",
            ),
        ],
    )
    lists = ApiResource(
        "lists",
        "Mailing and distribution lists, and who is on them.",
        [
            ApiOperation(
                "GET",
                "/lists",
                _lists,
                "contacts.lists",
                summary="The mailing lists",
                paginated=True,
                permission="contacts.lists.read",
            ),
            ApiOperation(
                "GET",
                "/lists/{name}/members",
                _members,
                "contacts.list_members",
                summary="A list's members",
                paginated=True,
                permission="contacts.lists.read",
            ),
            ApiOperation(
                "POST",
                "/lists/{name}/members",
                _add_members,
                "contacts.add_members",
                summary="Add contacts to a list",
                returns=Added,
                body=MembersInput,
                permission="contacts.lists.edit",
            ),
            ApiOperation(
                "DELETE",
                "/lists/{name}/members/{contact_id:int}",
                _remove_member,
                "contacts.remove_member",
                summary="Take a contact off a list",
                permission="contacts.lists.edit",
            ),
        ],
    )
    from crm_contacts import rest_people, rest_transfer

    return [records, lists, *rest_transfer.resources(crm, _filters()), *rest_people.resources(crm)]
