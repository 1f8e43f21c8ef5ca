"""What "done" means for a repo: its `.honk.toml`, the checks inferred without one, and the
short failure summaries an agent is shown after a check fails."""
