"""Builds the new version of the app, stores its artifacts and publishes its preview."""
