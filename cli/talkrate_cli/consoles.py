"""The two rich consoles the command prints through, stdout's and stderr's: reached as
`output.console` and `output.errors`, which load this module (and rich) when first asked."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from talkrate_cli.output import visible

# Piped (to grep, awk, a file): wide enough that a row of a table, or a line of advice, is one
# line whatever its titles, never folded onto the next.
PIPED_WIDTH = 4096


def _width(stream: object) -> int | None:
    """A terminal's own width; PIPED_WIDTH when piped (one record a line for scripts)."""
    isatty = getattr(stream, "isatty", None)
    return None if callable(isatty) and isatty() else PIPED_WIDTH


class TalkrateConsole(Console):
    """rich's Console, leaving a closed pipe to the command line (exit 141 for every command,
    as for `admin export - | head`) instead of exiting 1 itself, and showing direction controls
    (`visible`) in whatever it prints."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError

    def render_str(self, text: str, **options: Any) -> Text:
        """Every string a table's cell, a view or a line holds becomes rich's Text here, measured
        and drawn as `visible` shows it (a table's columns stay aligned). The API's text is
        printed as strings for that: never as a Text of its own (`Styled` styles it)."""
        return super().render_str(visible(text), **options)


# No markup and no emoji codes: what is printed comes from the API (titles, speakers, problems),
# and a title such as "Kubernetes [/etc]" is text, not a closing tag, as ":fire: talks" is text,
# not a flame. talkrate's own styles are Text objects.
console = TalkrateConsole(highlight=False, markup=False, emoji=False, width=_width(sys.stdout))
errors = TalkrateConsole(
    stderr=True,
    highlight=False,
    markup=False,
    emoji=False,
    soft_wrap=True,
    width=_width(sys.stderr),
)
