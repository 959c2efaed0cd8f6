"""Finding likely duplicate contacts, in time and memory that grow linearly with the book.

Two contacts are a pair, with the reasons said, when (the rules are those of
``crm contacts duplicates`` in the docs):

- they share a normalised e-mail address or a phone (E.164): found by the
  database (``GROUP BY … HAVING COUNT(DISTINCT contact) > 1``), so only the
  shared values come back;
- they are people whose names are alike within one organization or city,
  with a second signal (nothing contradicts them, and they share the
  organization, the postal address or the city).

Comparing every two names of a city is quadratic (155,000 contacts took
22 minutes), so names are compared only inside **blocks**: people of one
organization, or of one city, whose normalised names start with the same
two letters. A block of at most ``BLOCK_LIMIT`` people is compared pair by
pair; a larger one (``ma…`` in Madrid) by a *sorted neighbourhood*: each
person with the ``WINDOW`` next ones in three orders of the block (by name,
by name with the first word moved last, by the name read backwards), so a
typo at the start, middle or end of a name still lands its two spellings
side by side; people of the exact same name are paired without a window
while there are at most ``BLOCK_LIMIT`` of them. Either way a person is
compared with a bounded number of others, whatever the size of the book.
Similarity is rapidfuzz's normalised Indel similarity (``2·LCS / (len a +
len b)``, the exact value of what ``difflib``'s ratio approximates), in C.

Memory stays bounded: people are read in pages of plain rows (no model
objects), their block entries are sorted by a working SQLite file in a
temporary folder (an external sort: SQLite spills to disk, whatever the
database of the CRM), candidate pairs are checked against e-mails and phones
a batch at a time, and the pairs found are kept in that file too, so a page
of results (``limit``, ``offset``) costs no more than the scan.
"""

from __future__ import annotations

import itertools
import json
import operator
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import peewee
from rapidfuzz import process
from rapidfuzz.distance import Indel

from crm_contacts.book import IN_CHUNK
from crm_contacts.models import Contact, ContactAddress, ContactEmail, ContactPhone, live_in_id_order
from crm_core.errors import StorageError, ValidationError
from crm_core.i18n import N_, Message
from crm_core.storage import batched

__all__ = ["BLOCK_LIMIT", "DuplicateFinder", "DuplicatePair", "DuplicateScan", "Duplicates", "WINDOW"]

#: a block of at most this many people is compared pair by pair
BLOCK_LIMIT = 100
#: in a larger block, each person is compared with this many neighbours per order
WINDOW = 20
#: people read per query
PAGE = 5000
#: candidate pairs checked per round of e-mail and phone queries
CHECK_BATCH = 4000

# the order of a pair's reasons: e-mails, phones, then the name and its second signal
_EMAIL, _PHONE, _NAME, _SIGNAL = range(4)


@attrs.frozen
class DuplicatePair:
    """Two contacts that are probably one, and why."""

    first_id: int
    second_id: int
    first_name: str
    second_name: str
    reasons: tuple[str, ...]


@attrs.frozen
class DuplicateScan:
    """One page of pairs (lowest ids first) and what the scan did to find them.

    ``total`` counts every pair found, so ``offset + len(pairs) < total``
    means there is a next page. ``comparisons`` counts the pairs of names
    looked at (similarity computed, or the same name seen): the cost that
    blocking keeps proportional to the book.
    """

    pairs: tuple[DuplicatePair, ...]
    total: int
    offset: int
    people: int
    blocks: int
    comparisons: int
    candidates: int


# (id, name_key, organization id, city, street, postal code) of one person
#: a person in a block: (block, id, name_key, organization id, city, street, postal code, e-mails, phones),
#: the last two joined by newlines
_Entry = tuple[str, int, str, int | None, str | None, str | None, str | None, str, str]


