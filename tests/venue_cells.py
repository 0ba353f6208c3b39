"""Start cells of a programme file as the organisers' page and `talkrate admin import` both read
them, with the venue's zone and without one: each side's tests read the same cells."""

from __future__ import annotations

VENUE = "Europe/Berlin"

# Start cells of a programme file, read with the venue's zone and without one: (name, the cell,
# the start the row has with the venue's zone or what is said of it, the same without a zone:
# None where that is the refusal of a time that names no zone). The command line's import reads
# them alike.
VENUE_CELLS = [
    ("a winter time", "2026-12-05T10:00", "2026-12-05T10:00+01:00", None),
    ("with a space and seconds", "2026-07-01 10:00:30", "2026-07-01 10:00:30+02:00", None),
    (
        "an hour the clocks repeat",
        "2026-10-25T02:30",
        f"line 2: startsAt 2026-10-25T02:30 happens twice in {VENUE} (its clocks go back over "
        "it): write 2026-10-25T02:30+02:00 for the first or 2026-10-25T02:30+01:00 for "
        "the second",
        None,
    ),
    (
        "the second of a repeated hour",
        "2026-10-25T02:30+01:00",
        "2026-10-25T02:30+01:00",
        "2026-10-25T02:30+01:00",
    ),
    ("one with its own zone", "2026-12-05T10:00Z", "2026-12-05T10:00Z", "2026-12-05T10:00Z"),
    (
        "an hour the clocks skip",
        "2027-03-28T02:30",
        f"line 2: startsAt 2027-03-28T02:30 does not exist in {VENUE} (its clocks skip that hour)",
        None,
    ),
    (
        "a year too early",
        "1969-12-31T23:30",
        "line 2: startsAt 1969-12-31T23:30 is not between the years 1970 and 9000",
        None,
    ),
    (
        "not a time",
        "2026-02-30T10:00",
        # With the venue's zone the example is one of its wall times (an offset to copy could be
        # another zone's); without one, a time with its offset.
        "line 2: startsAt '2026-02-30T10:00' is not a time the API reads; write it as "
        f"2026-12-02 09:00 (on the clocks of {VENUE}), or 2026-12-02T08:00Z for UTC",
        "line 2: startsAt '2026-02-30T10:00' is not a time the API reads; write it as "
        "2026-12-02T09:00+01:00 (or 2026-12-02T08:00Z for UTC)",
    ),
]
