"""Running previews: each task's new version served by its own server, in its sandbox, at its own origin."""
