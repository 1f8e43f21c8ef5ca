"""Duration maths for playlists.

A track is a dict like ``{"title": "Song", "artist": "Band", "seconds": 215}``;
a playlist is a dict like ``{"name": "Morning Run", "tracks": [track, ...]}``.
"""


def total_duration(tracks):
    """Total length of the tracks, in seconds."""
    return sum(track["seconds"] for track in tracks)


def average_duration(tracks):
    """Average track length, in seconds."""
    return total_duration(tracks) / len(tracks)


def longest_track(tracks):
    """The longest track."""
    return max(tracks, key=lambda track: track["seconds"])


def format_duration(seconds):
    """Format seconds as ``m:ss``, or ``h:mm:ss`` from an hour up."""
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def summary(playlist):
    """Everything the page shows about a playlist, ready to display."""
    tracks = playlist["tracks"]
    return {
        "name": playlist["name"],
        "count": len(tracks),
        "total": format_duration(total_duration(tracks)),
        "average": format_duration(average_duration(tracks)),
        "longest": longest_track(tracks)["title"],
    }
