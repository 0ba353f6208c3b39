"""talkrate simulate: a conference in fast-forward against the API, and its verification."""
