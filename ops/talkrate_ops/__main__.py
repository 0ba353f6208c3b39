"""python -m talkrate_ops …: kept for existing scripts; the same as `talkrate ops …`, named as
typed in its help, its --version, its errors and their advice."""

import sys

import click

from talkrate_cli.commands.ops import ops
from talkrate_cli.main import (
    JSON_HELP,
    Session,
    TalkrateGroup,
    _with_context,
    main,
    version_option,
)

PROG_NAME = "python -m talkrate_ops"


@click.group(
    cls=TalkrateGroup,
    commands=ops.commands,
    help=ops.help,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--json", "as_json", is_flag=True, help=f"{JSON_HELP} Before or after the command.")
@version_option
@click.pass_context
def alias(ctx: click.Context, as_json: bool) -> None:
    # (no --api or --stack to refuse: the alias has none)
    ctx.obj = Session(None, None, None, as_json)


_with_context(alias)

# --json is talkrate's option, given before its command (`talkrate --json ops relay`): the
# alias takes it wherever it is given.
args = sys.argv[1:]
flags = ["--json"] if "--json" in args else []
sys.exit(main([*flags, *(arg for arg in args if arg != "--json")], alias, PROG_NAME))
