"""Former home of the operator commands, now `talkrate ops` (talkrate_cli); kept as an alias."""
