"""Durable orchestration of a task on Temporal: one workflow per task, thin activities, pure policy."""
