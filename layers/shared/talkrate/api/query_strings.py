"""Query strings as the API reads and writes them: the names a raw one repeats, and links.

The two things the API's routes need from a query string, without urllib.parse: that module
imports ipaddress, and the pair cost a cold start 3.5 to 4.5 ms (a tenth of the Logger-only
baseline) for these two small jobs. Both follow urllib.parse exactly (its parse_qs with blank
values kept, its urlencode), as the unit tests check against it on generated text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# A run of percent escapes (decoded together: one character may take several bytes).
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# What urlencode writes as it is: letters, digits, "_.-~" (and a space, written as "+").
_UNSAFE = re.compile(r"[^A-Za-z0-9_.~ -]+")


def decoded(text: str) -> str:
    """A query string's name or value as text: "+" a space, escapes as UTF-8 (invalid bytes as
    U+FFFD), a "%" that starts no escape kept as it is."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    return _ESCAPES.sub(
        lambda run: bytes.fromhex(run[0].replace("%", "")).decode("utf-8", "replace"), text
    )


def repeated_names(raw: str) -> set[str]:
    """The names that appear more than once in a raw query string ("a=1&a=2&b" repeats a)."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for part in raw.split("&"):
        if part:
            name = decoded(part.split("=", 1)[0])
            (repeated if name in seen else seen).add(name)
    return repeated


def _escaped(text: str) -> str:
    return _UNSAFE.sub(
        lambda run: "".join(f"%{byte:02X}" for byte in run[0].encode("utf-8")), text
    ).replace(" ", "+")


def encoded(params: Mapping[str, object]) -> str:
    """A query string of these names and values (each value written with str())."""
    return "&".join(f"{_escaped(name)}={_escaped(str(value))}" for name, value in params.items())
