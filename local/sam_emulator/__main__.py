"""`python -m sam_emulator`: the emulator in the foreground, without a dev stack (Ctrl-C stops it)."""

from sam_emulator.cli import exit_at_once, main

exit_at_once(main())
