"""python -m talkrate_ops …: kept for existing scripts; the same as `talkrate ops …`."""

import sys

from talkrate_cli.main import main

# --json is talkrate's option, given before its command (`talkrate --json ops relay`): the
# alias, which names no `talkrate`, takes it wherever it is given.
args = sys.argv[1:]
flags = ["--json"] if "--json" in args else []
sys.exit(main([*flags, "ops", *(arg for arg in args if arg != "--json")]))
