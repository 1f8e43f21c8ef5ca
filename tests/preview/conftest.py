"""The fixtures of preview_world, for every test here."""

from preview_world import confined, world

__all__ = ["confined", "world"]
