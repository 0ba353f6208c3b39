"""talkrate: the shared package behind every function (models, service logic, adapters)."""
