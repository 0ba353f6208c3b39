"""`python -m sam_emulator`: the emulator in the foreground, without a dev stack (Ctrl-C stops it)."""

import sys

from sam_emulator.cli import main

sys.exit(main())
