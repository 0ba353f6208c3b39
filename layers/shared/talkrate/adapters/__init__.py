"""One adapter per backend, each behind an interface of `talkrate.ports`."""