class DuplicateFinder:
    """One scan of a CRM's contacts for duplicates (see the module doc).

    ``block_limit`` and ``window`` are the sizes above; the defaults are the
    product's, smaller ones let a test reach the large-block path on a small book.
    """

    def __init__(
        self,
        crm: Any,
        *,
        threshold: float | None = None,
        block_limit: int = BLOCK_LIMIT,
        window: int = WINDOW,
        progress: Callable[[str, int], None] | None = None,
        visible: Any = None,
    ) -> None:
        self.crm = crm
        #: the reader's contact scope (a peewee expression on Contact): pairs are made of these contacts only
        self.visible = visible
        self.threshold = float(
            threshold if threshold is not None else crm.settings("contacts").duplicate_name_similarity
        )
        # rapidfuzz's float may round a hair below a ratio that is exactly the threshold: let it through, _ratio decides
        self.cutoff = self.threshold - 1e-9
        self.block_limit = block_limit
        self.window = window
        self.progress = progress or (lambda phase, done: None)
        self.people = self.blocks = self.comparisons = self.candidates = 0

    # -- the scan ------------------------------------------------------------

    def scan(self, limit: int | None = 100, offset: int = 0) -> DuplicateScan:
        """Find every pair; return the ``limit`` pairs after the first ``offset`` (``None``: all)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValidationError(
                f"duplicates: limit must be a whole number of at least 1 (or None for every pair), not {limit!r}"
            )
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValidationError(f"duplicates: offset must be a whole number of at least 0, not {offset!r}")
        self.people = self.blocks = self.comparisons = self.candidates = 0
        with tempfile.TemporaryDirectory(prefix="crm-duplicates-") as folder:
            store = _Store(Path(folder) / "work.db")
            try:
                with self.crm.activate():
                    self._shared_values(store)
                    self._read_people(store)
                    self._compare_blocks(store)
                    page, total = store.page(limit, offset)
                    names = self._display_names({i for a, b, _ in page for i in (a, b)})
            except sqlite3.OperationalError as exc:
                # the scratch file, not the CRM's database: most likely a full disk
                raise StorageError(
                    f"duplicates: the scan's scratch file in {folder} failed ({exc}); it needs about 150 bytes per person, twice that while sorting: "
                    "free space there, or point TMPDIR at a folder with room. Nothing was changed."
                ) from exc
            finally:
                store.close()
        pairs = tuple(DuplicatePair(a, b, names.get(a, ""), names.get(b, ""), reasons) for a, b, reasons in page)
        return DuplicateScan(pairs, total, offset, self.people, self.blocks, self.comparisons, self.candidates)

    def _shared_values(self, store: _Store) -> None:
        """Pairs that share an e-mail or a phone: the database returns only the values held twice."""
        for model, column, what, seq in (
            (ContactEmail, ContactEmail.address, "e-mail", _EMAIL),
            (ContactPhone, ContactPhone.number, "phone", _PHONE),
        ):
            other, live = model.alias("o"), Contact.alias("l")
            other_column = getattr(other, column.name)
            shared_where = live.deleted_at.is_null()
            if self.visible is not None:
                shared_where &= other.contact.in_(Contact.select(Contact.id).where(self.visible))
            shared = (
                other.select(other_column)
                .join(live, on=(live.id == other.contact))
                .where(shared_where)
                .group_by(other_column)
                .having(peewee.fn.COUNT(other.contact.distinct()) > 1)
            )
            query = (
                model.select(column, model.contact)
                .join(Contact, on=(Contact.id == model.contact))
                .where(Contact.deleted_at.is_null() & column.in_(shared) & self._in_scope())
                .tuples()
                .iterator()
            )
            holders: dict[str, set[int]] = {}
            for value, cid in query:
                holders.setdefault(value, set()).add(cid)
            for value in sorted(holders):
                ids = sorted(holders[value])
                reason = (
                    Message(N_("same e-mail %(value)s"), value=value)
                    if what == "e-mail"
                    else Message(N_("same phone %(value)s"), value=value)
                )
                store.add_pairs((a, b, seq, reason) for a, b in itertools.combinations(ids, 2))
            self.progress("shared e-mails and phones", len(holders))

    def _read_people(self, store: _Store) -> None:
        """Page through the live people by id and file each under its blocks."""
        last = 0
        live_people = live_in_id_order(self.crm.database) & (Contact.kind == "person") & self._in_scope()
        while True:
            ids = [
                r[0]
                for r in self._rows(
                    Contact.select(Contact.id).where(live_people & (Contact.id > last)).order_by(Contact.id).limit(PAGE)
                )
            ]
            if not ids:
                break
            first, last = ids[0], ids[-1]
            query = (
                Contact.select(
                    Contact.id,
                    Contact.name_key,
                    Contact.organization,
                    ContactAddress.city,
                    ContactAddress.street,
                    ContactAddress.postal_code,
                )
                .join(
                    ContactAddress,
                    peewee.JOIN.LEFT_OUTER,
                    on=((ContactAddress.contact == Contact.id) & (ContactAddress.is_primary == True)),  # noqa: E712
                )
                .where(live_people & Contact.id.between(first, last))
            )
            # e-mails and phones travel with the entries: checking a candidate pair then needs no query
            emails = _joined(
                self._rows(
                    ContactEmail.select(ContactEmail.contact, ContactEmail.address).where(
                        ContactEmail.contact.between(first, last)
                    )
                )
            )
            phones = _joined(
                self._rows(
                    ContactPhone.select(ContactPhone.contact, ContactPhone.number).where(
                        ContactPhone.contact.between(first, last)
                    )
                )
            )
            store.add_entries(_entries(self._rows(query), emails, phones))
            self.people += len(ids)
            self.progress("people read", self.people)

    def _compare_blocks(self, store: _Store) -> None:
        """Walk the blocks in order, collect the pairs of alike names, check them a batch at a time."""
        batch: list[tuple[_Entry, _Entry, float]] = []
        for _, members in itertools.groupby(store.entries(), key=operator.itemgetter(0)):
            block = list(members)
            self.blocks += 1
            if len(block) > 1:
                for i, j, ratio in self._alike([row[2] for row in block]):
                    a, b = block[i], block[j]
                    if a[1] == b[1]:
                        continue  # one person twice in a block (two primary addresses)
                    batch.append((a, b, ratio) if a[1] < b[1] else (b, a, ratio))
                if len(batch) >= CHECK_BATCH:
                    self._check(store, batch)
                    batch = []
            if self.blocks % 10_000 == 0:
                self.progress("blocks compared", self.blocks)
        if batch:
            self._check(store, batch)

    def _alike(self, names: list[str]) -> list[tuple[int, int, float]]:
        """``(i, j, ratio)`` for the names of one block (sorted) that are alike enough."""
        n, threshold, cutoff, window = len(names), self.threshold, self.cutoff, self.window
        extract, scorer = process.extract, Indel.normalized_similarity
        out: list[tuple[int, int, float]] = []
        if n <= self.block_limit:
            self.comparisons += n * (n - 1) // 2
            for i in range(n - 1):
                for _, score, k in extract(names[i], names[i + 1 :], scorer=scorer, score_cutoff=cutoff, limit=None):
                    if score >= threshold or _ratio(names[i], names[i + 1 + k]) >= threshold:
                        out.append((i, i + 1 + k, score))
            return out
        seen: set[tuple[int, int]] = set()
        # people of one name: sorted together (and by street within it), paired without a window while few
        start = 0
        for end in range(1, n + 1):
            if end < n and names[end] == names[start]:
                continue
            if 1 < end - start <= self.block_limit:
                self.comparisons += (end - start) * (end - start - 1) // 2
                for pair in itertools.combinations(range(start, end), 2):
                    seen.add(pair)
                    out.append((*pair, 1.0))
            start = end
        # the block comes sorted by name; two more orders catch typos early and in the middle of a name
        for order in (
            range(n),
            sorted(range(n), key=lambda k: _rotated(names[k])),
            sorted(range(n), key=lambda k: names[k][::-1]),
        ):
            ordered = [names[k] for k in order]
            for pos in range(n - 1):
                neighbours = ordered[pos + 1 : pos + 1 + window]
                self.comparisons += len(neighbours)
                for _, score, k in extract(ordered[pos], neighbours, scorer=scorer, score_cutoff=cutoff, limit=None):
                    i, j = order[pos], order[pos + 1 + k]
                    pair = (i, j) if i < j else (j, i)
                    if pair not in seen and (score >= threshold or _ratio(names[i], names[j]) >= threshold):
                        seen.add(pair)
                        out.append((*pair, score))
        return out

    def _check(self, store: _Store, batch: list[tuple[_Entry, _Entry, float]]) -> None:
        """Keep the candidates with a second signal and nothing against them (the old rules, unchanged)."""
        self.candidates += len(batch)
        found: list[tuple[int, int, Message, int | None, list[Message], Message]] = []
        for (_, a, name_a, org_a, city_a, street_a, postal_a, emails_a, phones_a), (
            _,
            b,
            name_b,
            org_b,
            city_b,
            street_b,
            postal_b,
            emails_b,
            phones_b,
        ), ratio in batch:
            conflicts = []
            if emails_a and emails_b and not set(emails_a.split("\n")) & set(emails_b.split("\n")):
                conflicts.append("e-mails")
            if phones_a and phones_b and not set(phones_a.split("\n")) & set(phones_b.split("\n")):
                conflicts.append("phones")
            same_org = bool(org_a) and org_a == org_b
            same_address = bool(street_a) and ((street_a or "").lower(), postal_a, (city_a or "").lower()) == (
                street_b.lower() if street_b else None,
                postal_b,
                (city_b or "").lower(),
            )
            same_city = bool(city_a) and (city_a or "").lower() == (city_b or "").lower()
            exact = ratio == 1.0
            if conflicts and not (exact and same_org and same_address and len(conflicts) == 1):
                continue
            if not (same_org or same_address or same_city):
                continue
            # rapidfuzz's score is the ratio up to a float's last bit: say the one difflib's formula gives
            name = (
                Message(N_("same name"))
                if exact
                else Message(N_("similar names (%(percent)s)"), percent=f"{_ratio(name_a, name_b):.0%}")
            )
            places: list[Message] = []  # the organization, if shared, goes first: its name is read for the pairs kept
            if same_address:
                places.append(
                    Message(N_("at the same postal address (%(street)s, %(city)s)"), street=street_a, city=city_a)
                )
            elif same_city:
                places.append(Message(N_("in %(city)s"), city=city_a))
            if not conflicts:
                signal = Message(N_("no e-mail or phone that differs"))
            elif conflicts[0] == "e-mails":
                signal = Message(N_("though their e-mails differ"))
            else:
                signal = Message(N_("though their phones differ"))
            found.append((a, b, name, org_a if same_org else None, places, signal))
        # the organization's name is looked up only for the pairs kept
        org_ids = sorted({org for _, _, _, org, _, _ in found if org})
        org_names: dict[int, str] = {}
        for part in batched(org_ids, IN_CHUNK):
            org_names.update(
                Contact.select(Contact.id, Contact.display_name).where(Contact.id.in_(part)).tuples().iterator()
            )
        out: list[tuple[int, int, int, Message]] = []
        for a, b, name, org, places, signal in found:
            where: list[Message] = (
                [Message(N_("in organization %(organization)s"), organization=org_names.get(org, "#" + str(org)))]
                if org
                else []
            ) + places
            joined: Message = where[0]
            for piece in where[1:]:
                joined = Message(N_("%(first)s and %(second)s"), first=joined, second=piece)
            out.append((a, b, _NAME, Message(N_("%(name)s %(where)s"), name=name, where=joined)))
            out.append((a, b, _SIGNAL, signal))
        store.add_pairs(out)

    def _in_scope(self) -> Any:
        return peewee.SQL("1 = 1") if self.visible is None else self.visible

    def _rows(self, query: peewee.Query) -> Iterable[Any]:
        """The query's rows as the driver gives them: ids and text need no conversion, and peewee's costs more than the scan."""
        return self.crm.database.execute(query)  # type: ignore[no-any-return]

    @staticmethod
    def _display_names(ids: set[int]) -> dict[int, str]:
        names: dict[int, str] = {}
        for part in batched(sorted(ids), IN_CHUNK):
            names.update(
                Contact.select(Contact.id, Contact.display_name).where(Contact.id.in_(part)).tuples().iterator()
            )
        return names


def _joined(rows: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Each contact's values, joined by newlines (which no e-mail address or E.164 number holds)."""
    out: dict[int, list[str]] = {}
    for cid, value in rows:
        out.setdefault(cid, []).append(value)
    return {cid: "\n".join(values) for cid, values in out.items()}


