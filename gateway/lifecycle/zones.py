"""Indonesia's three time zones and which province (Kemendagri code) lies in which."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

from gateway.lifecycle.settings import Zone

ZONES: dict[Zone, ZoneInfo] = {
    "WIB": ZoneInfo("Asia/Jakarta"),
    "WITA": ZoneInfo("Asia/Makassar"),
    "WIT": ZoneInfo("Asia/Jayapura"),
}

# Province codes (the first two digits of a Kemendagri region code) outside WIB.
# Kalimantan Barat (61) and Tengah (62) are WIB; the rest of Kalimantan, Bali, Nusa Tenggara
# and Sulawesi are WITA; Maluku and every Papua province (91-96 since the 2022 split) are WIT.
_PROVINCE_ZONE: dict[str, Zone] = {
    **{code: "WITA" for code in ("51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76")},
    **{code: "WIT" for code in ("81", "82", "91", "92", "93", "94", "95", "96")},
}


def zone_for_regions(region_codes: Iterable[str], *, default: Zone = "WIB") -> Zone:
    """The zone of the first region code that names a province (`"73"`, `"73.71"`, `"7371"`), else default."""
    for code in region_codes:
        digits = code.strip()[:2]
        if len(digits) == 2 and digits.isdigit():
            return _PROVINCE_ZONE.get(digits, "WIB")
    return default


def tzinfo_for(zone: Zone) -> ZoneInfo:
    """The IANA time zone of WIB, WITA or WIT."""
    return ZONES[zone]
