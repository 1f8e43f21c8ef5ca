"""A tiny playlist app: duration maths for the playlist page (standard library only)."""

from playlist.core import (
    average_duration,
    format_duration,
    longest_track,
    summary,
    total_duration,
)

__all__ = [
    "average_duration",
    "format_duration",
    "longest_track",
    "summary",
    "total_duration",
]
