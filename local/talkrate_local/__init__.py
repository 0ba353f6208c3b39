"""talkrate's local runtime: runs template.yaml's functions, routes and triggers without Docker.

Kept free of imports: `python -m talkrate_local.worker` loads this package in every function process.
"""
