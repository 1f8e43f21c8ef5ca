"""The fixtures of preview_world, for every test here."""

from preview_world import confined, egress_world, world

__all__ = ["confined", "egress_world", "world"]
