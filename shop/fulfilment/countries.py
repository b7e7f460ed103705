"""Countries a parcel can go to: ISO 3166-1 alpha-2 codes, with names from Babel (CLDR).

CLDR also names regions that are not countries of ISO 3166-1 (the EU, "Unknown Region",
pseudo-locales) and a few exceptionally reserved or user-assigned codes; those are taken out,
which leaves exactly the 249 officially assigned codes.
"""

from __future__ import annotations

from functools import cache

from babel import Locale

from shop.core.errors import InvalidInput

NOT_ISO_3166_1 = frozenset({
    "AC", "CP", "CQ", "DG", "EA", "IC", "TA",  # exceptionally reserved (UPU, ITU, ...)
    "EU", "EZ", "UN",  # unions, not countries
    "QO", "XA", "XB", "XK", "ZZ",  # user-assigned: CLDR's own regions and pseudo-locales
})


@cache
def country_names(locale: str = "en") -> dict[str, str]:
    """Code -> name in `locale`, every officially assigned ISO 3166-1 alpha-2 code."""
    territories = Locale.parse(locale).territories
    return {code: territories[code] for code in sorted(territories)
            if len(code) == 2 and code.isalpha() and code not in NOT_ISO_3166_1}


def choices(locale: str = "en") -> list[tuple[str, str]]:
    """(code, name) pairs sorted by name, for a <select> of countries."""
    return sorted(country_names(locale).items(), key=lambda pair: pair[1])


def parse_country(value: object, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code (any case, upper-cased), else a 422 naming `field`."""
    if value is None or value == "":
        raise InvalidInput(f"'{field}' is required: a two-letter ISO 3166-1 code like DE, FR "
                           "or FI", code="invalid_country")
    if not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a two-letter ISO 3166-1 code like DE, FR or FI: "
                           f"got {type(value).__name__}", code="invalid_country")
    code = value.strip().upper()
    if code not in country_names():
        raise InvalidInput(f"'{field}' must be a two-letter ISO 3166-1 country code like DE, FR "
                           f"or FI: got {value[:20]!r}", code="invalid_country")
    return code
