"""Honk's ASGI web server: the HTTP API, server-sent events, previews and artifacts."""
