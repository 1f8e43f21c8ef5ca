"""Tests for the playlist app. Run with: python3 -m unittest discover -s tests -v"""

import unittest

from playlist import average_duration, format_duration, longest_track, summary, total_duration
from playlist.page import render_page

TRACKS = [
    {"title": "First Light", "artist": "The Early Birds", "seconds": 200},
    {"title": "Pace Yourself", "artist": "Mile Markers", "seconds": 100},
    {"title": "Cool Down", "artist": "Low Tide", "seconds": 301},
]
MORNING_RUN = {"name": "Morning Run", "tracks": TRACKS}


class DurationTests(unittest.TestCase):
    def test_total_duration_adds_up_seconds(self):
        self.assertEqual(total_duration(TRACKS), 601)

    def test_average_duration(self):
        self.assertAlmostEqual(average_duration(TRACKS), 601 / 3)

    def test_longest_track(self):
        self.assertEqual(longest_track(TRACKS)["title"], "Cool Down")

    def test_format_duration_minutes_and_seconds(self):
        self.assertEqual(format_duration(0), "0:00")
        self.assertEqual(format_duration(59), "0:59")
        self.assertEqual(format_duration(65), "1:05")
        self.assertEqual(format_duration(200.5), "3:20")

    def test_format_duration_hours(self):
        self.assertEqual(format_duration(3725), "1:02:05")


class SummaryTests(unittest.TestCase):
    def test_summary(self):
        self.assertEqual(
            summary(MORNING_RUN),
            {"name": "Morning Run", "count": 3, "total": "10:01", "average": "3:20", "longest": "Cool Down"},
        )


class PageTests(unittest.TestCase):
    def test_page_lists_playlists_and_tracks(self):
        page = render_page([MORNING_RUN])
        self.assertIn("<h2>Morning Run</h2>", page)
        self.assertIn("3 tracks · 10:01 total · 3:20 average", page)
        for track in TRACKS:
            self.assertIn(track["title"], page)

    def test_page_escapes_html(self):
        playlist = {"name": "Rock & Roll", "tracks": [{"title": "<Loud>", "artist": "A&B", "seconds": 90}]}
        page = render_page([playlist])
        self.assertIn("Rock &amp; Roll", page)
        self.assertIn("&lt;Loud&gt;", page)
        self.assertNotIn("<Loud>", page)


if __name__ == "__main__":
    unittest.main()
