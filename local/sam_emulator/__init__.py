"""A Docker-free AWS SAM emulator: runs a template's functions, HTTP API routes, function URLs,
Kafka event source mappings and schedules locally, with a project's own backing services plugged
in through `sam_emulator.plugins`.

Kept free of imports: every function process loads this package.
"""
