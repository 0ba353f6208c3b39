"""The venue's time zone (EventTimeZone): a name of the IANA database, as a browser's Intl knows
them too. The database files of a machine hold a few names that are none: `localtime` (a link
to the machine's own zone), `posixrules` and `Factory`, and the `posix/` and `right/` copies."""

from __future__ import annotations

import zoneinfo

NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def time_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone of this IANA name, or None when it names none this machine's database holds."""
    if name in NOT_ZONES or name.startswith(("posix/", "right/")):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
