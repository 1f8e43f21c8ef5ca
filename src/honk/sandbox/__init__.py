"""Bubblewrap around repo code and agent commands."""

from honk.sandbox.sandbox import Confined, Sandbox, SandboxConfig, SandboxUnavailable, Violation

__all__ = ["Confined", "Sandbox", "SandboxConfig", "SandboxUnavailable", "Violation"]