def _entries(
    rows: Iterable[tuple[Any, ...]], emails: dict[int, str], phones: dict[int, str]
) -> Iterator[tuple[Any, ...]]:
    """A person's block entries: one in its organization and one in its city, by the first two letters of its name."""
    for cid, key, org, city, street, postal in rows:
        if not key:
            continue
        # a block is compared only within itself: names differing in their first letters are not the typos this looks for
        street_key = street.lower() if street else ""
        mine = (cid, org, city, street, postal, emails.get(cid, ""), phones.get(cid, ""))
        if org:
            yield (f"o{org}\x1f{key[:2]}", key, street_key, *mine)
        if city:
            yield (f"c{city.lower()}\x1f{key[:2]}", key, street_key, *mine)


def _ratio(a: str, b: str) -> float:
    """``2·M / T`` as difflib writes it, with M the longest common subsequence (rapidfuzz's Indel distance gives it)."""
    total = len(a) + len(b)
    return 2.0 * ((total - Indel.distance(a, b)) // 2) / total if total else 1.0


def _rotated(name: str) -> str:
    """The name with its first word moved last (``ana garcia`` → ``garcia ana``)."""
    first, _, rest = name.partition(" ")
    return f"{rest} {first}" if rest else name


def _plain(message: Message) -> dict[str, Any]:
    values = {k: _plain(v) if isinstance(v, Message) else v for k, v in message.params.items()}
    return {"t": message.template, "v": values}


def _encode(message: Message) -> str:
    """A reason as JSON text: its template and values, a value that is a Message as one too."""
    return json.dumps(_plain(message), ensure_ascii=False, sort_keys=True)


def _message(plain: dict[str, Any]) -> Message:
    return Message(plain["t"], **{k: _message(v) if isinstance(v, dict) else v for k, v in plain["v"].items()})


def _decode(text: str) -> Message:
    return _message(json.loads(text))


class _Store:
    """The scan's working file: block entries to sort, and the pairs found with their reasons."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        # a scratch file: nothing to recover after a crash, so no journal and no fsync;
        # a bounded page cache (16 MB) keeps memory flat, SQLite sorts on disk beyond it
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE", "cache_size = -16000"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute(
            "CREATE TABLE entry (block TEXT, name TEXT, street_key TEXT, id INTEGER, org INTEGER, city TEXT, street TEXT, postal TEXT, emails TEXT, phones TEXT)"
        )
        self.db.execute("CREATE TABLE pair (a INTEGER, b INTEGER, seq INTEGER, reason TEXT)")

    def add_entries(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.db.executemany("INSERT INTO entry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def add_pairs(self, rows: Iterable[tuple[int, int, int, Message]]) -> None:
        """Pairs and a reason each, kept as the Message's template and values (so a page can translate it)."""
        self.db.executemany("INSERT INTO pair VALUES (?, ?, ?, ?)", ((a, b, seq, _encode(m)) for a, b, seq, m in rows))

    def entries(self) -> Iterator[_Entry]:
        """Every block entry (see ``_Entry``), by block, then name and street."""
        sql = "SELECT block, id, name, org, city, street, postal, emails, phones FROM entry ORDER BY block, name, street_key, id"
        return self.db.execute(sql)  # type: ignore[return-value]

    def page(self, limit: int | None, offset: int) -> tuple[list[tuple[int, int, tuple[str, ...]]], int]:
        """The pairs after the first ``offset`` (``limit`` of them, or all), with their reasons; and how many pairs there are."""
        out: list[tuple[int, int, tuple[str, ...]]] = []
        total = 0
        rows = self.db.execute("SELECT a, b, seq, reason FROM pair ORDER BY a, b, seq, reason")
        for (a, b), group in itertools.groupby(rows, key=lambda row: (row[0], row[1])):
            if total >= offset and (limit is None or len(out) < limit):
                out.append((a, b, tuple(_decode(text) for text in dict.fromkeys(row[3] for row in group))))
            total += 1
        return out, total

    def close(self) -> None:
        self.db.close()


class Duplicates:
    """The duplicates service: scans for likely pairs (merging them is :class:`crm_contacts.merging.Merging`)."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm

    def find_duplicates(self, limit: int | None = 100, *, offset: int = 0, visible: Any = None) -> list[DuplicatePair]:
        """Likely duplicate pairs among live contacts, lowest ids first, with the reasons.

        ``limit`` pairs (``None``: every pair) after the first ``offset``;
        :meth:`scan_duplicates` also says how many there are in all.
        """
        return list(self.scan_duplicates(limit, offset=offset, visible=visible).pairs)

    def scan_duplicates(
        self,
        limit: int | None = 100,
        *,
        offset: int = 0,
        progress: Callable[[str, int], None] | None = None,
        visible: Any = None,
    ) -> DuplicateScan:
        """:meth:`find_duplicates` with the total number of pairs and the scan's counts (a :class:`DuplicateScan`).

        ``progress(phase, count)`` is called now and then during a long scan.
        """
        return DuplicateFinder(self.crm, progress=progress, visible=visible).scan(limit, offset)
