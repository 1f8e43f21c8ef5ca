"""The Slack front door: mentions start tasks, thread replies steer them, buttons merge them."""
