"""talkrate's dev stack for the SAM emulator: embedded PostgreSQL, Redis and Kafka, the catalog
database and its dev talks, and `python -m talkrate_local` (the emulator with all of it)."""
