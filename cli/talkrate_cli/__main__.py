"""python -m talkrate_cli: the same as the `talkrate` command."""

from talkrate_cli.main import run

run()
