"""`python -m talkrate_local`: the local runtime in the foreground (Ctrl-C stops it)."""

import sys

from talkrate_local.runtime import main

sys.exit(main())
