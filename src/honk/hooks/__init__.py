"""Forges' signed webhooks in: checked (signatures), read (github, gitlab: raw JSON → typed events),
stored once per delivery and handed on to a workflow (intake), never acted on inline."""
