"""talkrate: the command line for attendees, organisers, operators and developers."""
