"""`python -m talkrate_local`: the emulator with talkrate's dev stack, in the foreground (Ctrl-C
stops it)."""

import os

from sam_emulator.cli import exit_at_once, main
from talkrate_local.broker import BrokerError
from talkrate_local.dev_secrets import parameter_defaults
from talkrate_local.embedded import ServiceError
from talkrate_local.stack import TalkrateStack, add_options

exit_at_once(
    main(
        prog="python -m talkrate_local",
        name="talkrate",
        add_options=add_options,
        dev_stack=lambda args: TalkrateStack.from_args(args, os.environ),
        parameter_defaults=lambda: parameter_defaults(os.environ),
        errors=(BrokerError, ServiceError),
    )
)
