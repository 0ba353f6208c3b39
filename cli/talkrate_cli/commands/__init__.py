"""The subcommands, one module per area."""
