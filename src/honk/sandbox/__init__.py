"""Bubblewrap around repo code and agent commands."""

from honk.sandbox.sandbox import (
    Confined,
    Sandbox,
    SandboxConfig,
    SandboxUnavailable,
    Violation,
    process_limit_enforced,
)

__all__ = ["Confined", "Sandbox", "SandboxConfig", "SandboxUnavailable", "Violation", "process_limit_enforced"]
