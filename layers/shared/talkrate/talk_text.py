"""The rules of a talk's texts that the API and the `talkrate` command both check (the command
checks a programme file before it sends a row): one home, importing nothing but `re`, so that
the command can use them without loading the API's models."""

from __future__ import annotations

import re

# Unicode's explicit direction controls (talkrate.requests.TALK_TEXT says why they are refused):
# each by its code point, with its Unicode name, as a refusal names it.
DIRECTION_CONTROLS = {
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
}
DIRECTION_CONTROL = re.compile(f"[{''.join(DIRECTION_CONTROLS)}]")

# Unicode's LINE SEPARATOR and PARAGRAPH SEPARATOR: line breaks as much as a newline is, refused
# in a talk's texts from 2026-12-07 (talkrate.requests.TALK_TEXT). Invisible in a spreadsheet's
# cell, so a refusal names the character and where it is.
LINE_SEPARATORS = {"\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}
LINE_SEPARATOR = re.compile(f"[{''.join(LINE_SEPARATORS)}]")


def line_separator(text: str) -> str | None:
    """The first line or paragraph separator the text holds, said as a programme file's check
    says it ("U+2028 LINE SEPARATOR (character 4), a line break: ..."; the first character is
    1), or None when it holds none. web/js/programme-file.js says the same."""
    found = LINE_SEPARATOR.search(text)
    if not found:
        return None
    char = found.group()
    return (
        f"U+{ord(char):04X} {LINE_SEPARATORS[char]} (character {found.start() + 1}), a line "
        "break: a talk's text is one line"
    )


# U+FEFF ZERO WIDTH NO-BREAK SPACE, the byte-order mark a paste from a file brings inside a text:
# invisible wherever it is shown, and of no use inside a text since Unicode gave U+2060 its one
# (a word joiner). A talk's texts drop it where they are taken (the API's talk model, the
# `talkrate` import; web/js/programme-file.js likewise), so that a talk saved with one before
# it was refused is cleaned at its next save instead of refused for a character nobody sees.
DROPPED = "\ufeff"


def without_dropped(text: str) -> str:
    """The text without the characters a talk's text drops (DROPPED)."""
    return text.replace(DROPPED, "")


# A talk's language: a BCP 47 tag (RFC 5646's well-formed syntax, ASCII only), set by an
# organiser rather than guessed from the title's script (Arabic's serves Persian and Urdu too);
# the pages put it on the title and the speakers as `lang`, which screen readers pick their
# voice by. Stricter than well-formed in one way: the language subtag has 2 or 3 letters (ISO
# 639), as every registered one does. The 4 to 8 letters the syntax keeps for later would
# take the name of a language ("Hebrew", "Farsi") for a tag, and no reader knows it.
LANGUAGE_TAG_MAX_LENGTH = 35  # language, script, region and a variant or an extension or two
LANGUAGE_TAG = re.compile(
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3})"  # language, up to three extended languages
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"  # variants
    r"(?:-[0-9A-WYZa-wyz](?:-[A-Za-z0-9]{2,8})+)*"  # extensions
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"  # private use
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+"  # private use alone
    # RFC 5646's irregular grandfathered tags (the regular ones fit the syntax above)
    r"|en-GB-oed|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)"
    r"|sgn-(?:BE-FR|BE-NL|CH-DE)",
    re.IGNORECASE | re.ASCII,
)
LANGUAGE_EXAMPLES = ("he", "ar", "fa", "en-GB", "pt-BR")
LANGUAGE_RULE = (
    "a BCP 47 language tag, such as " + ", ".join(LANGUAGE_EXAMPLES[:-1]) + f" or "
    f"{LANGUAGE_EXAMPLES[-1]} (the language's code, not its name)"
)


def language_tag(value: str) -> str:
    """A well-formed BCP 47 tag in the case the registry writes it (RFC 5646, 2.1.1: a
    region's letters upper case, a script's first letter, every other letter lower case):
    "EN-gb" -> "en-GB". ValueError for a text that is no tag (see LANGUAGE_TAG)."""
    if len(value) > LANGUAGE_TAG_MAX_LENGTH:
        raise ValueError(f"must be at most {LANGUAGE_TAG_MAX_LENGTH} characters: {LANGUAGE_RULE}")
    if not LANGUAGE_TAG.fullmatch(value):
        raise ValueError(f"must be {LANGUAGE_RULE}")
    subtags = value.lower().split("-")
    cased = subtags[:1]
    singleton = len(subtags[0]) == 1  # x-..., i-...: every subtag lower case
    for subtag in subtags[1:]:
        singleton = singleton or len(subtag) == 1
        if not singleton and len(subtag) == 2:
            subtag = subtag.upper()
        elif not singleton and len(subtag) == 4:
            subtag = subtag.capitalize()  # a script ("1996", a variant, starts with a digit)
        cased.append(subtag)
    return "-".join(cased)
