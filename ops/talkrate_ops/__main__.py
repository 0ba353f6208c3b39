"""python -m talkrate_ops …: kept for existing scripts; the same as `talkrate ops …`."""

import sys

from talkrate_cli.main import main

sys.exit(main(["ops", *sys.argv[1:]]))
