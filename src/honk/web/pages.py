"""A bare page for outcomes that happen outside the app's own pages (a used sign-in link)."""

from __future__ import annotations

from html import escape


def message(title: str, detail: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Honk</title></head>
<body style="font-family:system-ui,sans-serif;margin:1rem"><h1>{escape(title)}</h1><p>{escape(detail)}</p></body></html>"""
