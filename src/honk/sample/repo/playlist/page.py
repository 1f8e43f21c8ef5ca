"""Render the playlist page: one self-contained HTML document (inline CSS, no external assets)."""

from html import escape

from playlist.core import format_duration, summary

STYLE = """
:root {
  --bg: #f6f5fb; --card: #ffffff; --text: #1d1b26; --muted: #6b6880;
  --accent: #6c4df4; --line: #e7e4f2;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #121018; --card: #1c1a25; --text: #ecebf3; --muted: #a09cb5;
    --accent: #a48bff; --line: #2c2938;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
main { max-width: 40rem; margin: 0 auto; padding: 2rem 1rem 3rem; }
h1 { margin: 0; font-size: 2rem; letter-spacing: -0.02em; }
h1 span { color: var(--accent); }
.lede { margin: 0.25rem 0 1.5rem; color: var(--muted); }
.playlist {
  background: var(--card); border: 1px solid var(--line); border-radius: 1rem;
  padding: 1.25rem; margin-bottom: 1.25rem; box-shadow: 0 1px 3px rgb(0 0 0 / 6%);
}
.playlist h2 { margin: 0; font-size: 1.25rem; }
.meta { margin: 0.125rem 0 0.75rem; color: var(--muted); font-size: 0.9rem; }
.tracks { list-style: none; margin: 0; padding: 0; counter-reset: track; }
.track {
  counter-increment: track; display: grid; align-items: baseline; gap: 0 0.75rem;
  grid-template-columns: 1.5rem 1fr auto; padding: 0.5rem 0; border-top: 1px solid var(--line);
}
.track::before { content: counter(track); color: var(--muted); font-size: 0.85rem; text-align: right; }
.title { font-weight: 600; }
.artist { grid-column: 2; color: var(--muted); font-size: 0.9rem; }
.time { grid-column: 3; grid-row: 1; font-variant-numeric: tabular-nums; color: var(--muted); }
.longest { margin: 0.75rem 0 0; font-size: 0.9rem; color: var(--muted); }
.longest strong { color: var(--accent); }
.empty { margin: 0; padding: 1rem; text-align: center; color: var(--muted); font-style: italic;
  border: 1px dashed var(--line); border-radius: 0.75rem; }
footer { color: var(--muted); font-size: 0.8rem; text-align: center; }
"""


def plural(count, word):
    """``1 track``, ``2 tracks``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def render_track(track):
    """One track as a list item."""
    return (
        '<li class="track">'
        f'<span class="title">{escape(track["title"])}</span>'
        f'<span class="artist">{escape(track["artist"])}</span>'
        f'<span class="time">{format_duration(track["seconds"])}</span>'
        "</li>"
    )


def render_playlist(playlist):
    """One playlist as a card: name, summary line and tracks."""
    info = summary(playlist)
    meta = f'{plural(info["count"], "track")} · {info["total"]} total · {info["average"]} average'
    rows = "\n".join(render_track(track) for track in playlist["tracks"])
    body = (
        f'<ol class="tracks">\n{rows}\n</ol>\n'
        f'<p class="longest">Longest: <strong>{escape(info["longest"])}</strong></p>'
    )
    return (
        '<section class="playlist">\n'
        f"<h2>{escape(info['name'])}</h2>\n"
        f'<p class="meta">{meta}</p>\n'
        f"{body}\n"
        "</section>"
    )


def render_page(playlists):
    """The whole page for a list of playlists."""
    cards = "\n".join(render_playlist(playlist) for playlist in playlists)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Playlists</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>Play<span>lists</span></h1>
<p class="lede">{plural(len(playlists), "playlist")}, built with nothing but the Python standard library.</p>
{cards}
<footer>A Honk sample app &middot; built by <code>python3 build.py</code></footer>
</main>
</body>
</html>
"""
