"""The fixtures of deploy_world, for every test here."""

from deploy_world import fresh, inside, production, proxy, world

__all__ = ["fresh", "inside", "production", "proxy", "world"]
