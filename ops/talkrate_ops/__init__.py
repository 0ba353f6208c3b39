"""Operator commands for talkrate: rebuild the read model, inspect and redrive dead letters."""
