"""Mirrors, per-task worktrees and the processes that run inside them."""
