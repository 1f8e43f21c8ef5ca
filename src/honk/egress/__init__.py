"""Honk's egress proxy: the one way out of every sandbox, by policy per task and phase."""
