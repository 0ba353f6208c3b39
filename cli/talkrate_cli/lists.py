"""A talk's speakers listed the way its language writes a list, as the pages list them.

The pages use Intl.ListFormat (conjunction, narrow) in the talk's language, and their own English
("A, B and C") where the talk is in English, has no language, or one the browser has no list
for or refuses (web/js/dom.js `speakerParts`). Python has no Intl: `list_patterns` holds the
patterns the pages use in every language tag Node's Intl knows, generated from dom.js by
`make list-patterns`, and `patterns` finds a talk's tag among them as Intl does.
"""

from __future__ import annotations

from collections.abc import Sequence

from talkrate_cli.list_patterns import ALIASES, HEBREW, LISTS

# A list's patterns ({0} the list so far, {1} the next name): of two names; of the first two of
# a longer list; of each next one; of its last.
Patterns = tuple[str, str, str, str]
ENGLISH: Patterns = ("{0} and {1}", "{0}, {1}", "{0}, {1}", "{0} and {1}")
# Two patterns ICU changes by the name after them: Spanish's "y" is "e" before a name starting
# "i", or "hi" but not "hia" or "hie" (its sound); Hebrew's vav (U+05D5), joined to the name,
# takes a hyphen before one not starting with a Hebrew letter.
SPANISH_Y, SPANISH_E = "{0} y {1}", "{0} e {1}"
HEBREW_VAV, HEBREW_VAV_DASH = "{0} \u05d5{1}", "{0} \u05d5-{1}"


def _canonical(tag: str) -> list[str]:
    """The language, script, region and variants of a tag as Intl makes it canonical (lower
    case; an alias such as `iw` replaced by its tag), without extensions or private use; []
    where Intl refuses the tag (private use alone, a grandfathered `i-…`, an extended language
    such as `zh-yue`, a variant twice)."""
    subtags = tag.lower().split("-")
    subtags = subtags[: next((i for i, s in enumerate(subtags) if len(s) == 1), len(subtags))]
    if not subtags or not 2 <= len(subtags[0]) <= 3:
        return []
    if len(subtags) > 1 and len(subtags[1]) == 3 and subtags[1].isalpha():
        return []
    language, script, region, variants = _split(subtags)
    if len(set(variants)) < len(variants):
        return []
    if language in ALIASES:
        # (its script and region where the tag has none: `sh` is sr-Latn and `sh-RS`
        # sr-Latn-RS; `cnr` is sr-ME, and `cnr-DE` sr-DE)
        language, alias_script, alias_region, _ = _split(ALIASES[language].split("-"))
        script, region = script or alias_script, region or alias_region
    return [language, *(s for s in (script, region) if s), *variants]


def _split(subtags: list[str]) -> tuple[str, str | None, str | None, list[str]]:
    language, rest = subtags[0], subtags[1:]
    script = rest.pop(0) if rest and len(rest[0]) == 4 and rest[0].isalpha() else None
    region = rest.pop(0) if rest and len(rest[0]) in (2, 3) else None
    return language, script, region, rest


def patterns(language: str | None) -> Patterns:
    """The patterns the pages list a talk's speakers with for a talk in `language` (a BCP 47
    tag, or None): as Intl finds a tag's, the canonical tag's, else the tag's a subtag
    shorter, down to its language; English's where none is found."""
    canonical = _canonical(language or "")
    for length in range(len(canonical), 0, -1):
        key = "-".join(canonical[:length])
        if key in LISTS:
            return LISTS[key] or ENGLISH
    return ENGLISH


def _hebrew(name: str) -> bool:
    return any(first <= ord(name[0]) <= last for first, last in HEBREW)


def _before(pattern: str, name: str, language: str) -> str:
    """The pattern, or the one ICU writes instead of it before `name` (SPANISH_Y, HEBREW_VAV)."""
    if not name:
        return pattern
    if language == "es" and pattern == SPANISH_Y:
        sound_i = name[0] in "iI" or (
            name[:2] in ("hi", "hI", "Hi", "HI") and name[2:3] not in ("a", "A", "e", "E")
        )
        return SPANISH_E if sound_i else pattern
    if language == "he" and pattern == HEBREW_VAV and not _hebrew(name):
        return HEBREW_VAV_DASH
    return pattern


def _join(pattern: str, listed: str, name: str) -> str:
    before, rest = pattern.split("{0}")
    between, after = rest.split("{1}")
    return before + listed + between + name + after


def listed_in(names: Sequence[str], language: str | None) -> str:
    """The names as one list the way a talk in `language` lists them on the pages ("A, B und
    C" in German, "A وB وC" in Arabic, "A, B and C" in English or no language)."""
    if len(names) < 2:
        return "".join(names)
    two, start, middle, end = patterns(language)
    code = (_canonical(language or "") or [""])[0]
    if len(names) == 2:
        return _join(_before(two, names[1], code), names[0], names[1])
    text = _join(start, names[0], names[1])
    for name in names[2:-1]:
        text = _join(middle, text, name)
    return _join(_before(end, names[-1], code), text, names[-1])
