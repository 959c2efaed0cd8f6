"""Demo data: a few thousand realistic contacts in several countries, some duplicates.

The rows are generated (seeded, so every demo is the same) and loaded through
the CSV import engine, exactly as a user's file would be.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["demo_rows", "load_demo"]

COUNTRIES: dict[str, dict[str, Any]] = {
    "ES": {
        "first": [
            "Ana",
            "María",
            "Lucía",
            "Carmen",
            "Javier",
            "José",
            "Pablo",
            "Álvaro",
            "Sofía",
            "Íñigo",
            "Nuria",
            "Jordi",
        ],
        "last": [
            "García",
            "Martínez",
            "López",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Fernández",
            "Ruiz",
            "Núñez",
            "Iglesias",
            "Vidal",
        ],
        "cities": [
            ("Madrid", "28001", "Centro"),
            ("Barcelona", "08001", "Noreste"),
            ("Sevilla", "41001", "Sur"),
            ("Bilbao", "48001", "Norte"),
            ("Valencia", "46001", "Levante"),
        ],
        "streets": ["Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo de Gracia", "Gran Vía"],
        "domains": ["correo.es", "empresa.es", "example.es"],
        "language": "es",
    },
    "FR": {
        "first": ["Camille", "Léa", "Chloé", "Hugo", "Louis", "Théo", "Zoé", "Émile", "Inès"],
        "last": ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Roux"],
        "cities": [("Paris", "75001", "Île-de-France"), ("Lyon", "69001", "Rhône"), ("Marseille", "13001", "Sud")],
        "streets": ["Rue de la Paix", "Avenue Victor Hugo", "Boulevard Saint-Michel"],
        "domains": ["exemple.fr", "societe.fr"],
        "language": "fr",
    },
    "DE": {
        "first": ["Lukas", "Jonas", "Mia", "Emma", "Lena", "Felix", "Jürgen", "Sören"],
        "last": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Köhler"],
        "cities": [("Berlin", "10115", "Ost"), ("München", "80331", "Süd"), ("Hamburg", "20095", "Nord")],
        "streets": ["Hauptstraße", "Schillerstraße", "Goethestraße"],
        "domains": ["beispiel.de", "firma.de"],
        "language": "de",
    },
    "GB": {
        "first": ["Oliver", "George", "Amelia", "Isla", "Harry", "Olivia", "Jack", "Emily"],
        "last": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "O'Brien"],
        "cities": [
            ("London", "SW1A 1AA", "South East"),
            ("Manchester", "M1 1AE", "North West"),
            ("Leeds", "LS1 1UR", "Yorkshire"),
        ],
        "streets": ["High Street", "Station Road", "Church Lane"],
        "domains": ["example.co.uk", "mail.co.uk"],
        "language": "en-GB",
    },
    "MX": {
        "first": ["Juan", "Guadalupe", "Ximena", "Santiago", "Valentina", "Mateo"],
        "last": ["Hernández", "González", "Ramírez", "Torres", "Flores"],
        "cities": [
            ("Ciudad de México", "06000", "Centro MX"),
            ("Guadalajara", "44100", "Occidente"),
            ("Monterrey", "64000", "Norte MX"),
        ],
        "streets": ["Avenida Reforma", "Calle Juárez", "Insurgentes Sur"],
        "domains": ["ejemplo.mx", "correo.mx"],
        "language": "es-MX",
    },
}
COMPANY_WORDS = [
    "Soluciones",
    "Industrias",
    "Grupo",
    "Logística",
    "Consulting",
    "Systems",
    "Partners",
    "Verde",
    "Atlas",
    "Nova",
]
OWNERS = ["maria", "luis", "sophie", "tom"]
STATUSES = ["prospect"] * 5 + ["customer"] * 4 + ["former"]
TAGS = ["vip", "newsletter", "trade-fair", "partner", "cold"]
COLUMNS = [
    "external_id",
    "kind",
    "first_name",
    "last_name",
    "display_name",
    "organization",
    "email",
    "email_2",
    "phone",
    "phone:work",
    "street",
    "city",
    "postal_code",
    "address_country",
    "country",
    "region",
    "status",
    "owner",
    "language",
    "tags",
    "custom.industry",
]


def _phone(rng: random.Random, country: str, used: set[str]) -> str:
    """A valid mobile number of ``country`` that no other demo contact has."""
    import phonenumbers

    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None  # phonenumbers has an example mobile number for every demo country
    digits = str(example.national_number)
    for _ in range(200):
        tail = "".join(str(rng.randint(0, 9)) for _ in range(5))
        number = phonenumbers.PhoneNumber(country_code=example.country_code, national_number=int(digits[:-5] + tail))
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if text not in used and phonenumbers.is_valid_number(number):
            used.add(text)
            return text
    raise RuntimeError(f"no free demo phone number left for {country}")


def _ascii(text: str) -> str:
    import unicodedata

    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c) and (c.isalnum())
    ).lower()


def demo_rows(count: int = 3000, seed: int = 7, owners: Sequence[str] = OWNERS) -> Iterator[dict[str, str]]:
    """``count`` import rows: organizations first, then people, about 3% near-duplicates, owned by ``owners``."""
    rng = random.Random(seed)
    phones: set[str] = set()  # planted duplicates share a phone; nobody else does
    organizations: list[tuple[str, str]] = []
    for i in range(max(5, count // 25)):
        country = rng.choice(list(COUNTRIES))
        spec = COUNTRIES[country]
        city, postal, region = rng.choice(spec["cities"])
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(spec['last'])} {rng.choice(['SL', 'SA', 'GmbH', 'Ltd', 'SARL', 'SA de CV'])}"
        if any(name == o[0] for o in organizations):
            name = f"{name} {i}"
        organizations.append((name, country))
        yield {
            "external_id": f"demo-org-{i}",
            "kind": "organization",
            "display_name": name,
            "country": country,
            "street": f"{rng.choice(spec['streets'])} {rng.randint(1, 200)}",
            "city": city,
            "postal_code": postal,
            "address_country": country,
            "region": region,
            "status": rng.choice(STATUSES),
            "owner": rng.choice(owners),
            "phone:work": _phone(rng, country, phones),
            "email": f"info@{_ascii(name.split()[1])}{i}.example.com",
            "custom.industry": rng.choice(["retail", "manufacturing", "services", "public", "health"]),
        }
    people: list[dict[str, str]] = []
    for i in range(count - len(organizations)):
        if people and rng.random() < 0.03:
            original = rng.choice(people)
            duplicate = dict(original)
            duplicate["external_id"] = f"demo-dup-{i}"
            duplicate["first_name"] = (
                original["first_name"].upper() if rng.random() < 0.5 else original["first_name"][:-1] + "a"
            )
            if rng.random() < 0.5:
                duplicate["email"] = ""  # same phone, so matched by phone
            else:
                duplicate["phone"] = ""
                duplicate["email_2"] = original["email"]
                duplicate["email"] = ""
            duplicate["tags"] = ""
            yield duplicate
            continue
        org_name, country = rng.choice(organizations) if rng.random() < 0.6 else ("", rng.choice(list(COUNTRIES)))
        spec = COUNTRIES[country]
        first = rng.choice(spec["first"])
        last = (
            f"{rng.choice(spec['last'])} {rng.choice(spec['last'])}"
            if country in ("ES", "MX")
            else f"{rng.choice(spec['last'])}-{rng.choice(spec['last'])}"
        )
        city, postal, region = rng.choice(spec["cities"])
        row = {
            "external_id": f"demo-{i}",
            "kind": "person",
            "first_name": first,
            "last_name": last,
            "organization": org_name,
            "email": f"{_ascii(first)}.{_ascii(last)}{i}@{rng.choice(spec['domains'])}",
            "phone": _phone(rng, country, phones) if rng.random() < 0.8 else "",
            "street": f"{rng.choice(spec['streets'])} {rng.randint(1, 200)}" if rng.random() < 0.7 else "",
            "city": city,
            "postal_code": postal,
            "address_country": country,
            "country": country,
            "region": region,
            "status": rng.choice(STATUSES),
            "owner": rng.choice(owners),
            "language": spec["language"],
            "tags": ",".join(sorted(set(rng.sample(TAGS, rng.randint(0, 2))))),
        }
        people.append(row)
        yield row


def load_demo(crm: CRM, count: int = 3000) -> list[str]:
    """Load the demo contacts, two lists and a segment; return the report lines."""
    import csv
    import io

    # once the CRM has users an owner must name one: the demo's contacts go to the sellers
    # (users with the sales role), else to any active user (not to an integration's account if avoidable)
    users = crm.authz.users.list(include_disabled=False)
    sellers = [user.name for user in users if "sales" in user.roles]
    rows = list(demo_rows(count, owners=sellers or [user.name for user in users] or OWNERS))
    contacts = crm.plugin("contacts")
    created = organizations = 0
    # organizations first, so that people find them by name
    for part in (
        [r for r in rows if r.get("kind") == "organization"],
        [r for r in rows if r.get("kind") != "organization"],
    ):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({c: row.get(c, "") for c in COLUMNS} for row in part)
        buffer.seek(0)
        report = contacts.import_csv(buffer, source_name="demo.csv", actor="demo", match_on=("external_id",))
        created += report.created
        organizations += report.organizations_created + (
            report.created if part and part[0].get("kind") == "organization" else 0
        )
    ids = [card.id for card in contacts.search(tag="newsletter", limit=10_000).cards]
    contacts.create_list("newsletter", "Monthly newsletter (demo)")
    contacts.add_to_list("newsletter", ids)
    contacts.create_segment("spanish-customers", {"country": "ES", "status": "customer"}, "Customers in Spain (demo)")
    duplicates = contacts.find_duplicates(limit=1000)
    return [
        f"{created} contacts imported ({organizations} organizations) in {len(COUNTRIES)} countries",
        f"mailing list 'newsletter' with {len(ids)} members, segment 'spanish-customers'",
        f"{len(duplicates)} likely duplicate pairs to review: crm contacts duplicates",
    ]
