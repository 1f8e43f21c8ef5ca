"""Honk: a self-hosted background coding agent."""
