"""A generated address book with planted duplicates, written with bulk inserts.

Used by ``test_duplicates.py`` (small books, every backend) and by
``bench/bench_duplicates.py`` (up to 1,000,000 people). The book looks like a
Spanish customer base: names drawn from skewed pools (a few very common,
many rare; two surnames for most people), cities of very different sizes,
a fifth of the people in organizations, most with an e-mail and a mobile.
About 2% of the people are *planted duplicates*, each a copy of an earlier
person as a second source would have typed it: a typo in the name (no
e-mail, same address), the name in capitals without accents in the same
organization, the same e-mail with the name written differently, or the
same mobile with only the initial of the first name.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
from typing import Any

import attrs

from crm_contacts import words
from crm_contacts.normalize import name_key
from crm_core.storage import bulk_insert

FIRST = (
    "María Carmen Ana Laura Marta Lucía Isabel Cristina Paula Sara Elena Raquel Pilar Nuria Sofía Julia Beatriz Silvia Rosa Irene "
    "Antonio José Manuel Francisco David Juan Javier Daniel Carlos Jesús Alejandro Miguel Rafael Pablo Sergio Fernando Jorge Luis "
    "Alberto Álvaro Adrián Diego Rubén Iván Óscar Andrés Ramón Enrique Vicente Joaquín Íñigo Jordi Xavier Montserrat Begoña "
    "Ainhoa Itziar Aitor Unai Noelia Rocío Inmaculada Ángel Gonzalo Hugo Mario Marcos Víctor Emilio Salvador Gregorio Lorena"
).split()
SURNAMES = (
    "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández Díaz Moreno Muñoz "
    "Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Molina Morales Suárez "
    "Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido Cortés Castillo Santos Lozano Guerrero Cano "
    "Prieto Méndez Cruz Calvo Gallego Vidal León Márquez Herrera Peña Flores Cabrera Campos Vega Fuentes Carrasco Diez "
    "Caballero Reyes Nieto Aguilar Pascual Santana Herrero Lorenzo Montero Hidalgo Giménez Ibáñez Ferrer Durán Santiago "
    "Benítez Mora Vicente Vargas Arias Carmona Crespo Román Pastor Soto Sáez Velasco Moya Soler Parra Esteban Bravo Gallardo Rojas"
).split()
BIG_CITIES = (
    "Madrid",
    "Barcelona",
    "Valencia",
    "Sevilla",
    "Zaragoza",
    "Málaga",
    "Murcia",
    "Palma",
    "Bilbao",
    "Alicante",
    "Córdoba",
    "Valladolid",
)
STREETS = (
    "Calle Mayor",
    "Gran Vía",
    "Calle Real",
    "Avenida de la Constitución",
    "Paseo del Prado",
    "Calle Alcalá",
    "Plaza de España",
    "Calle Nueva",
)
NOW = dt.datetime(2026, 1, 1)


@attrs.frozen
class Book:
    """What was written: how many people and organizations, and the planted pairs ``(original, copy, how)``."""

    people: int
    organizations: int
    planted: tuple[tuple[int, int, str], ...]


def _zipf(size: int, s: float) -> list[float]:
    """Weights by rank: a few values very common, a long tail of rare ones."""
    return [1 / (rank**s) for rank in range(1, size + 1)]


def _strip(text: str) -> str:
    return name_key(text).upper()


def _typo(rng: random.Random, word: str) -> str:
    """One slip of the keyboard after the first two letters: a letter dropped, doubled or two swapped."""
    if len(word) < 5:
        return word + word[-1]
    i = rng.randrange(2, len(word) - 1)
    how = rng.randrange(3)
    if how == 0:
        return word[:i] + word[i + 1 :]
    if how == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def fill_book(
    database: Any,
    people: int,
    *,
    seed: int = 1,
    cities: int | None = None,
    duplicates: float = 0.02,
    batch: int = 50_000,
) -> Book:
    """Write ``people`` people (and their organizations) into the contacts tables; returns the :class:`Book`.

    ``cities`` is how many distinct cities there are (default: one per 250
    people, at least the 12 big ones); fewer cities make bigger blocks.
    Written ``batch`` people at a time, so memory stays flat at any size.
    """
    rng = random.Random(seed)
    n_cities = cities if cities is not None else max(len(BIG_CITIES), people // 250)
    city_names = list(BIG_CITIES[:n_cities]) + [f"Villanueva {k}" for k in range(n_cities - len(BIG_CITIES))]
    city_weights, first_weights, surname_weights = (
        _zipf(len(city_names), 1.0),
        _zipf(len(FIRST), 0.7),
        _zipf(len(SURNAMES), 0.8),
    )
    n_orgs = max(1, people // 50)
    start = 1 + (database.execute_sql("SELECT MAX(id) FROM contacts_contact").fetchone()[0] or 0)
    first_person = start + n_orgs
    tables = _Tables(database)
    for k in range(n_orgs):
        display = f"Empresa {k} S.L."
        tables.contacts.append(
            (start + k, "organization", display, "", "", name_key(display), None, "customer", False, NOW, NOW)
        )
    planted: list[tuple[int, int, str]] = []
    # recent people a copy may repeat: (id, first, last, organization, email, phone, address)
    recent: collections.deque[tuple[int, str, str, int | None, str | None, str | None, tuple[str, str, str] | None]] = (
        collections.deque(maxlen=20_000)
    )
    for i in range(people):
        cid = first_person + i
        if recent and rng.random() < duplicates:
            original, first, last, org, email, phone, address = rng.choice(recent)
            how = rng.choice(("typo", "capitals", "e-mail", "phone"))
            if how == "typo":
                words = last.split()
                w = rng.randrange(len(words))
                words[w] = _typo(rng, words[w])
                last, email, phone = " ".join(words), None, None
            elif how == "capitals":
                first, last, email, phone = _strip(first), _strip(last), None, None
            elif how == "e-mail":
                first, phone, address = first[0] + ".", None, None
            else:
                first, email, address = first[0] + ".", None, None
            # a typo without an address, or capitals outside an organization, leave nothing
            # that tells the copy from a stranger of a like name: not a pair the rules promise
            if not (
                (how == "capitals" and org is None)
                or (how == "typo" and address is None)
                or (how in ("e-mail", "phone") and not (email or phone))
            ):
                planted.append((original, cid, how))
        else:
            first = rng.choices(FIRST, first_weights)[0]
            last = rng.choices(SURNAMES, surname_weights)[0]
            if rng.random() < 0.7:
                last += " " + rng.choices(SURNAMES, surname_weights)[0]
            org = start + rng.randrange(n_orgs) if rng.random() < 0.2 else None
            email = (
                f"{name_key(first)}.{name_key(last).replace(' ', '')}{i}@correo{i % 97}.example.es"
                if rng.random() < 0.8
                else None
            )
            phone = f"+346{i:08d}" if rng.random() < 0.6 else None
            city = rng.choices(city_names, city_weights)[0]
            address = (
                (f"{rng.choice(STREETS)} {rng.randint(1, 300)}", f"{28000 + city_names.index(city):05d}", city)
                if rng.random() < 0.9
                else None
            )
            recent.append((cid, first, last, org, email, phone, address))
        display = f"{first} {last}"
        tables.contacts.append(
            (cid, "person", display, first, last, name_key(display, first, last), org, "customer", False, NOW, NOW)
        )
        if email:
            tables.emails.append((cid, email, "work", True))
        if phone:
            tables.phones.append((cid, phone, "mobile", True))
        if address:
            tables.addresses.append((cid, "home", address[0], "", address[2], address[1], "", "ES", True))
        if len(tables.contacts) >= batch:
            tables.flush()
    tables.flush()
    return Book(people, n_orgs, tuple(planted))


class _Tables:
    """Rows waiting to be written, a batch at a time (the contacts first, for the foreign keys)."""

    def __init__(self, database: Any) -> None:
        self.database = database
        self.contacts: list[tuple[Any, ...]] = []
        self.emails: list[tuple[Any, ...]] = []
        self.phones: list[tuple[Any, ...]] = []
        self.addresses: list[tuple[Any, ...]] = []

    def flush(self) -> None:
        with self.database.atomic():
            bulk_insert(
                "contacts_contact",
                (
                    "id",
                    "kind",
                    "display_name",
                    "first_name",
                    "last_name",
                    "name_key",
                    "organization_id",
                    "status",
                    "do_not_contact",
                    "created_at",
                    "updated_at",
                ),
                self.contacts,
                database=self.database,
            )
            bulk_insert(
                "contacts_email", ("contact_id", "address", "kind", "is_primary"), self.emails, database=self.database
            )
            bulk_insert(
                "contacts_phone", ("contact_id", "number", "kind", "is_primary"), self.phones, database=self.database
            )
            bulk_insert(
                "contacts_address",
                ("contact_id", "kind", "street", "extra", "city", "postal_code", "region", "country", "is_primary"),
                self.addresses,
                database=self.database,
            )
            # the words of each name, as the address book writes them (name search looks them up)
            bulk_insert(
                "contacts_word",
                words.COLUMNS,
                (row for c in self.contacts for row in words.rows(c[0], c[5])),
                database=self.database,
            )
        for rows in (self.contacts, self.emails, self.phones, self.addresses):
            rows.clear()
