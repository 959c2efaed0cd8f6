"""Countries' names in every CLDR language, read as ISO 3166-1 codes, from a table shipped with the plugin.

The table (``countries.json.gz``, about 210 KB: some 30,000 names) is made
from Babel's copy of CLDR by :func:`build_index` and written by
``python -m crm_contacts.countries`` (a maintainer's step, when Babel's CLDR
changes; a test compares the table with the installed Babel's). At run time
only the table is read, on the first country written as a name, so the
plugin needs no Babel (34 MB of locale data) and a name costs a dictionary
look-up.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

__all__ = ["TABLE", "build_index", "country_index", "main"]

TABLE = Path(__file__).resolve().parent / "countries.json.gz"

# Names CLDR does not list as a territory's name but people write.
ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "united states of america": "US",
    "eeuu": "US",
    "ee.uu.": "US",
    "ee. uu.": "US",
    "holland": "NL",
}
# Languages whose names win when two languages give one name to different countries.
FIRST_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl", "ca", "gl", "eu", "sv", "da", "nb", "fi", "pl", "ro")


def country_key(text: str) -> str:
    """How names are compared: case, accents, dots, commas and hyphens do not count."""
    from crm_contacts.normalize import name_key

    return name_key(text.replace(".", " ").replace("-", " ").replace(",", " "))


def build_index(valid: frozenset[str]) -> dict[str, str]:
    """``{name key: ISO code}`` from Babel's CLDR territory names in every language, and the aliases.

    ``valid``: the codes to keep. Earlier languages (:data:`FIRST_LANGUAGES`
    first) win a clash. Needs Babel (a maintainer's or a test's).
    """
    from babel import Locale
    from babel.core import UnknownLocaleError
    from babel.localedata import locale_identifiers

    others = sorted({i.split("_")[0] for i in locale_identifiers()} - set(FIRST_LANGUAGES))
    index: dict[str, str] = {}
    for language in (*FIRST_LANGUAGES, *others):
        try:
            territories = Locale.parse(language).territories
        except (UnknownLocaleError, ValueError):
            continue
        for code, name in territories.items():
            if code in valid:
                index.setdefault(country_key(name), code)
    for alias, code in ALIASES.items():
        index.setdefault(country_key(alias), code)
    return index


@functools.lru_cache(maxsize=1)
def country_index() -> dict[str, str]:
    """The shipped table: ``{name key: ISO code}`` (read once, on first use)."""
    with gzip.open(TABLE, "rt", encoding="utf-8") as table:
        index: dict[str, str] = json.load(table)
    return index


def write_table(index: dict[str, str], path: Path = TABLE) -> None:
    data = json.dumps(index, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    # mtime=0: the same names give the same bytes, so the file changes only when CLDR does
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> None:
    """Rewrite the table from the installed Babel (``python -m crm_contacts.countries``)."""
    from crm_contacts.normalize import countries

    index = build_index(countries())
    write_table(index)
    print(f"{TABLE}: {len(index):,} names of {len(set(index.values()))} countries")


if __name__ == "__main__":
    main()
