"""The word index of names (``contacts_word``): what name search looks words up in.

Each contact has one row per word of its ``name_key`` (lower-case,
accent-free), and for a word with punctuation also one per part of it from
each mark and just after it, so that "lopez" and "-lopez" find
"garcia-lopez", and "%" finds "100%". Name search (:mod:`crm_contacts.filters`)
then asks that every word typed be the start of one of these: a range of the
``(word, contact_id)`` index, not a scan of every name.

The rows are derived from ``name_key`` and rewritten wherever it is written:
:func:`rows` for new contacts (in the same ``bulk_insert`` pages as the
contacts themselves on import), :func:`insert` for one new contact, :func:`rewrite` for changed ones (one
``DELETE`` and one ``INSERT`` per 500), :func:`forget` when a contact is
erased. A soft-deleted or merged contact keeps its rows (a search with
deleted contacts finds it; every other search leaves deleted contacts out).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm_core.storage import batched

__all__ = ["COLUMNS", "MAX_PARTS", "TOP", "forget", "insert", "name_words", "rewrite", "rows", "word_range"]

#: the columns of ``contacts_word`` that :func:`rows` fills
COLUMNS = ("contact_id", "word")

#: at most this many parts of one word from its punctuation (a name of 300 "%" is not 600 rows)
MAX_PARTS = 8

#: above every character (U+10FFFF): ``word < prefix + TOP`` closes a prefix's range
TOP = "\U0010ffff"

# ids in one DELETE ... IN (...), under every backend's parameter limit
_CHUNK = 500


def name_words(key: str) -> set[str]:
    """The words of a ``name_key`` that typed words are matched against (see the module's doc)."""
    found: set[str] = set()
    for word in key.split():
        found.add(word)
        if word.isalnum():
            continue
        parts = 0
        for i, char in enumerate(word):
            if char.isalnum() or parts >= MAX_PARTS:
                continue
            parts += 1
            found.add(word[i:])
            if i + 1 < len(word):
                found.add(word[i + 1 :])
    return found


def rows(contact_id: int, key: str) -> list[tuple[int, str]]:
    """``(contact_id, word)`` rows for ``contacts_word``, in a stable order."""
    return [(contact_id, word) for word in sorted(name_words(key))]


def word_range(prefix: str) -> tuple[str, str]:
    """``(low, high)``: a word starts with ``prefix`` when ``low <= word < high``."""
    return prefix, prefix + TOP


def rewrite(database: Any, keys: Iterable[tuple[int, str]]) -> None:
    """Replace the word rows of each ``(contact_id, name_key)`` (inside the caller's transaction)."""
    keys = list(keys)
    if not keys:
        return
    forget(database, [cid for cid, _ in keys])
    insert(database, [row for cid, key in keys for row in rows(cid, key)])


def insert(database: Any, word_rows: list[tuple[int, str]]) -> None:
    """Insert word rows with one multi-row ``INSERT`` per 500 (no savepoint: the caller's transaction holds them).

    For the few rows of one contact; an import's batch goes through ``bulk_insert`` with its other tables.
    """
    p = database.param
    q = database.quote[0] + "{}" + database.quote[1]
    head = f"INSERT INTO {q.format('contacts_word')} ({', '.join(q.format(c) for c in COLUMNS)}) VALUES "
    for part in batched(word_rows, _CHUNK):
        database.execute_sql(head + ", ".join([f"({p}, {p})"] * len(part)), [v for row in part for v in row])


def forget(database: Any, contact_ids: Iterable[int]) -> None:
    """Delete the word rows of these contacts."""
    p = database.param
    q = database.quote[0] + "{}" + database.quote[1]
    for part in batched(list(contact_ids), _CHUNK):
        database.execute_sql(
            f"DELETE FROM {q.format('contacts_word')} WHERE {q.format('contact_id')} IN ({', '.join([p] * len(part))})",
            list(part),
        )
