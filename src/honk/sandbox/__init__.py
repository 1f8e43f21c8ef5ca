"""Bubblewrap around repo code and agents: the worker's `Launcher` (honk.protocols)."""

from honk.sandbox.sandbox import (
    Sandbox,
    SandboxConfig,
    SandboxLauncher,
    SandboxUnavailable,
    Violation,
    process_limit_enforced,
)

__all__ = ["Sandbox", "SandboxConfig", "SandboxLauncher", "SandboxUnavailable", "Violation", "process_limit_enforced"]
