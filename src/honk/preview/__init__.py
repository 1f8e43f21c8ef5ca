"""Previews of a task's new version: running servers, and before/after screenshots of them."""
